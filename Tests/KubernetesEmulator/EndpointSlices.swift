import Foundation

/// The endpoint-slice controller (kubernetes `pkg/controller/endpointslice`, PROTOCOLS §10.2), run in
/// ``KubernetesEmulator/settle()`` whenever a Service or a pod of the namespace changes: network diagnostics list a
/// Service's slices by `kubernetes.io/service-name` and read which pods receive traffic.
///
/// For every Service with a selector (not ExternalName) it keeps slices `<service>-<5 chars>`, labelled with the
/// service name and `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, owned by the Service:
/// one endpoint per selected pod that has a `status.podIP` and is not Succeeded/Failed, with `ready`, `serving` and
/// `terminating` as §10.2 defines them. Slice ports carry the target port resolved per pod (a named `targetPort` is
/// looked up in the pod's container ports); pods that resolve to different ports land in different slices, and a pod
/// whose port name does not resolve is left out of that port. A Service that selects nothing keeps one empty slice.
extension KubernetesEmulator {
    static let serviceNameLabel = "kubernetes.io/service-name"
    static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    static let endpointSliceControllerName = "endpointslice-controller.k8s.io"

    /// Brings the managed slices of every Service in `namespace` in line with its pods.
    func syncEndpointSlices(_ namespace: String) {
        guard !stopped else { return }
        let managed = allStored(.endpointSlices, namespace: namespace).map(\.1)
            .filter { $0["metadata"]["labels"][Self.managedByLabel].string == Self.endpointSliceControllerName }
        let pods = allStored(.pods, namespace: namespace).map(\.1)
        var served: Set<String> = []
        for (_, service) in allStored(.services, namespace: namespace) {
            let name = service["metadata"]["name"].string ?? ""
            let selector = service["spec"]["selector"].stringMap
            guard service["spec"]["type"].string != "ExternalName", !selector.isEmpty,
                  service["metadata"]["deletionTimestamp"].isNull else { continue }
            served.insert(name)
            reconcileSlices(service, pods: pods, existing: managed.filter { $0["metadata"]["labels"][Self.serviceNameLabel].string == name })
        }
        for slice in managed where !served.contains(slice["metadata"]["labels"][Self.serviceNameLabel].string ?? "") {
            storeRemove(.endpointSlices, namespace, slice["metadata"]["name"].string ?? "")
        }
    }

    /// The port a Service port reaches on `pod`: a number as is, a name through the pod's container ports (same
    /// protocol); nil when the name is not there.
    static func resolveTargetPort(_ servicePort: JSON, in pod: JSON) -> Int? {
        let target = servicePort["targetPort"].isNull ? servicePort["port"] : servicePort["targetPort"]
        if let number = target.int { return number }
        guard let name = target.string else { return nil }
        let proto = servicePort["protocol"].string ?? "TCP"
        for container in pod["spec"]["containers"].array ?? [] {
            for port in container["ports"].array ?? [] where port["name"].string == name && (port["protocol"].string ?? "TCP") == proto {
                return port["containerPort"].int
            }
        }
        return nil
    }

