import Foundation

/// The autoscaling/v1 `Scale` subresource of Deployments and ReplicaSets (PROTOCOLS §9.8): `kubectl scale` sends a
/// merge PATCH of `{"spec":{"replicas":N}}` to `…/deployments/{name}/scale` (GET then PUT with
/// `--current-replicas`); the scale-deployment recipe does the same. Authorised as `deployments/scale`.
extension KubernetesEmulator {
    /// The Scale view of a scalable object: `spec.replicas`, `status.replicas` and the selector as a string.
    static func scaleObject(_ object: JSON) -> JSON {
        let metadata = object["metadata"]
        var scaleMetadata: JSON = ["name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
                                   "resourceVersion": metadata["resourceVersion"], "creationTimestamp": metadata["creationTimestamp"]]
        if scaleMetadata["creationTimestamp"].isNull { scaleMetadata.removeValue(forKey: "creationTimestamp") }
        return ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scaleMetadata,
                "spec": ["replicas": .int(Int64(object["spec"]["replicas"].int ?? 1))],
                "status": ["replicas": .int(Int64(object["status"]["replicas"].int ?? 0)),
                           "selector": .string(Self.selectorString(object["spec"]["selector"]))]]
    }

    /// `metav1.FormatLabelSelector`: `app=web,tier in (a,b)`, requirements sorted by key.
    static func selectorString(_ selector: JSON) -> String {
        var parts: [(String, String)] = selector["matchLabels"].stringMap.map { ($0.key, "\($0.key)=\($0.value)") }
        for expression in selector["matchExpressions"].array ?? [] {
            let key = expression["key"].string ?? ""
            let values = (expression["values"].array ?? []).compactMap(\.string).sorted().joined(separator: ",")
            switch expression["operator"].string ?? "" {
            case "In": parts.append((key, "\(key) in (\(values))"))
            case "NotIn": parts.append((key, "\(key) notin (\(values))"))
            case "Exists": parts.append((key, key))
            case "DoesNotExist": parts.append((key, "!\(key)"))
            default: break
            }
        }
        return parts.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: ",")
    }

    /// GET, PUT or PATCH of `{resource}/{name}/scale`. A write changes only `spec.replicas` of the object (a new
    /// generation, which the controllers act on); `?dryRun=All` answers the Scale as it would be without storing it.
    func scale(_ resource: Resource, namespace: String, name: String, verb: String, request: APIRequest) -> APIResponse {
        guard let existing = stored(resource, namespace, name) else { return .notFound(resource, name) }
        let current = Self.scaleObject(existing)
        let qualified = "Scale.autoscaling"
        var scale: JSON
        switch verb {
        case "get":
            return .json(200, current, [:])
        case "update":
            switch parseBody(request.body) {
            case .failure(let response): return response
            case .success(let parsed): scale = parsed
            }
            if let kind = scale["kind"].string, !kind.isEmpty, kind != "Scale" {
                return .status(400, "BadRequest", "the body of the request was of kind \(quoted(kind)), not \"Scale\"")
            }
            if let bodyName = scale["metadata"]["name"].string, bodyName != name {
                return .status(400, "BadRequest", "the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
            }
        default:
            let contentType = (request.headers["content-type"] ?? "").split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
            let document: JSON
            do {
                document = try JSON.parse(request.body)
            } catch {
                return .status(400, "BadRequest", "error decoding patch: \(error)")
            }
            switch contentType {
            case "application/merge-patch+json":
                guard case .object = document else { return .status(400, "BadRequest", "error decoding patch: the patch is not a JSON object") }
                scale = Patch.merge(current, document)
            case "application/strategic-merge-patch+json":
                guard case .object = document else { return .status(400, "BadRequest", "error decoding patch: the patch is not a JSON object") }
                scale = Patch.strategicMerge(current, document)
            case "application/json-patch+json":
                do throws(Patch.Failure) {
                    scale = try Patch.jsonPatch(current, document)
                } catch {
                    return error.invalid ? .status(422, "Invalid", error.message) : .status(400, "BadRequest", error.message)
                }
            default:
                return .status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
            }
        }
        let replicasField = scale["spec"]["replicas"]
        let replicas: Int
        switch replicasField {
        case .null:
            replicas = 0  // Go decodes a missing spec.replicas as 0
        case .int, .double:
            guard let value = replicasField.int else {
                return .status(400, "BadRequest", "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal number \(replicasField.serialized()) into Go struct field ScaleSpec.spec.replicas of type int32")
            }
            replicas = value
        default:
            let type = replicasField.string != nil ? "string" : replicasField.bool != nil ? "bool" : replicasField.array != nil ? "array" : "object"
            return .status(400, "BadRequest", "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal \(type) into Go struct field ScaleSpec.spec.replicas of type int32")
        }
        if replicas < 0 {
            return .status(422, "Invalid", "\(qualified) \(quoted(name)) is invalid: spec.replicas: Invalid value: \(replicas): must be greater than or equal to 0",
                           details: ["name": .string(name), "group": "autoscaling", "kind": "Scale",
                                     "causes": [Cause.invalid("spec.replicas", String(replicas), "must be greater than or equal to 0").json]])
        }
        let requestedVersion = scale["metadata"]["resourceVersion"].string ?? ""
        if !requestedVersion.isEmpty, requestedVersion != existing["metadata"]["resourceVersion"].string {
            return .status(409, "Conflict",
                           "Operation cannot be fulfilled on \(resource.qualifiedName) \(quoted(name)): the object has been modified; please apply your changes to the latest version and try again",
                           details: APIResponse.details(resource, name))
        }
        var updated = existing
        updated["spec"]["replicas"] = .int(Int64(replicas))
        if request.isDryRun {
            if existing["spec"] != updated["spec"] {
                updated["metadata"]["generation"] = .int(Int64((existing["metadata"]["generation"].int ?? 1) + 1))
            }
            return .json(200, Self.scaleObject(updated), [:])
        }
        return .json(200, Self.scaleObject(storeUpdate(resource, namespace, updated)), [:])
    }
}
