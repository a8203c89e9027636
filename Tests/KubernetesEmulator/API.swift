import Foundation

struct APIRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    /// Lower-cased header names.
    var headers: [String: String]
    var body: [UInt8]

    /// Who sent it, once authenticated.
    var identity = Identity(user: "")

    var wantsTable: Bool { (headers["accept"] ?? "").contains("as=Table") }
    var isDryRun: Bool { query["dryRun"] == "All" }
}

enum APIResponse: Error, Sendable, CustomStringConvertible {
    case json(Int, JSON, [String: String])
    case text(Int, String)
    /// A watch stream; the id names the registered watcher (nil when the stream carries only an ERROR).
    case watch(AsyncStream<String>, UUID?)
    case hang
    case followLog(path: String, pod: ObjectRef, container: String, prefix: String)

    var code: Int {
        switch self {
        case .json(let code, _, _), .text(let code, _): code
        case .watch, .followLog: 200
        case .hang: 0
        }
    }

    var description: String {
        switch self {
        case .json(let code, let body, _): "\(code) \(body.serialized())"
        case .text(let code, let body): "\(code) \(body)"
        case .watch: "watch"
        case .hang: "hang"
        case .followLog: "follow log"
        }
    }

    static func status(_ code: Int, _ reason: String, _ message: String, details: JSON = .null,
                       headers: [String: String] = [:]) -> APIResponse {
        .json(code, KubernetesEmulator.statusObject(code: code, reason: reason, message: message, details: details), headers)
    }

    static func notFound(_ resource: Resource, _ name: String) -> APIResponse {
        .status(404, "NotFound", "\(resource.qualifiedName) \(quoted(name)) not found", details: details(resource, name))
    }

    static func details(_ resource: Resource, _ name: String?) -> JSON {
        var details: JSON = ["kind": .string(resource.rawValue)]
        if let name { details["name"] = .string(name) }
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        return details
    }

    static func invalid(_ resource: Resource, _ name: String, _ causes: [Cause]) -> APIResponse {
        let kind = resource.group.isEmpty ? resource.kind : "\(resource.kind).\(resource.group)"
        let list = causes.count == 1 ? causes[0].summary : "[" + causes.map(\.summary).joined(separator: ", ") + "]"
        var details: JSON = ["name": .string(name), "kind": .string(resource.kind), "causes": .array(causes.map(\.json))]
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        return .status(422, "Invalid", "\(kind) \(quoted(name)) is invalid: \(list)", details: details)
    }
}

extension KubernetesEmulator {
    static func statusObject(code: Int, reason: String, message: String, details: JSON = .null) -> JSON {
        var status: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if !details.isNull { status["details"] = details }
        if reason.isEmpty { status.removeValue(forKey: "reason") }
        return status
    }

    static let reasons: [Int: String] = [
        400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
        406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
        422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
    ]

    // MARK: Entry point

    /// Answers one request and records it in the request log.
    func handle(_ request: APIRequest) -> APIResponse {
        let identity = authenticate(request)
        checkedPermission = ""
        let response = route(request, identity: identity)
        settle()
        logEntries.append(LoggedRequest(method: request.method, path: request.path, query: request.query, status: response.code,
                                        user: identity?.user ?? "", permission: checkedPermission,
                                        contentType: (request.headers["content-type"] ?? "").split(separator: ";").first
                                            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""))
        return response
    }

