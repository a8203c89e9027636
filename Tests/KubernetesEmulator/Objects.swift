import Foundation

/// Server-side defaults and validation per resource, as the API server's registry strategies apply them.
enum Objects {
    static let jobLabels = ["batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name"]

    static let metadataFields: Set<String> = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ]

    static func topLevelFields(_ resource: Resource) -> Set<String> {
        let common: Set<String> = ["apiVersion", "kind", "metadata"]
        switch resource {
        case .configMaps: return common.union(["data", "binaryData", "immutable"])
        case .secrets: return common.union(["data", "stringData", "type", "immutable"])
        case .pods, .jobs: return common.union(["spec", "status"])
        case .leases, .networkPolicies: return common.union(["spec"])
        case .services: return common.union(["spec", "status"])
        case .endpointSlices: return common.union(["addressType", "endpoints", "ports"])
        case .deployments, .nodes, .podDisruptionBudgets, .daemonSets, .replicaSets, .statefulSets: return common.union(["spec", "status"])
        case .events:
            return common.union(["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                                 "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"])
        }
    }

    /// Server-side field validation of the top level and `metadata` (deeper levels are not checked and round-trip):
    /// unknown fields are dropped with a warning (`Warn`, the default), rejected (`Strict`), or dropped (`Ignore`).
    static func pruneUnknownFields(_ resource: Resource, _ object: inout JSON, directive: String?) -> (failure: APIResponse?, warnings: [String]) {
        var unknown: [String] = []
        for key in (object.object ?? [:]).keys.sorted() where !topLevelFields(resource).contains(key) {
            unknown.append(key)
            object.removeValue(forKey: key)
        }
        for key in (object["metadata"].object ?? [:]).keys.sorted() where !metadataFields.contains(key) {
            unknown.append("metadata.\(key)")
            object["metadata"].removeValue(forKey: key)
        }
        guard !unknown.isEmpty else { return (nil, []) }
        switch directive ?? "Warn" {
        case "Strict":
            let list = unknown.map { "unknown field \(quoted($0))" }.joined(separator: ", ")
            return (.status(400, "BadRequest", "\(resource.kind) in version \(quoted(resource.version)) cannot be handled as a \(resource.kind): strict decoding error: \(list)"), [])
        case "Ignore":
            return (nil, [])
        default:
            return (nil, unknown.map { "299 - \(quoted("unknown field " + quoted($0)))" })
        }
    }

    /// `metav1.MicroTime` fields must have exactly 6 fractional digits: the server parses them with the layout
    /// `2006-01-02T15:04:05.000000Z07:00` and rejects anything else (400).
    static func checkMicroTimes(_ resource: Resource, _ object: JSON) -> APIResponse? {
        guard resource == .leases else { return nil }
        for field in ["acquireTime", "renewTime"] {
            guard let value = object["spec"][field].string else { continue }
            if !isMicroTime(value) {
                return .status(400, "BadRequest", "Lease in version \"v1\" cannot be handled as a Lease: parsing time \(quoted(value)) as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \(quoted(value)) as \".000000\"")
            }
        }
        return nil
    }

    static func isMicroTime(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { $0 < bytes.count && bytes[$0] >= 48 && bytes[$0] <= 57 } }
        func at(_ index: Int, _ character: Character) -> Bool { index < bytes.count && bytes[index] == character.asciiValue! }
        guard bytes.count >= 27, digits(0..<4), at(4, "-"), digits(5..<7), at(7, "-"), digits(8..<10), at(10, "T"), digits(11..<13),
              at(13, ":"), digits(14..<16), at(16, ":"), digits(17..<19), at(19, "."), digits(20..<26) else { return false }
        if bytes.count == 27 { return at(26, "Z") }
        return bytes.count == 32 && (at(26, "+") || at(26, "-")) && digits(27..<29) && at(29, ":") && digits(30..<32)
    }

    /// Defaults the API server fills in (a subset: the ones clients read back).
    static func applyDefaults(_ resource: Resource, _ object: inout JSON) {
        switch resource {
        case .jobs:
            var spec = object["spec"]
            if spec["parallelism"].isNull { spec["parallelism"] = 1 }
            if spec["completions"].isNull { spec["completions"] = 1 }
            if spec["backoffLimit"].isNull { spec["backoffLimit"] = 6 }
            if spec["completionMode"].isNull { spec["completionMode"] = "NonIndexed" }
            if spec["suspend"].isNull { spec["suspend"] = false }
            if spec["podReplacementPolicy"].isNull { spec["podReplacementPolicy"] = "TerminatingOrFailed" }
            var templateSpec = spec["template"]["spec"]
            defaultPodSpec(&templateSpec)
            spec["template"]["spec"] = templateSpec
            object["spec"] = spec
        case .pods:
            var spec = object["spec"]
            defaultPodSpec(&spec)
            object["spec"] = spec
        case .secrets:
            if object["type"].isNull { object["type"] = "Opaque" }
        case .deployments:
            var spec = object["spec"]
            if spec["replicas"].isNull { spec["replicas"] = 1 }
            if spec["revisionHistoryLimit"].isNull { spec["revisionHistoryLimit"] = 10 }
            if spec["progressDeadlineSeconds"].isNull { spec["progressDeadlineSeconds"] = 600 }
            if spec["strategy"].isNull { spec["strategy"] = ["type": "RollingUpdate"] }
            if spec["strategy"]["type"].string == "RollingUpdate", spec["strategy"]["rollingUpdate"].isNull {
                spec["strategy"]["rollingUpdate"] = ["maxUnavailable": "25%", "maxSurge": "25%"]
            }
            var templateSpec = spec["template"]["spec"]
            defaultPodSpec(&templateSpec)
            spec["template"]["spec"] = templateSpec
            object["spec"] = spec
        case .nodes:
            Nodes.applyDefaults(&object)
        case .daemonSets:
            var spec = object["spec"]
            if spec["revisionHistoryLimit"].isNull { spec["revisionHistoryLimit"] = 10 }
            if spec["updateStrategy"].isNull { spec["updateStrategy"] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 1, "maxSurge": 0]] }
            var templateSpec = spec["template"]["spec"]
            defaultPodSpec(&templateSpec)
            spec["template"]["spec"] = templateSpec
            object["spec"] = spec
        case .replicaSets, .statefulSets:
            var spec = object["spec"]
            if spec["replicas"].isNull { spec["replicas"] = 1 }
            if resource == .statefulSets {
                if spec["podManagementPolicy"].isNull { spec["podManagementPolicy"] = "OrderedReady" }
                if spec["revisionHistoryLimit"].isNull { spec["revisionHistoryLimit"] = 10 }
                if spec["updateStrategy"].isNull { spec["updateStrategy"] = ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]] }
            }
            var templateSpec = spec["template"]["spec"]
            defaultPodSpec(&templateSpec)
            spec["template"]["spec"] = templateSpec
            object["spec"] = spec
        case .services:
            Networking.defaultService(&object)
        case .networkPolicies:
            Networking.defaultNetworkPolicy(&object)
        case .configMaps, .leases, .events, .podDisruptionBudgets, .endpointSlices:
            break
        }
    }

    static func defaultPodSpec(_ spec: inout JSON) {
        if spec["restartPolicy"].isNull { spec["restartPolicy"] = "Always" }
        if spec["terminationGracePeriodSeconds"].isNull { spec["terminationGracePeriodSeconds"] = 30 }
        if spec["dnsPolicy"].isNull { spec["dnsPolicy"] = "ClusterFirst" }
        if spec["schedulerName"].isNull { spec["schedulerName"] = "default-scheduler" }
        if spec["securityContext"].isNull { spec["securityContext"] = [:] }
        for key in ["containers", "initContainers"] {
            guard case .array(var containers) = spec[key] else { continue }
            for index in containers.indices {
                var container = containers[index]
                if container["terminationMessagePath"].isNull { container["terminationMessagePath"] = "/dev/termination-log" }
                if container["terminationMessagePolicy"].isNull { container["terminationMessagePolicy"] = "File" }
                if container["resources"].isNull { container["resources"] = [:] }
                if container["imagePullPolicy"].isNull, let image = container["image"].string {
                    let tag = image.split(separator: "/").last.flatMap { $0.split(separator: ":").dropFirst().first }
                    container["imagePullPolicy"] = (tag == nil || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
                }
                containers[index] = container
            }
            spec[key] = .array(containers)
        }
        if case .array(var volumes) = spec["volumes"] {
            for index in volumes.indices {
                for source in ["configMap", "secret"] where !volumes[index][source].isNull {
                    if volumes[index][source]["defaultMode"].isNull { volumes[index][source]["defaultMode"] = 420 }
                }
            }
            spec["volumes"] = .array(volumes)
        }
    }

    static func validateMetadata(_ object: JSON, resource: Resource) -> [Cause] {
        var causes: [Cause] = []
        let metadata = object["metadata"]
        let name = metadata["name"].string ?? ""
        if let generateName = metadata["generateName"].string, !generateName.isEmpty {
            for message in Rules.subdomainErrors(generateName, prefix: true) {
                causes.append(.invalid("metadata.generateName", generateName, message))
            }
        }
        if name.isEmpty {
            causes.append(.required("metadata.name", "Required value: name or generateName is required"))
        } else {
            for message in Rules.subdomainErrors(name) { causes.append(.invalid("metadata.name", name, message)) }
        }
        causes += Rules.labelCauses(metadata["labels"], field: "metadata.labels")
        if case .object(let annotations) = metadata["annotations"] {
            var total = 0
            for (key, value) in annotations {
                total += key.utf8.count + (value.string?.utf8.count ?? 0)
                for message in Rules.qualifiedNameErrors(key) { causes.append(.invalid("metadata.annotations", key, message)) }
            }
            if total > 256 * 1024 { causes.append(.tooLong("metadata.annotations", 256 * 1024)) }
        }
        return causes
    }

    static func validate(_ resource: Resource, _ object: JSON) -> [Cause] {
        var causes = validateMetadata(object, resource: resource)
        switch resource {
        case .configMaps:
            var total = 0
            var keys: Set<String> = []
            for (section, isBinary) in [("data", false), ("binaryData", true)] {
                guard case .object(let entries) = object[section] else { continue }
                for key in entries.keys.sorted() {
                    for message in Rules.configKeyErrors(key) { causes.append(.invalid("\(section)[\(key)]", key, message)) }
                    if !keys.insert(key).inserted {
                        causes.append(.invalid("data[\(key)]", key, "duplicate of key present in binaryData"))
                    }
                    let value = entries[key]?.string ?? ""
                    total += key.utf8.count + (isBinary ? (Data(base64Encoded: value)?.count ?? value.utf8.count) : value.utf8.count)
                }
            }
            if total > 1024 * 1024 { causes.append(.tooLong("", 1024 * 1024)) }
        case .secrets:
            var total = 0
            if case .object(let entries) = object["data"] {
                for key in entries.keys.sorted() {
                    for message in Rules.configKeyErrors(key) { causes.append(.invalid("data[\(key)]", key, message)) }
                    total += key.utf8.count + (Data(base64Encoded: entries[key]?.string ?? "")?.count ?? 0)
                }
            }
            if total > 1024 * 1024 { causes.append(.tooLong("data", 1024 * 1024)) }
        case .jobs:
            let spec = object["spec"]
            let name = object["metadata"]["name"].string ?? ""
            for key in ["batch.kubernetes.io/job-name", "job-name"] where spec["template"]["metadata"]["labels"][key].string == name {
                for message in Rules.labelValueErrors(name) { causes.append(.invalid("spec.template.labels", name, message)) }
            }
            var templateLabels = spec["template"]["metadata"]["labels"]
            for key in jobLabels { templateLabels.removeValue(forKey: key) }
            causes += Rules.labelCauses(templateLabels, field: "spec.template.metadata.labels")
            for field in ["backoffLimit", "parallelism", "completions", "activeDeadlineSeconds", "ttlSecondsAfterFinished"] {
                if let value = spec[field].int, value < 0 {
                    causes.append(.invalid("spec.\(field)", String(value), "must be greater than or equal to 0"))
                }
            }
            if let deadline = spec["activeDeadlineSeconds"].int, deadline == 0 {
                causes.append(.invalid("spec.activeDeadlineSeconds", "0", "must be greater than 0"))
            }
            let restartPolicy = spec["template"]["spec"]["restartPolicy"].string ?? "Always"
            if restartPolicy != "Never", restartPolicy != "OnFailure" {
                causes.append(.notSupported("spec.template.spec.restartPolicy", restartPolicy, ["OnFailure", "Never"]))
            }
            causes += validatePodSpec(spec["template"]["spec"], field: "spec.template.spec", allowedRestart: nil)
        case .pods:
            causes += validatePodSpec(object["spec"], field: "spec", allowedRestart: ["Always", "OnFailure", "Never"])
        case .deployments:
            causes += validateDeployment(object["spec"])
        case .events:
            causes += validateEvent(object)
        case .nodes:
            causes += Nodes.validate(object)
        case .podDisruptionBudgets:
            causes += Disruption.validate(object)
        case .daemonSets:
            if object["spec"]["selector"].isNull { causes.append(.required("spec.selector")) }
            causes += validatePodSpec(object["spec"]["template"]["spec"], field: "spec.template.spec", allowedRestart: ["Always"])
        case .replicaSets, .statefulSets:
            // The same selector, template-label and replica rules as a Deployment's (apps/v1 ValidateReplicaSetSpec,
            // ValidateStatefulSetSpec), with a resource-specific message for an empty selector.
            causes += validateDeployment(object["spec"]).map { cause in
                var cause = cause
                cause.message = cause.message.replacingOccurrences(of: "for deployment", with: "for \(resource.singular)")
                return cause
            }
        case .services:
            causes += Networking.validateService(object)
        case .endpointSlices:
            causes += Networking.validateEndpointSlice(object)
        case .networkPolicies:
            causes += Networking.validateNetworkPolicy(object)
        case .leases:
            break
        }
        return causes
    }

    /// apps/v1 `ValidateDeploymentSpec`: a non-empty selector that matches the template's labels, replicas >= 0, and
    /// a pod template that restarts `Always`.
    static func validateDeployment(_ spec: JSON) -> [Cause] {
        var causes: [Cause] = []
        let selector = spec["selector"]
        let matchLabels = selector["matchLabels"].stringMap
        let expressions = selector["matchExpressions"].array ?? []
        if selector.isNull {
            causes.append(.required("spec.selector"))
        } else if matchLabels.isEmpty, expressions.isEmpty {
            causes.append(.invalid("spec.selector", selector.serialized(), "empty selector is invalid for deployment"))
        }
        causes += Rules.labelCauses(selector["matchLabels"], field: "spec.selector.matchLabels")
        for (index, expression) in expressions.enumerated() {
            let op = expression["operator"].string ?? ""
            let values = expression["values"].array ?? []
            switch op {
            case "In", "NotIn":
                if values.isEmpty {
                    causes.append(.required("spec.selector.matchExpressions[\(index)].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'"))
                }
            case "Exists", "DoesNotExist":
                if !values.isEmpty {
                    causes.append(.forbidden("spec.selector.matchExpressions[\(index)].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                }
            default:
                causes.append(.invalid("spec.selector.matchExpressions[\(index)].operator", op, "not a valid selector operator"))
            }
        }
        let templateLabels = spec["template"]["metadata"]["labels"].stringMap
        if !selector.isNull, !(matchLabels.isEmpty && expressions.isEmpty), !selectorMatches(selector, templateLabels) {
            causes.append(.invalid("spec.template.metadata.labels", JSON.object(templateLabels.mapValues { .string($0) }).serialized(),
                                   "`selector` does not match template `labels`"))
        }
        causes += Rules.labelCauses(spec["template"]["metadata"]["labels"], field: "spec.template.metadata.labels")
        for field in ["replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds"] {
            if let value = spec[field].int, value < 0 {
                causes.append(.invalid("spec.\(field)", String(value), "must be greater than or equal to 0"))
            }
        }
        causes += validatePodSpec(spec["template"]["spec"], field: "spec.template.spec", allowedRestart: ["Always"])
        return causes
    }

    /// Whether a `metav1.LabelSelector` object selects `labels`.
    static func selectorMatches(_ selector: JSON, _ labels: [String: String]) -> Bool {
        for (key, value) in selector["matchLabels"].stringMap where labels[key] != value { return false }
        for expression in selector["matchExpressions"].array ?? [] {
            let key = expression["key"].string ?? ""
            let values = (expression["values"].array ?? []).compactMap(\.string)
            switch expression["operator"].string {
            case "In": if !(labels[key].map(values.contains) ?? false) { return false }
            case "NotIn": if labels[key].map(values.contains) ?? false { return false }
            case "Exists": if labels[key] == nil { return false }
            case "DoesNotExist": if labels[key] != nil { return false }
            default: return false
            }
        }
        return true
    }

    /// core/v1 `legacyValidateEvent`: an event about a namespaced object lives in that object's namespace; events
    /// of the newer API (with `eventTime`) must also say `Normal` or `Warning`.
    static func validateEvent(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let namespace = object["metadata"]["namespace"].string ?? ""
        let involvedNamespace = object["involvedObject"]["namespace"].string ?? ""
        if involvedNamespace.isEmpty ? (namespace != "" && namespace != "default") : involvedNamespace != namespace {
            causes.append(.invalid("involvedObject.namespace", involvedNamespace, "does not match event.namespace"))
        }
        if !object["eventTime"].isNull, let type = object["type"].string, type != "Normal", type != "Warning" {
            causes.append(.notSupported("type", type, ["Normal", "Warning"]))
        }
        return causes
    }

    static func validatePodSpec(_ spec: JSON, field: String, allowedRestart: [String]?) -> [Cause] {
        var causes: [Cause] = []
        if let allowedRestart, let policy = spec["restartPolicy"].string, !allowedRestart.contains(policy) {
            causes.append(.notSupported("\(field).restartPolicy", policy, allowedRestart))
        }
        let containers = spec["containers"].array ?? []
        if containers.isEmpty { causes.append(.required("\(field).containers")) }
        var names: Set<String> = []
        var volumeNames: Set<String> = []
        for (index, volume) in (spec["volumes"].array ?? []).enumerated() {
            let name = volume["name"].string ?? ""
            if name.isEmpty { causes.append(.required("\(field).volumes[\(index)].name")) }
            for message in name.isEmpty ? [] : Rules.labelErrors(name) { causes.append(.invalid("\(field).volumes[\(index)].name", name, message)) }
            volumeNames.insert(name)
            if !volume["configMap"].isNull, (volume["configMap"]["name"].string ?? "").isEmpty {
                causes.append(.required("\(field).volumes[\(index)].configMap.name"))
            }
        }
        for (index, container) in containers.enumerated() {
            let path = "\(field).containers[\(index)]"
            let name = container["name"].string ?? ""
            if name.isEmpty {
                causes.append(.required("\(path).name"))
            } else {
                for message in Rules.labelErrors(name) { causes.append(.invalid("\(path).name", name, message)) }
                if !names.insert(name).inserted { causes.append(Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(quoted(name))", field: "\(path).name")) }
            }
            if (container["image"].string ?? "").isEmpty { causes.append(.required("\(path).image")) }
            for (mountIndex, mount) in (container["volumeMounts"].array ?? []).enumerated() {
                let volume = mount["name"].string ?? ""
                if !volumeNames.contains(volume) {
                    causes.append(Cause(reason: "FieldValueNotFound", message: "Not found: \(quoted(volume))", field: "\(path).volumeMounts[\(mountIndex)].name"))
                }
                if (mount["mountPath"].string ?? "").isEmpty { causes.append(.required("\(path).volumeMounts[\(mountIndex)].mountPath")) }
            }
            for (envIndex, variable) in (container["env"].array ?? []).enumerated() where (variable["name"].string ?? "").isEmpty {
                causes.append(.required("\(path).env[\(envIndex)].name"))
            }
        }
        return causes
    }

    /// Immutability rules on update.
    static func validateUpdate(_ resource: Resource, old: JSON, new: JSON) -> [Cause] {
        var causes: [Cause] = []
        switch resource {
        case .configMaps, .secrets:
            if old["immutable"].bool == true {
                if old["data"] != new["data"] || old["binaryData"] != new["binaryData"] {
                    causes.append(.forbidden("data", "field is immutable when `immutable` is set"))
                }
                if new["immutable"].bool != true { causes.append(.forbidden("immutable", "field is immutable when `immutable` is set")) }
            }
        case .jobs:
            if old["spec"]["selector"] != new["spec"]["selector"] {
                causes.append(.invalid("spec.selector", new["spec"]["selector"].serialized(), "field is immutable"))
            }
            if old["spec"]["template"] != new["spec"]["template"] {
                causes.append(.invalid("spec.template", new["spec"]["template"].serialized(), "field is immutable"))
            }
            if old["spec"]["completions"] != new["spec"]["completions"] {
                causes.append(.invalid("spec.completions", new["spec"]["completions"].serialized(), "field is immutable"))
            }
        case .deployments, .daemonSets, .replicaSets, .statefulSets:
            if old["spec"]["selector"] != new["spec"]["selector"] {
                causes.append(.invalid("spec.selector", new["spec"]["selector"].serialized(), "field is immutable"))
            }
        case .pods:
            var oldSpec = old["spec"]
            var newSpec = new["spec"]
            for field in ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"] {
                oldSpec.removeValue(forKey: field)
                newSpec.removeValue(forKey: field)
            }
            var oldImages = oldSpec["containers"].array ?? []
            var newImages = newSpec["containers"].array ?? []
            for index in oldImages.indices { oldImages[index].removeValue(forKey: "image") }
            for index in newImages.indices { newImages[index].removeValue(forKey: "image") }
            oldSpec["containers"] = .array(oldImages)
            newSpec["containers"] = .array(newImages)
            if oldSpec != newSpec {
                causes.append(.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
            }
        case .services:
            let oldIP = old["spec"]["clusterIP"].string ?? ""
            if !oldIP.isEmpty, new["spec"]["clusterIP"].string != oldIP {
                causes.append(.invalid("spec.clusterIPs[0]", new["spec"]["clusterIP"].string ?? "", "may not change once set"))
            }
        case .endpointSlices:
            if old["addressType"] != new["addressType"] {
                causes.append(.invalid("addressType", new["addressType"].string ?? "", "field is immutable"))
            }
        case .leases, .events, .nodes, .podDisruptionBudgets, .networkPolicies:
            break
        }
        return causes
    }
}