    private func reconcileSlices(_ service: JSON, pods: [JSON], existing: [JSON]) {
        let namespace = service["metadata"]["namespace"].string ?? ""
        let serviceName = service["metadata"]["name"].string ?? ""
        let selector = service["spec"]["selector"].stringMap
        let publishNotReady = service["spec"]["publishNotReadyAddresses"].bool == true
        let servicePorts = service["spec"]["ports"].array ?? []
        // Endpoints grouped by their resolved ports, in pod-name order.
        var groups: [(ports: JSON, endpoints: [JSON])] = []
        for pod in pods.sorted(by: { ($0["metadata"]["name"].string ?? "") < ($1["metadata"]["name"].string ?? "") }) {
            let labels = pod["metadata"]["labels"].stringMap
            guard selector.allSatisfy({ labels[$0.key] == $0.value }), !Self.isTerminal(pod),
                  let address = pod["status"]["podIP"].string, !address.isEmpty else { continue }
            var ports: [JSON] = []
            for servicePort in servicePorts {
                guard let resolved = Self.resolveTargetPort(servicePort, in: pod) else { continue }
                var port: JSON = ["name": .string(servicePort["name"].string ?? ""), "protocol": .string(servicePort["protocol"].string ?? "TCP"),
                                  "port": .int(Int64(resolved))]
                if let appProtocol = servicePort["appProtocol"].string { port["appProtocol"] = .string(appProtocol) }
                ports.append(port)
            }
            let serving = Self.isPodReady(pod)
            let terminating = !pod["metadata"]["deletionTimestamp"].isNull
            var endpoint: JSON = [
                "addresses": [.string(address)],
                "conditions": ["ready": .bool(publishNotReady || (serving && !terminating)), "serving": .bool(serving), "terminating": .bool(terminating)],
                "targetRef": ["kind": "Pod", "namespace": .string(namespace), "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]],
            ]
            if let node = pod["spec"]["nodeName"].string, !node.isEmpty {
                endpoint["nodeName"] = .string(node)
                if let zone = stored(.nodes, "", node)?["metadata"]["labels"]["topology.kubernetes.io/zone"].string { endpoint["zone"] = .string(zone) }
            }
            if let index = groups.firstIndex(where: { $0.ports == .array(ports) }) {
                groups[index].endpoints.append(endpoint)
            } else {
                groups.append((.array(ports), [endpoint]))
            }
        }
        if groups.isEmpty { groups = [([], [])] }  // the placeholder slice of a Service without endpoints

        var labels = service["metadata"]["labels"].object ?? [:]
        labels[Self.serviceNameLabel] = .string(serviceName)
        labels[Self.managedByLabel] = .string(Self.endpointSliceControllerName)
        var unused = existing
        for group in groups {
            if let index = unused.firstIndex(where: { ($0["ports"].isNull ? [] : $0["ports"]) == group.ports }) {
                var slice = unused.remove(at: index)
                slice["endpoints"] = .array(group.endpoints)
                slice["metadata"]["labels"] = .object(labels)
                storeUpdate(.endpointSlices, namespace, slice)
            } else {
                var name = Names.generate(from: serviceName + "-")
                while stored(.endpointSlices, namespace, name) != nil { name = Names.generate(from: serviceName + "-") }
                let slice: JSON = [
                    "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                    "metadata": [
                        "name": .string(name), "generateName": .string(serviceName + "-"), "namespace": .string(namespace),
                        "uid": .string(UUID().uuidString.lowercased()), "creationTimestamp": .string(Timestamp.rfc3339()), "generation": 1,
                        "labels": .object(labels),
                        "ownerReferences": [[
                            "apiVersion": "v1", "kind": "Service", "name": .string(serviceName), "uid": service["metadata"]["uid"],
                            "controller": true, "blockOwnerDeletion": true,
                        ]],
                    ],
                    "addressType": "IPv4", "endpoints": .array(group.endpoints), "ports": group.ports,
                ]
                storeCreate(.endpointSlices, namespace, slice)
            }
        }
        for slice in unused { storeRemove(.endpointSlices, namespace, slice["metadata"]["name"].string ?? "") }
    }

    /// A pod address on `node`'s pod network 10.244.N.0/24 (N: the node's place among the Node objects, from 1;
    /// 0 for the kubelet's `emulator-node`), the lowest one no live pod uses.
    func allocatePodIP(node: String) -> String {
        let names = allStored(.nodes, namespace: "").compactMap { $0.1["metadata"]["name"].string }.sorted()
        let subnet = names.firstIndex(of: node).map { $0 + 1 } ?? 0
        let prefix = "10.244.\(subnet % 256)."
        let used = Set(allStored(.pods, namespace: nil).compactMap { $0.1["status"]["podIP"].string }.filter { $0.hasPrefix(prefix) })
        let host = (2...254).first { !used.contains(prefix + String($0)) } ?? 254
        return prefix + String(host)
    }
}