    private func route(_ request: APIRequest, identity: Identity?) -> APIResponse {
        if stopped { return .status(503, "ServiceUnavailable", "the emulator is stopping") }
        guard let identity else {
            return .status(401, "Unauthorized", "Unauthorized")
        }
        var request = request
        request.identity = identity
        let target = "\(request.method) \(request.path)"
        if let index = injections.firstIndex(where: { $0.remaining > 0 && ($0.matching.map { target.contains($0) } ?? true) }) {
            injections[index].remaining -= 1
            let status = injections[index].status
            if injections[index].remaining == 0 { injections.remove(at: index) }
            if status == 0 { return .hang }
            let reason = Self.reasons[status] ?? (status >= 500 ? "InternalError" : "BadRequest")
            var details: JSON = .null
            var headers: [String: String] = [:]
            if status == 429 || status == 503 {
                details = ["retryAfterSeconds": 1]
                headers["Retry-After"] = "1"
            }
            return .status(status, reason, "injected failure (\(status) \(reason)) for \(target)", details: details, headers: headers)
        }
        let segments = request.path.split(separator: "/").map { Query.decode(String($0)) }
        switch segments.first {
        case nil:
            return .json(200, ["paths": .array(Discovery.rootPaths.map { .string($0) })], [:])
        case "version":
            return .json(200, Discovery.version, [:])
        case "healthz", "livez", "readyz":
            return .text(200, "ok")
        case "openapi":
            return Discovery.openAPI(Array(segments.dropFirst()))
        case "api":
            if segments.count == 1 { return .json(200, Discovery.apiVersions(port: port), [:]) }
            guard segments[1] == "v1" else { return Self.unknownPath }
            if segments.count == 2 { return .json(200, Discovery.resourceList(group: ""), [:]) }
            return resourceRoute(request, group: "", rest: Array(segments.dropFirst(2)))
        case "apis":
            if segments.count == 1 { return .json(200, Discovery.groupList, [:]) }
            guard let group = Discovery.groups.first(where: { $0 == segments[1] }) else { return Self.unknownPath }
            if segments.count == 2 { return .json(200, Discovery.group(group), [:]) }
            guard segments[2] == "v1" else { return Self.unknownPath }
            if segments.count == 3 { return .json(200, Discovery.resourceList(group: group), [:]) }
            return resourceRoute(request, group: group, rest: Array(segments.dropFirst(3)))
        default:
            return Self.unknownPath
        }
    }

    static let unknownPath = APIResponse.status(404, "NotFound", "the server could not find the requested resource", details: [:])
    static let methodNotAllowed = APIResponse.status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", details: [:])

    private func forbidden(_ identity: Identity, verb: String, group: String, resource: String, subresource: String, namespace: String, name: String?) -> APIResponse? {
        checkedPermission = "\(verb) \(subresource.isEmpty ? resource : "\(resource)/\(subresource)")\(group.isEmpty ? "" : ".\(group)")"
        guard !permissions(of: identity).allows(verb: verb, group: group, resource: resource, subresource: subresource, namespace: namespace) else { return nil }
        let qualified = group.isEmpty ? resource : "\(resource).\(group)"
        let full = subresource.isEmpty ? resource : "\(resource)/\(subresource)"
        let subject = name.map { "\(qualified) \(quoted($0))" } ?? qualified
        let scope = namespace.isEmpty ? "at the cluster scope" : "in the namespace \(quoted(namespace))"
        var details: JSON = ["kind": .string(resource)]
        if let name { details["name"] = .string(name) }
        if !group.isEmpty { details["group"] = .string(group) }
        return .status(403, "Forbidden",
                       "\(subject) is forbidden: User \(quoted(identity.user)) cannot \(verb) resource \(quoted(full)) in API group \(quoted(group)) \(scope)",
                       details: details)
    }

