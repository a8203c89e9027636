import Foundation

/// Discovery documents (legacy, non-aggregated: clients fall back to them), a minimal OpenAPI v3 that lets
/// `kubectl create` use server-side field validation, and `Table` rendering for `kubectl get`.
enum Discovery {
    static let groups = ["apps", "batch", "authorization.k8s.io", "coordination.k8s.io", "policy", "discovery.k8s.io", "networking.k8s.io"]

    static let version: JSON = [
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-emulator", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
        "platform": "linux/amd64",
    ]

    static var rootPaths: [String] {
        ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]
            + groups.flatMap { ["/apis/\($0)", "/apis/\($0)/v1"] }
    }

    static func apiVersions(port: Int) -> JSON {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string("127.0.0.1:\(port)")]]]
    }

    static func group(_ name: String) -> JSON {
        let version: JSON = ["groupVersion": .string("\(name)/v1"), "version": "v1"]
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": [version], "preferredVersion": version]
    }

    static var groupList: JSON {
        var list = groups.map { name -> JSON in
            var entry = group(name)
            entry.removeValue(forKey: "kind")
            entry.removeValue(forKey: "apiVersion")
            return entry
        }
        list.sort { ($0["name"].string ?? "") < ($1["name"].string ?? "") }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(list)]
    }

    static func resourceList(group: String) -> JSON {
        var resources: [JSON] = []
        for resource in Resource.allCases where resource.group == group {
            var entry: JSON = [
                "name": .string(resource.rawValue), "singularName": .string(resource.singular), "namespaced": .bool(resource.isNamespaced),
                "kind": .string(resource.kind), "verbs": .array(resource.verbs.map { .string($0) }),
                "storageVersionHash": .string(Data(resource.kind.utf8).base64EncodedString()),
            ]
            if !resource.shortNames.isEmpty { entry["shortNames"] = .array(resource.shortNames.map { .string($0) }) }
            if [.pods, .jobs, .deployments, .daemonSets, .replicaSets, .statefulSets].contains(resource) { entry["categories"] = ["all"] }
            resources.append(entry)
            if resource.hasStatusSubresource {
                resources.append(["name": .string("\(resource.rawValue)/status"), "singularName": "", "namespaced": .bool(resource.isNamespaced),
                                  "kind": .string(resource.kind), "verbs": ["get", "patch", "update"]])
            }
            if resource.hasScaleSubresource {
                resources.append(["name": .string("\(resource.rawValue)/scale"), "singularName": "", "namespaced": true,
                                  "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]])
            }
            if resource == .pods {
                resources.append(["name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]])
                // kubectl drain evicts (instead of deleting) when discovery lists this, with its group and version.
                resources.append(["name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy", "version": "v1",
                                  "kind": "Eviction", "verbs": ["create"]])
            }
        }
        if group.isEmpty {
            resources.append(["name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
                              "verbs": ["get", "list"], "shortNames": ["ns"]])
        }
        if group == "authorization.k8s.io" {
            resources.append(["name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": false,
                              "kind": "SelfSubjectAccessReview", "verbs": ["create"]])
        }
        resources.sort { ($0["name"].string ?? "") < ($1["name"].string ?? "") }
        let groupVersion = group.isEmpty ? "v1" : "\(group)/v1"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)]
    }

    // MARK: OpenAPI

    /// `/openapi/v3` lists one document per group version; each declares, for the PATCH of every kind, the
    /// `fieldValidation` query parameter: that is what kubectl looks for to validate on the server instead of
    /// downloading schemas. `/openapi/v2` is an empty Swagger document.
    static func openAPI(_ rest: [String]) -> APIResponse {
        if rest == ["v2"] {
            return .json(200, ["swagger": "2.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": [:], "definitions": [:]], [:])
        }
        guard rest.first == "v3" else { return KubernetesEmulator.unknownPath }
        let documents = ["api/v1": "", "apis/apps/v1": "apps", "apis/batch/v1": "batch", "apis/authorization.k8s.io/v1": "authorization.k8s.io",
                         "apis/coordination.k8s.io/v1": "coordination.k8s.io",
                         "apis/discovery.k8s.io/v1": "discovery.k8s.io", "apis/networking.k8s.io/v1": "networking.k8s.io", "apis/policy/v1": "policy"]
        if rest.count == 1 {
            var paths: JSON = [:]
            for key in documents.keys.sorted() {
                paths[key] = ["serverRelativeURL": .string("/openapi/v3/\(key)?hash=EMULATOR\(key.count)")]
            }
            return .json(200, ["paths": paths], [:])
        }
        let key = rest.dropFirst().joined(separator: "/")
        guard let group = documents[key] else { return KubernetesEmulator.unknownPath }
        var paths: JSON = [:]
        for resource in Resource.allCases where resource.group == group {
            let collection = resource.isNamespaced ? "/\(key)/namespaces/{namespace}/\(resource.rawValue)" : "/\(key)/\(resource.rawValue)"
            let path = "\(collection)/{name}"
            let gvk: JSON = ["group": .string(group), "version": "v1", "kind": .string(resource.kind)]
            let operation: JSON = [
                "operationId": .string("patch\(resource.kind)"),
                "parameters": [
                    ["name": "fieldValidation", "in": "query", "description": "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.", "schema": ["type": "string", "uniqueItems": true]],
                    ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                    ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ],
                "responses": ["200": ["description": "OK"]],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            ]
            let post: JSON = [
                "operationId": .string("create\(resource.kind)"),
                "parameters": [["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]]],
                "responses": ["201": ["description": "Created"]],
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            ]
            paths[path] = ["patch": operation]
            paths[collection] = ["post": post]
        }
        return .json(200, ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": paths,
                           "components": ["schemas": [:]]], [:])
    }

    // MARK: Table

    /// A `meta.k8s.io/v1` Table, as the server answers `Accept: application/json;as=Table;...` (kubectl get).
    static func table(_ resource: Resource, _ objects: [JSON], revision: Int, metadata: JSON? = nil) -> JSON {
        func column(_ name: String, _ type: String = "string", format: String = "") -> JSON {
            ["name": .string(name), "type": .string(type), "format": .string(format), "description": .string(name), "priority": 0]
        }
        var columns: [JSON] = [column("Name", format: "name")]
        switch resource {
        case .configMaps: columns += [column("Data", "integer")]
        case .secrets: columns += [column("Type"), column("Data", "integer")]
        case .pods: columns += [column("Ready"), column("Status"), column("Restarts", "string")]
        case .jobs: columns += [column("Status"), column("Completions"), column("Duration")]
        case .leases: columns += [column("Holder")]
        case .events: columns += [column("Type"), column("Reason"), column("Object"), column("Message")]
        case .deployments: columns += [column("Ready"), column("Up-to-date", "integer"), column("Available", "integer")]
        case .nodes: columns += [column("Status"), column("Roles")]
        case .podDisruptionBudgets: columns += [column("Min Available"), column("Max Unavailable"), column("Allowed Disruptions", "integer")]
        case .daemonSets: columns += [column("Desired", "integer"), column("Current", "integer"), column("Ready", "integer")]
        case .replicaSets: columns += [column("Desired", "integer"), column("Current", "integer"), column("Ready", "integer")]
        case .statefulSets: columns += [column("Ready")]
        case .services: columns += [column("Type"), column("Cluster-IP"), column("External-IP"), column("Port(s)")]
        case .endpointSlices: columns += [column("AddressType"), column("Ports"), column("Endpoints")]
        case .networkPolicies: columns += [column("Pod-Selector")]
        }
        columns.append(column("Age"))
        if resource == .nodes { columns.append(column("Version")) }
        let rows = objects.map { object -> JSON in
            let metadata = object["metadata"]
            var cells: [JSON] = [metadata["name"]]
            switch resource {
            case .configMaps:
                cells.append(.int(Int64((object["data"].object?.count ?? 0) + (object["binaryData"].object?.count ?? 0))))
            case .secrets:
                cells += [object["type"], .int(Int64(object["data"].object?.count ?? 0))]
            case .pods:
                let statuses = object["status"]["containerStatuses"].array ?? []
                let ready = statuses.filter { $0["ready"].bool == true }.count
                let total = object["spec"]["containers"].array?.count ?? 0
                let waiting = statuses.compactMap { $0["state"]["waiting"]["reason"].string }.first
                let terminated = statuses.compactMap { $0["state"]["terminated"]["reason"].string }.first
                let phase = object["status"]["phase"].string ?? "Pending"
                let status = object["metadata"]["deletionTimestamp"].isNull ? (waiting ?? (phase == "Running" ? "Running" : terminated ?? phase)) : "Terminating"
                cells += [.string("\(ready)/\(total)"), .string(status), .string(String(statuses.reduce(0) { $0 + ($1["restartCount"].int ?? 0) }))]
            case .jobs:
                let conditions = object["status"]["conditions"].array ?? []
                func has(_ type: String) -> Bool { conditions.contains { $0["type"].string == type && $0["status"].string == "True" } }
                let status = has("Complete") ? "Complete" : has("Failed") ? "Failed" : has("Suspended") ? "Suspended"
                    : has("FailureTarget") ? "FailureTarget" : has("SuccessCriteriaMet") ? "SuccessCriteriaMet" : "Running"
                let start = object["status"]["startTime"].string.flatMap(Timestamp.parse)
                let end = object["status"]["completionTime"].string.flatMap(Timestamp.parse)
                cells += [.string(status), .string("\(object["status"]["succeeded"].int ?? 0)/\(object["spec"]["completions"].int ?? 1)"),
                          .string(start == nil ? "" : Timestamp.age(since: start, now: end ?? Date()))]
            case .leases:
                cells.append(object["spec"]["holderIdentity"].isNull ? "" : object["spec"]["holderIdentity"])
            case .events:
                let involved = object["involvedObject"]
                cells += [object["type"].isNull ? "" : object["type"], object["reason"].isNull ? "" : object["reason"],
                          .string("\((involved["kind"].string ?? "").lowercased())/\(involved["name"].string ?? "")"),
                          object["message"].isNull ? "" : object["message"]]
            case .deployments:
                let status = object["status"]
                cells += [.string("\(status["readyReplicas"].int ?? 0)/\(object["spec"]["replicas"].int ?? 1)"),
                          .int(Int64(status["updatedReplicas"].int ?? 0)), .int(Int64(status["availableReplicas"].int ?? 0))]
            case .nodes:
                cells += [.string(Nodes.statusText(object)), .string(Nodes.roles(object))]
            case .podDisruptionBudgets:
                func text(_ value: JSON) -> JSON { value.isNull ? "N/A" : .string(value.string ?? value.int.map(String.init) ?? "") }
                cells += [text(object["spec"]["minAvailable"]), text(object["spec"]["maxUnavailable"]),
                          .int(Int64(object["status"]["disruptionsAllowed"].int ?? 0))]
            case .daemonSets:
                let status = object["status"]
                cells += [.int(Int64(status["desiredNumberScheduled"].int ?? 0)), .int(Int64(status["currentNumberScheduled"].int ?? 0)),
                          .int(Int64(status["numberReady"].int ?? 0))]
            case .replicaSets:
                let status = object["status"]
                cells += [.int(Int64(object["spec"]["replicas"].int ?? 1)), .int(Int64(status["replicas"].int ?? 0)),
                          .int(Int64(status["readyReplicas"].int ?? 0))]
            case .services:
                let ports = (object["spec"]["ports"].array ?? []).map { "\($0["port"].int ?? 0)\($0["nodePort"].int.map { ":\($0)" } ?? "")/\($0["protocol"].string ?? "TCP")" }
                let external = object["spec"]["externalName"].string ?? (object["spec"]["externalIPs"].array ?? []).compactMap(\.string).joined(separator: ",")
                cells += [object["spec"]["type"], object["spec"]["clusterIP"].isNull ? "" : object["spec"]["clusterIP"],
                          .string(external.isEmpty ? "<none>" : external), .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))]
            case .endpointSlices:
                let ports = (object["ports"].array ?? []).compactMap { $0["port"].int.map(String.init) }
                let addresses = (object["endpoints"].array ?? []).flatMap { ($0["addresses"].array ?? []).compactMap(\.string) }
                cells += [object["addressType"], .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")),
                          .string(addresses.isEmpty ? "<unset>" : addresses.prefix(3).joined(separator: ",") + (addresses.count > 3 ? " + \(addresses.count - 3) more..." : ""))]
            case .networkPolicies:
                let selector = KubernetesEmulator.selectorString(object["spec"]["podSelector"])
                cells.append(.string(selector.isEmpty ? "<none>" : selector))
            case .statefulSets:
                cells.append(.string("\(object["status"]["readyReplicas"].int ?? 0)/\(object["spec"]["replicas"].int ?? 1)"))
            }
            cells.append(.string(Timestamp.age(since: metadata["creationTimestamp"].string.flatMap(Timestamp.parse))))
            if resource == .nodes { cells.append(.string(object["status"]["nodeInfo"]["kubeletVersion"].string ?? "")) }
            var partial = metadata
            partial.removeValue(forKey: "managedFields")
            return ["cells": .array(cells), "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": partial]]
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata ?? ["resourceVersion": .string(String(revision))],
                "columnDefinitions": .array(columns), "rows": .array(rows)]
    }
}