    private func resourceRoute(_ request: APIRequest, group: String, rest: [String]) -> APIResponse {
        let method = request.method
        if group == "authorization.k8s.io", rest == ["selfsubjectaccessreviews"] {
            return method == "POST" ? selfSubjectAccessReview(request) : Self.methodNotAllowed
        }
        if group.isEmpty, rest.first == "namespaces", rest.count <= 2 {
            guard method == "GET" else { return Self.methodNotAllowed }
            let name = rest.count == 2 ? rest[1] : nil
            let verb = name == nil ? "list" : "get"
            if let denied = forbidden(request.identity, verb: verb, group: "", resource: "namespaces", subresource: "", namespace: "", name: name) { return denied }
            if let name {
                guard let namespace = namespaces[name] else {
                    return .status(404, "NotFound", "namespaces \(quoted(name)) not found", details: ["name": .string(name), "kind": "namespaces"])
                }
                return .json(200, namespace, [:])
            }
            let labels: LabelSelector
            do throws(LabelSelector.ParseError) {
                labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
            } catch {
                return .status(400, "BadRequest", error.message)
            }
            let items = namespaces.keys.sorted().filter { labels.matches(namespaces[$0]!["metadata"]["labels"].stringMap) }.map { key -> JSON in
                var item = namespaces[key]!
                item.removeValue(forKey: "kind")
                item.removeValue(forKey: "apiVersion")
                return item
            }
            return .json(200, ["kind": "NamespaceList", "apiVersion": "v1", "metadata": ["resourceVersion": .string(String(revision))], "items": .array(items)], [:])
        }
        var namespace: String?
        var tail = rest
        if rest.first == "namespaces", rest.count >= 3 {
            namespace = rest[1]
            tail = Array(rest.dropFirst(2))
        }
        guard let plural = tail.first, let resource = Resource.find(group: group, plural: plural) else { return Self.unknownPath }
        let name = tail.count >= 2 ? tail[1] : nil
        let subresource = tail.count >= 3 ? tail[2] : ""
        guard tail.count <= 3 else { return Self.unknownPath }
        // A cluster-scoped resource has no namespaced URLs; a namespaced one no un-namespaced URL for one object.
        if resource.isNamespaced ? (namespace == nil && name != nil) : namespace != nil { return Self.unknownPath }
        if !resource.isNamespaced { namespace = "" }
        let isWatch = ["true", "1"].contains(request.query["watch"] ?? "")
        let verb: String
        switch (method, name, subresource) {
        case ("POST", .some, "eviction") where resource == .pods: verb = "create"
        case ("GET", nil, _): verb = isWatch ? "watch" : "list"
        case ("POST", nil, _): verb = "create"
        case ("DELETE", nil, _): verb = "deletecollection"
        case ("GET", _, _): verb = "get"
        case ("PUT", _, _): verb = "update"
        case ("PATCH", _, _): verb = "patch"
        case ("DELETE", _, _): verb = "delete"
        default: return Self.methodNotAllowed
        }
        if !subresource.isEmpty {
            let allowed = (resource == .pods && subresource == "log" && verb == "get")
                || (resource == .pods && subresource == "eviction" && verb == "create")
                || (resource.hasStatusSubresource && subresource == "status" && ["get", "update", "patch"].contains(verb))
                || (resource.hasScaleSubresource && subresource == "scale" && ["get", "update", "patch"].contains(verb))
            guard allowed else {
                let known = ["log", "status", "eviction"].contains(subresource) || (subresource == "scale" && resource.hasScaleSubresource)
                return known ? Self.methodNotAllowed : Self.unknownPath
            }
        }
        if namespace == nil, verb != "list", verb != "watch" { return Self.methodNotAllowed }
        if let denied = forbidden(request.identity, verb: verb, group: group, resource: resource.rawValue, subresource: subresource,
                                  namespace: namespace ?? "", name: name) {
            return denied
        }
        if subresource == "scale" { return scale(resource, namespace: namespace!, name: name!, verb: verb, request: request) }
        switch verb {
        case "list": return list(resource, namespace: namespace, request: request)
        case "watch": return openWatch(resource, namespace: namespace, query: request.query)
        case "create":
            if subresource == "eviction" { return evict(namespace: namespace!, name: name!, request: request) }
            return create(resource, namespace: namespace!, body: request.body, query: request.query)
        case "deletecollection": return deleteCollection(resource, namespace: namespace!, request: request)
        case "get":
            if subresource == "log" { return podLog(namespace: namespace!, name: name!, query: request.query) }
            guard let object = stored(resource, namespace!, name!) else { return .notFound(resource, name!) }
            return request.wantsTable ? .json(200, Discovery.table(resource, [object], revision: revision), [:]) : .json(200, object, [:])
        case "update": return update(resource, namespace: namespace!, name: name!, request: request, subresource: subresource)
        case "patch": return patch(resource, namespace: namespace!, name: name!, request: request, subresource: subresource)
        default: return delete(resource, namespace: namespace!, name: name!, request: request)
        }
    }

    // MARK: Read

    private func list(_ resource: Resource, namespace: String?, request: APIRequest) -> APIResponse {
        let labels: LabelSelector
        let fields: FieldSelector
        do throws(LabelSelector.ParseError) {
            labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
            fields = try FieldSelector(parsing: request.query["fieldSelector"] ?? "", resource: resource)
        } catch {
            return .status(400, "BadRequest", error.message)
        }
        var matching = allStored(resource, namespace: namespace).filter {
            labels.matches($0.1["metadata"]["labels"].stringMap) && fields.matches($0.1)
        }
        var metadata: JSON = ["resourceVersion": .string(String(revision))]
        if let token = request.query["continue"], !token.isEmpty {
            guard let decoded = Data(base64Encoded: token).flatMap({ String(data: $0, encoding: .utf8) }) else {
                return .status(400, "BadRequest", "continue key is not valid: illegal base64 data")
            }
            matching = matching.filter { "\($0.0)/\($0.1["metadata"]["name"].string ?? "")" > decoded }
        }
        if let limit = request.query["limit"].flatMap(Int.init), limit > 0, matching.count > limit {
            let last = matching[limit - 1]
            let key = "\(last.0)/\(last.1["metadata"]["name"].string ?? "")"
            metadata["continue"] = .string(Data(key.utf8).base64EncodedString())
            metadata["remainingItemCount"] = .int(Int64(matching.count - limit))
            matching = Array(matching.prefix(limit))
        }
        let objects = matching.map(\.1)
        if request.wantsTable { return .json(200, Discovery.table(resource, objects, revision: revision, metadata: metadata), [:]) }
        return .json(200, listObject(resource, objects, metadata: metadata), [:])
    }

    func listObject(_ resource: Resource, _ objects: [JSON], metadata: JSON? = nil) -> JSON {
        let items = objects.map { object -> JSON in
            var item = object
            item.removeValue(forKey: "kind")
            item.removeValue(forKey: "apiVersion")
            return item
        }
        return ["kind": .string(resource.listKind), "apiVersion": .string(resource.apiVersion),
                "metadata": metadata ?? ["resourceVersion": .string(String(revision))], "items": .array(items)]
    }

    // MARK: Create

    func parseBody(_ body: [UInt8]) -> Result<JSON, APIResponse> {
        do {
            let object = try JSON.parse(body)
            guard case .object = object else {
                return .failure(.status(400, "BadRequest", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"))
            }
            return .success(object)
        } catch {
            return .failure(.status(400, "BadRequest", "error decoding request body: \(error)"))
        }
    }

    private func checkTypeMeta(_ object: JSON, _ resource: Resource) -> APIResponse? {
        if let kind = object["kind"].string, !kind.isEmpty, kind != resource.kind {
            return .status(400, "BadRequest", "the API version in the data (\(object["apiVersion"].string ?? "")) does not match the expected API version (\(resource.apiVersion))")
        }
        if let apiVersion = object["apiVersion"].string, !apiVersion.isEmpty, apiVersion != resource.apiVersion {
            return .status(400, "BadRequest", "the API version in the data (\(apiVersion)) does not match the expected API version (\(resource.apiVersion))")
        }
        return nil
    }

    func create(_ resource: Resource, namespace: String, body: [UInt8], query: [String: String]) -> APIResponse {
        var object: JSON
        switch parseBody(body) {
        case .failure(let response): return response
        case .success(let parsed): object = parsed
        }
        if let mismatch = checkTypeMeta(object, resource) { return mismatch }
        if resource.isNamespaced, let bodyNamespace = object["metadata"]["namespace"].string, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            return .status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        }
        guard namespaces[namespace] != nil || !resource.isNamespaced else {
            return .status(404, "NotFound", "namespaces \(quoted(namespace)) not found", details: ["name": .string(namespace), "kind": "namespaces"])
        }
        object["kind"] = .string(resource.kind)
        object["apiVersion"] = .string(resource.apiVersion)
        let (unknownFields, warnings) = Objects.pruneUnknownFields(resource, &object, directive: query["fieldValidation"])
        if let unknownFields { return unknownFields }
        let headers = warnings.isEmpty ? [:] : ["Warning": warnings.joined(separator: ", ")]
        var metadata = object["metadata"].object ?? [:]
        if (metadata["name"]?.string ?? "").isEmpty, let prefix = metadata["generateName"]?.string, !prefix.isEmpty {
            metadata["name"] = .string(Names.generate(from: prefix))
        }
        let uid = UUID().uuidString.lowercased()
        if resource.isNamespaced { metadata["namespace"] = .string(namespace) } else { metadata.removeValue(forKey: "namespace") }
        metadata["uid"] = .string(uid)
        metadata["creationTimestamp"] = .string(Timestamp.rfc3339())
        for key in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"] {
            metadata.removeValue(forKey: key)
        }
        if resource.tracksGeneration || resource == .pods { metadata["generation"] = 1 }
        object["metadata"] = .object(metadata)
        let name = metadata["name"]?.string ?? ""
        if resource == .secrets, let failure = normalizeSecret(&object) { return failure }
        if let failure = Objects.checkMicroTimes(resource, object) { return failure }
        switch resource {
        case .jobs:
            object["status"] = [:]
            if object["spec"]["manualSelector"].bool != true {
                object["spec"]["selector"] = ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]]
            }
            var labels = object["spec"]["template"]["metadata"]["labels"]
            labels["batch.kubernetes.io/controller-uid"] = .string(uid)
            labels["batch.kubernetes.io/job-name"] = .string(name)
            labels["controller-uid"] = .string(uid)
            labels["job-name"] = .string(name)
            object["spec"]["template"]["metadata"]["labels"] = labels
        case .pods:
            object["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
        case .deployments:
            object["status"] = [:]
        case .podDisruptionBudgets:
            object["status"] = Disruption.emptyStatus
        case .replicaSets, .statefulSets:
            object["status"] = ["replicas": 0]
        case .daemonSets:
            object["status"] = ["currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0]
        default:
            break
        }
        Objects.applyDefaults(resource, &object)
        let causes = Objects.validate(resource, object)
        if !causes.isEmpty { return .invalid(resource, name, causes) }
        if resource == .services { allocateClusterIP(&object) }
        if stored(resource, namespace, name) != nil {
            return .status(409, "AlreadyExists", "\(resource.qualifiedName) \(quoted(name)) already exists",
                           details: APIResponse.details(resource, name))
        }
        if query["dryRun"] == "All" { return .json(201, object, headers) }
        return .json(201, storeCreate(resource, namespace, object), headers)
    }

    /// Secret `stringData` merges into `data` (base64); `data` must be valid base64.
    private func normalizeSecret(_ object: inout JSON) -> APIResponse? {
        var data = object["data"].object ?? [:]
        for (key, value) in data {
            guard let text = value.string, Data(base64Encoded: text) != nil else {
                return .status(400, "BadRequest", "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0 (key \(quoted(key)))")
            }
        }
        for (key, value) in object["stringData"].stringMap {
            data[key] = .string(Data(value.utf8).base64EncodedString())
        }
        object.removeValue(forKey: "stringData")
        if !data.isEmpty || !object["data"].isNull { object["data"] = .object(data) }
        return nil
    }

    // MARK: Update and patch

    private func update(_ resource: Resource, namespace: String, name: String, request: APIRequest, subresource: String) -> APIResponse {
        var object: JSON
        switch parseBody(request.body) {
        case .failure(let response): return response
        case .success(let parsed): object = parsed
        }
        if let mismatch = checkTypeMeta(object, resource) { return mismatch }
        if let bodyName = object["metadata"]["name"].string, bodyName != name {
            return .status(400, "BadRequest", "the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if resource.isNamespaced, let bodyNamespace = object["metadata"]["namespace"].string, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            return .status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        }
        return replace(resource, namespace: namespace, name: name, with: object, subresource: subresource, request: request)
    }

    private func patch(_ resource: Resource, namespace: String, name: String, request: APIRequest, subresource: String) -> APIResponse {
        guard let existing = stored(resource, namespace, name) else { return .notFound(resource, name) }
        let contentType = (request.headers["content-type"] ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        let patchDocument: JSON
        do {
            patchDocument = try JSON.parse(request.body)
        } catch {
            return .status(400, "BadRequest", "error decoding patch: \(error)")
        }
        var patched: JSON
        switch contentType {
        case "application/merge-patch+json":
            patched = Patch.merge(existing, patchDocument)
        case "application/strategic-merge-patch+json":
            patched = Patch.strategicMerge(existing, patchDocument)
        case "application/json-patch+json":
            do throws(Patch.Failure) {
                patched = try Patch.jsonPatch(existing, patchDocument)
            } catch {
                return error.invalid ? .status(422, "Invalid", error.message) : .status(400, "BadRequest", error.message)
            }
        default:
            return .status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
        }
        if patched["metadata"]["name"].string != name {
            return .status(400, "BadRequest", "the name of the object (\(patched["metadata"]["name"].string ?? "")) does not match the name on the URL (\(name))")
        }
        return replace(resource, namespace: namespace, name: name, with: patched, subresource: subresource, request: request)
    }

    private func replace(_ resource: Resource, namespace: String, name: String, with body: JSON, subresource: String, request: APIRequest) -> APIResponse {
        guard let existing = stored(resource, namespace, name) else { return .notFound(resource, name) }
        let requestedVersion = body["metadata"]["resourceVersion"].string ?? ""
        if !requestedVersion.isEmpty, requestedVersion != existing["metadata"]["resourceVersion"].string {
            return .status(409, "Conflict",
                           "Operation cannot be fulfilled on \(resource.qualifiedName) \(quoted(name)): the object has been modified; please apply your changes to the latest version and try again",
                           details: APIResponse.details(resource, name))
        }
        var object = body
        object["kind"] = .string(resource.kind)
        object["apiVersion"] = .string(resource.apiVersion)
        let (unknownFields, warnings) = Objects.pruneUnknownFields(resource, &object, directive: request.query["fieldValidation"])
        if let unknownFields { return unknownFields }
        let headers = warnings.isEmpty ? [:] : ["Warning": warnings.joined(separator: ", ")]
        if subresource == "status" {
            var updated = existing
            updated["status"] = body["status"]
            object = updated
        } else if resource.hasStatusSubresource {
            object["status"] = existing["status"]
        }
        var metadata = object["metadata"].object ?? [:]
        for key in ["uid", "creationTimestamp", "namespace", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            let value = existing["metadata"][key]
            if !value.isNull {
                metadata[key] = value
            } else {
                metadata.removeValue(forKey: key)
            }
        }
        metadata["name"] = .string(name)
        object["metadata"] = .object(metadata)
        if resource == .secrets, let failure = normalizeSecret(&object) { return failure }
        if let failure = Objects.checkMicroTimes(resource, object) { return failure }
        if resource == .services { Self.keepClusterIP(&object, from: existing) }
        Objects.applyDefaults(resource, &object)
        let causes = Objects.validate(resource, object) + Objects.validateUpdate(resource, old: existing, new: object)
        if !causes.isEmpty { return .invalid(resource, name, causes) }
        if request.isDryRun { return .json(200, object, headers) }
        let stored = storeUpdate(resource, namespace, object)
        if resource == .jobs { scheduleTTLIfFinished(namespace, name) }
        return .json(200, stored, headers)
    }

    // MARK: Delete

    struct DeleteOptions {
        var policy: Propagation?
        var grace: Int?
        var dryRun = false
        var preconditionUID: String?
        var preconditionVersion: String?
    }

    func deleteOptions(_ request: APIRequest) -> Result<DeleteOptions, APIResponse> {
        var options = DeleteOptions()
        if !request.body.isEmpty, let body = try? JSON.parse(request.body) {
            if let policy = body["propagationPolicy"].string {
                guard let parsed = Propagation(rawValue: policy) else {
                    return .failure(.status(422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \(quoted(policy)): supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""))
                }
                options.policy = parsed
            }
            if let orphan = body["orphanDependents"].bool, options.policy == nil { options.policy = orphan ? .orphan : .background }
            options.grace = body["gracePeriodSeconds"].int
            options.dryRun = body["dryRun"].array?.contains("All") ?? false
            options.preconditionUID = body["preconditions"]["uid"].string
            options.preconditionVersion = body["preconditions"]["resourceVersion"].string
        }
        if let policy = request.query["propagationPolicy"] {
            guard let parsed = Propagation(rawValue: policy) else {
                return .failure(.status(422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \(quoted(policy)): supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""))
            }
            options.policy = parsed
        }
        if let orphan = request.query["orphanDependents"], options.policy == nil { options.policy = orphan == "true" ? .orphan : .background }
        if let grace = request.query["gracePeriodSeconds"].flatMap(Int.init) { options.grace = grace }
        if request.isDryRun { options.dryRun = true }
        return .success(options)
    }

    private static let jobOrphanWarning = "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\""

    private func delete(_ resource: Resource, namespace: String, name: String, request: APIRequest) -> APIResponse {
        let options: DeleteOptions
        switch deleteOptions(request) {
        case .failure(let response): return response
        case .success(let parsed): options = parsed
        }
        guard let existing = stored(resource, namespace, name) else { return .notFound(resource, name) }
        if let uid = options.preconditionUID, uid != existing["metadata"]["uid"].string {
            return .status(409, "Conflict", "Operation cannot be fulfilled on \(resource.qualifiedName) \(quoted(name)): Precondition failed: UID in precondition: \(uid), UID in object meta: \(existing["metadata"]["uid"].string ?? "")",
                           details: APIResponse.details(resource, name))
        }
        if let version = options.preconditionVersion, version != existing["metadata"]["resourceVersion"].string {
            return .status(409, "Conflict", "Operation cannot be fulfilled on \(resource.qualifiedName) \(quoted(name)): Precondition failed: ResourceVersion in precondition: \(version), ResourceVersion in object meta: \(existing["metadata"]["resourceVersion"].string ?? "")",
                           details: APIResponse.details(resource, name))
        }
        var headers: [String: String] = [:]
        if resource == .jobs, options.policy == nil { headers["Warning"] = Self.jobOrphanWarning }
        let policy = options.policy ?? (resource == .jobs ? .orphan : .background)
        let result = options.dryRun ? existing : (deleteObject(ObjectRef(resource: resource, namespace: namespace, name: name), policy: policy, grace: options.grace) ?? existing)
        if resource.returnsDeletedObject { return .json(200, result, headers) }
        var details = APIResponse.details(resource, name)
        details["uid"] = existing["metadata"]["uid"]
        return .json(200, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "details": details], headers)
    }

    private func deleteCollection(_ resource: Resource, namespace: String, request: APIRequest) -> APIResponse {
        let options: DeleteOptions
        switch deleteOptions(request) {
        case .failure(let response): return response
        case .success(let parsed): options = parsed
        }
        let labels: LabelSelector
        let fields: FieldSelector
        do throws(LabelSelector.ParseError) {
            labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
            fields = try FieldSelector(parsing: request.query["fieldSelector"] ?? "", resource: resource)
        } catch {
            return .status(400, "BadRequest", error.message)
        }
        var headers: [String: String] = [:]
        if resource == .jobs, options.policy == nil { headers["Warning"] = Self.jobOrphanWarning }
        let policy = options.policy ?? (resource == .jobs ? .orphan : .background)
        let targets = allStored(resource, namespace: namespace).filter {
            labels.matches($0.1["metadata"]["labels"].stringMap) && fields.matches($0.1)
        }
        var deleted: [JSON] = []
        for (_, object) in targets {
            let name = object["metadata"]["name"].string ?? ""
            if options.dryRun {
                deleted.append(object)
            } else if let result = deleteObject(ObjectRef(resource: resource, namespace: namespace, name: name), policy: policy, grace: options.grace) {
                deleted.append(result)
            }
        }
        return .json(200, listObject(resource, deleted), headers)
    }

    // MARK: SelfSubjectAccessReview

    private func selfSubjectAccessReview(_ request: APIRequest) -> APIResponse {
        var review: JSON
        switch parseBody(request.body) {
        case .failure(let response): return response
        case .success(let parsed): review = parsed
        }
        let attributes = review["spec"]["resourceAttributes"]
        let nonResource = review["spec"]["nonResourceAttributes"]
        guard attributes.isNull != nonResource.isNull else {
            return .invalid(.configMaps, "", [.invalid("spec.resourceAttributes", "", "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
                .withKind("SelfSubjectAccessReview.authorization.k8s.io", group: "authorization.k8s.io", kind: "SelfSubjectAccessReview")
        }
        let allowed: Bool
        if attributes.isNull {
            allowed = true
        } else {
            allowed = permissions(of: request.identity).allows(
                verb: attributes["verb"].string ?? "", group: attributes["group"].string ?? "",
                resource: attributes["resource"].string ?? "", subresource: attributes["subresource"].string ?? "",
                namespace: attributes["namespace"].string ?? ""
            )
        }
        review["kind"] = "SelfSubjectAccessReview"
        review["apiVersion"] = "authorization.k8s.io/v1"
        review["metadata"] = ["creationTimestamp": .null]
        review["status"] = allowed ? ["allowed": true, "reason": "allowed by the emulator's Permissions"] : ["allowed": false]
        return .json(201, review, [:])
    }

    // MARK: Pod logs

    private func podLog(namespace: String, name: String, query: [String: String]) -> APIResponse {
        guard let pod = stored(.pods, namespace, name) else { return .notFound(.pods, name) }
        let containers = (pod["spec"]["containers"].array ?? []).compactMap { $0["name"].string }
        let container: String
        if let requested = query["container"], !requested.isEmpty {
            guard containers.contains(requested) else {
                return .status(400, "BadRequest", "container \(requested) is not valid for pod \(name)")
            }
            container = requested
        } else if containers.count == 1 {
            container = containers[0]
        } else {
            return .status(400, "BadRequest", "a container name must be specified for pod \(name), choose one of: [\(containers.joined(separator: " "))]")
        }
        var text: String
        if query["previous"] == "true" {
            guard let previous = previousLogOverrides["\(namespace)/\(name)/\(container)"] else {
                return .status(400, "BadRequest", "previous terminated container \(quoted(container)) in pod \(quoted(name)) not found")
            }
            text = previous
        } else if let override = logOverrides["\(namespace)/\(name)/\(container)"] {
            text = override
        } else {
            let uid = pod["metadata"]["uid"].string ?? ""
            let state = (pod["status"]["containerStatuses"].array ?? []).first { $0["name"].string == container }?["state"] ?? .null
            guard let path = podRuns[uid]?.logPaths[container] else {
                let reason = state["waiting"]["reason"].string ?? "ContainerCreating"
                let detail = reason == "ImagePullBackOff" || reason == "ErrImagePull" ? "trying and failing to pull image" : reason
                return .status(400, "BadRequest", "container \(quoted(container)) in pod \(quoted(name)) is waiting to start: \(detail)")
            }
            let startedAt = state["running"]["startedAt"].string ?? state["terminated"]["startedAt"].string ?? ""
            let prefix = query["timestamps"] == "true" ? Timestamp.rfc3339Nano(Timestamp.parse(startedAt) ?? Date()) + " " : ""
            if query["follow"] == "true", !state["running"].isNull {
                return .followLog(path: path, pod: ObjectRef(resource: .pods, namespace: namespace, name: name), container: container, prefix: prefix)
            }
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if !prefix.isEmpty { text = Self.prefixLines(text, prefix) }
        }
        if let tail = query["tailLines"].flatMap(Int.init), tail >= 0 {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let trailingNewline = text.hasSuffix("\n")
            if trailingNewline { lines.removeLast() }
            text = lines.suffix(tail).joined(separator: "\n") + (trailingNewline && tail > 0 && !lines.isEmpty ? "\n" : "")
        }
        if let limit = query["limitBytes"].flatMap(Int.init), limit > 0, text.utf8.count > limit {
            text = String(decoding: Array(text.utf8).prefix(limit), as: UTF8.self)
        }
        return .text(200, text)
    }

    static func prefixLines(_ text: String, _ prefix: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, line in
            line.isEmpty && index > 0 ? "" : prefix + line
        }.joined(separator: "\n")
    }

    /// Whether a container of a pod still runs (for `follow=true`).
    func containerRunning(_ pod: ObjectRef, _ container: String) -> Bool {
        guard let object = stored(.pods, pod.namespace, pod.name) else { return false }
        let state = (object["status"]["containerStatuses"].array ?? []).first { $0["name"].string == container }?["state"] ?? .null
        return !state["running"].isNull
    }

    func logRequest(_ entry: LoggedRequest) { logEntries.append(entry) }
}

extension APIResponse {
    func withKind(_ qualified: String, group: String, kind: String) -> APIResponse {
        guard case .json(let code, var body, let headers) = self else { return self }
        body["details"]["group"] = .string(group)
        body["details"]["kind"] = .string(kind)
        if let message = body["message"].string, let range = message.range(of: " \"\" is invalid") {
            body["message"] = .string(qualified + message[range.lowerBound...])
        }
        return .json(code, body, headers)
    }
}
