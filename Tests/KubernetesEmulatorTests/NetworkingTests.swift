import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// Services (defaults, cluster IPs), the EndpointSlices the endpoint-slice controller keeps from the pods,
/// NetworkPolicies (`policyTypes` defaulting) and namespace labels, as network diagnostics read them.
@Suite struct NetworkingTests {
    static let services = "/api/v1/namespaces/shop/services"
    static let slices = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
    static let policies = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"

    static func service(_ name: String = "web", selector: JSON? = ["app": "web"], ports: JSON) -> JSON {
        var spec: JSON = ["ports": ports]
        if let selector { spec["selector"] = selector }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": spec]
    }

    /// A pod of app web whose container names `ports` (`name` → containerPort), Running with `ip`, Ready or not.
    static func seedPod(_ emulator: KubernetesEmulator, _ name: String, ports: [String: Int], ip: String?, ready: Bool = true,
                        phase: String = "Running") async throws {
        let containerPorts = ports.keys.sorted().map { key -> JSON in ["name": .string(key), "containerPort": .int(Int64(ports[key]!))] }
        try await emulator.seed(.pods, namespace: "shop", [
            "metadata": ["name": .string(name), "labels": ["app": "web"]],
            "spec": ["containers": [["name": "web", "image": "shop/web:1", "ports": .array(containerPorts)]]],
        ])
        var status: JSON = ["phase": .string(phase), "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]]
        if let ip { status["podIP"] = .string(ip); status["podIPs"] = [["ip": .string(ip)]] }
        try await emulator.setPodStatus(namespace: "shop", name: name, status: status)
    }

    static func slices(_ client: TestClient, service: String = "web") async throws -> [JSON] {
        let answer = try await client.send(.GET, "\(Self.slices)?labelSelector=kubernetes.io%2Fservice-name%3D\(service)")
        #expect(answer.status == 200)
        return answer.body["items"].array ?? []
    }

    @Test func servicesAreDefaultedAndGetAClusterIP() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            let created = try await client.send(.POST, Self.services, Self.service(ports: [["port": 80]]))
            #expect(created.status == 201)
            let spec = created.body["spec"]
            #expect(spec["type"] == "ClusterIP" && spec["sessionAffinity"] == "None")
            #expect(spec["ports"][0]["protocol"] == "TCP" && spec["ports"][0]["targetPort"] == 80)
            let ip = try #require(spec["clusterIP"].string)
            let octets = ip.split(separator: ".").compactMap { Int($0) }
            #expect(octets.count == 4 && octets[0] == 10 && (96...111).contains(octets[1]), "\(ip)")
            #expect(spec["clusterIPs"] == [.string(ip)])

            let headless = try await client.send(.POST, Self.services, {
                var service = Self.service("db", ports: [["name": "pg", "port": 5432]])
                service["spec"]["clusterIP"] = "None"
                return service
            }())
            #expect(headless.status == 201 && headless.body["spec"]["clusterIP"] == "None")

            let dryRun = try await client.send(.POST, "\(Self.services)?dryRun=All", Self.service("tmp", ports: [["port": 81]]))
            #expect(dryRun.status == 201 && dryRun.body["spec"]["clusterIP"].string != nil)
            #expect(await emulator.object(.services, namespace: "shop", name: "tmp") == nil)

            // An update that leaves the address out keeps it; one that changes it is refused.
            var replacement = created.body
            replacement["spec"].removeValue(forKey: "clusterIP")
            replacement["spec"].removeValue(forKey: "clusterIPs")
            replacement["spec"]["ports"] = [["name": "http", "port": 80, "targetPort": "http"]]
            let updated = try await client.send(.PUT, "\(Self.services)/web", replacement)
            #expect(updated.status == 200 && updated.body["spec"]["clusterIP"] == .string(ip))
            var moved = updated.body
            moved["spec"]["clusterIP"] = "10.96.0.77"
            moved["spec"]["clusterIPs"] = ["10.96.0.77"]
            let refused = try await client.send(.PUT, "\(Self.services)/web", moved)
            #expect(refused.status == 422 && refused.body["reason"] == "Invalid")

            let deleted = try await client.send(.DELETE, "\(Self.services)/db")
            #expect(deleted.status == 200 && deleted.body["kind"] == "Service")
        }
    }

    @Test func endpointSlicesFollowThePodsWithPortsResolvedPerPod() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            _ = try await client.send(.POST, Self.services, Self.service(ports: [
                ["name": "http", "port": 80, "targetPort": "http"], ["name": "metrics", "port": 9090],
            ]))
            // No pods yet: one empty slice.
            var slices = try await Self.slices(client)
            #expect(slices.count == 1 && slices[0]["endpoints"] == [] && slices[0]["addressType"] == "IPv4")
            #expect(slices[0]["metadata"]["name"].string?.hasPrefix("web-") == true)
            #expect(slices[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io")
            #expect(slices[0]["metadata"]["ownerReferences"][0]["kind"] == "Service")

            try await Self.seedPod(emulator, "web-a", ports: ["http": 8080], ip: "10.244.1.7")
            try await Self.seedPod(emulator, "web-b", ports: ["http": 8081], ip: "10.244.1.8", ready: false)
            try await Self.seedPod(emulator, "web-c", ports: [:], ip: "10.244.1.9")
            try await Self.seedPod(emulator, "web-d", ports: ["http": 8080], ip: "10.244.1.10", phase: "Failed")
            try await Self.seedPod(emulator, "web-e", ports: ["http": 8080], ip: nil)
            slices = try await Self.slices(client)
            func slice(_ port: Int?) -> JSON? {
                slices.first { slice in
                    let http = (slice["ports"].array ?? []).first { $0["name"] == "http" }?["port"].int
                    return http == port
                }
            }
            #expect(slices.count == 3)
            let a = try #require(slice(8080))
            #expect(a["ports"] == [["name": "http", "protocol": "TCP", "port": 8080], ["name": "metrics", "protocol": "TCP", "port": 9090]])
            #expect((a["endpoints"].array ?? []).map { $0["addresses"][0] } == ["10.244.1.7"])
            #expect(a["endpoints"][0]["conditions"] == ["ready": true, "serving": true, "terminating": false])
            #expect(a["endpoints"][0]["targetRef"]["name"] == "web-a" && a["endpoints"][0]["targetRef"]["kind"] == "Pod")
            let b = try #require(slice(8081))
            #expect(b["endpoints"][0]["conditions"] == ["ready": false, "serving": false, "terminating": false])
            let c = try #require(slice(nil))
            #expect(c["ports"] == [["name": "metrics", "protocol": "TCP", "port": 9090]])
            #expect(c["endpoints"][0]["targetRef"]["name"] == "web-c")

            // A pod that goes takes its endpoint (and here its slice) along.
            _ = try await client.send(.DELETE, "/api/v1/namespaces/shop/pods/web-a")
            slices = try await Self.slices(client)
            #expect(slices.count == 2 && slice(8080) == nil)

            // Deleting the Service collects its slices.
            _ = try await client.send(.DELETE, "\(Self.services)/web")
            #expect(try await Self.slices(client).isEmpty)
            #expect(await emulator.objects(.endpointSlices, namespace: "shop").isEmpty)
        }
    }

    @Test func scheduledPodsGetAnAddressAndAServiceWithoutSelectorIsLeftAlone() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("n1"))
            _ = try await client.send(.POST, Self.services, Self.service(ports: [["port": 80, "targetPort": 8080]]))
            _ = try await client.send(.POST, Self.services, Self.service("external", selector: nil, ports: [["port": 443]]))
            try await emulator.seed(.pods, namespace: "shop", Cluster.pod("web-1"))
            let pod = try #require(await emulator.object(.pods, namespace: "shop", name: "web-1"))
            #expect(pod["spec"]["nodeName"] == "n1" && pod["status"]["podIP"] == "10.244.1.2")
            let slices = try await Self.slices(client)
            #expect(slices.count == 1)
            #expect(slices[0]["endpoints"][0]["addresses"] == ["10.244.1.2"] && slices[0]["endpoints"][0]["nodeName"] == "n1")
            #expect(slices[0]["endpoints"][0]["conditions"]["ready"] == false)
            #expect(slices[0]["ports"] == [["name": "", "protocol": "TCP", "port": 8080]])
            #expect(try await Self.slices(client, service: "external").isEmpty)
        }
    }

    @Test func networkPoliciesGetTheirPolicyTypes() async throws {
        try await withEmulator(namespaces: ["shop"]) { _, client in
            func policy(_ name: String, _ spec: JSON) -> JSON {
                ["apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": ["name": .string(name)], "spec": spec]
            }
            let ingress = try await client.send(.POST, Self.policies, policy("web-in", [
                "podSelector": ["matchLabels": ["app": "web"]],
                "ingress": [["from": [["namespaceSelector": ["matchLabels": ["kubernetes.io/metadata.name": "ingress"]]]],
                             "ports": [["port": "http"]]]],
            ]))
            #expect(ingress.status == 201 && ingress.body["spec"]["policyTypes"] == ["Ingress"])
            #expect(ingress.body["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP")
            let both = try await client.send(.POST, Self.policies, policy("web-out", ["podSelector": [:], "egress": [["to": [["ipBlock": ["cidr": "10.0.0.0/8"]]]]]]))
            #expect(both.body["spec"]["policyTypes"] == ["Ingress", "Egress"])
            let explicit = try await client.send(.POST, Self.policies, policy("deny-egress", ["podSelector": [:], "policyTypes": ["Egress"]]))
            #expect(explicit.body["spec"]["policyTypes"] == ["Egress"] && explicit.body["metadata"]["generation"] == 1)
            let listed = try await client.send(.GET, Self.policies)
            #expect(listed.body["kind"] == "NetworkPolicyList" && (listed.body["items"].array ?? []).count == 3)
        }
    }

    @Test func namespacesCarryTheirNameLabelAndTestsCanAddLabels() async throws {
        try await withEmulator(namespaces: ["shop", "ingress"]) { emulator, client in
            await emulator.setNamespaceLabels("ingress", ["team": "edge"])
            let namespace = try await client.send(.GET, "/api/v1/namespaces/ingress")
            #expect(namespace.body["metadata"]["labels"] == ["kubernetes.io/metadata.name": "ingress", "team": "edge"])
            let shop = try await client.send(.GET, "/api/v1/namespaces/shop")
            #expect(shop.body["metadata"]["labels"] == ["kubernetes.io/metadata.name": "shop"])
            let selected = try await client.send(.GET, "/api/v1/namespaces?labelSelector=team%3Dedge")
            #expect((selected.body["items"].array ?? []).compactMap { $0["metadata"]["name"].string } == ["ingress"])
        }
    }

    @Test func discoveryListsTheNetworkingResources() async throws {
        try await withEmulator(namespaces: ["shop"]) { _, client in
            let core = try await client.send(.GET, "/api/v1")
            #expect((core.body["resources"].array ?? []).contains { $0["name"] == "services" && $0["shortNames"] == ["svc"] })
            let discovery = try await client.send(.GET, "/apis/discovery.k8s.io/v1")
            #expect((discovery.body["resources"].array ?? []).contains { $0["name"] == "endpointslices" && $0["kind"] == "EndpointSlice" })
            let networking = try await client.send(.GET, "/apis/networking.k8s.io/v1")
            #expect((networking.body["resources"].array ?? []).contains { $0["name"] == "networkpolicies" && $0["shortNames"] == ["netpol"] })
            let groups = try await client.send(.GET, "/apis")
            let names = (groups.body["groups"].array ?? []).compactMap { $0["name"].string }
            #expect(names.contains("discovery.k8s.io") && names.contains("networking.k8s.io"))
        }
    }

    @Test func kubectlGetsServicesSlicesAndPolicies() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: KubectlNodeTests.kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try await withEmulator(namespaces: ["default", "shop"]) { emulator, client in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "default")
                let kubectl = KubectlNodeTests.Kubectl(kubeconfig: kubeconfig, directory: directory)
                _ = try await client.send(.POST, Self.services, Self.service(ports: [["name": "http", "port": 80, "targetPort": "http"]]))
                try await Self.seedPod(emulator, "web-a", ports: ["http": 8080], ip: "10.244.1.7")
                _ = try await client.send(.POST, Self.policies, ["apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                                                 "metadata": ["name": "web-in"], "spec": ["podSelector": ["matchLabels": ["app": "web"]]]])
                let (status, output) = try await kubectl("get", "svc,endpointslices,netpol", "-n", "shop")
                #expect(status == 0, "\(output)")
                #expect(output.contains("service/web") && output.contains("ClusterIP") && output.contains("80/TCP"), "\(output)")
                #expect(output.contains("endpointslice.discovery.k8s.io/web-") && output.contains("10.244.1.7") && output.contains("8080"), "\(output)")
                #expect(output.contains("networkpolicy.networking.k8s.io/web-in") && output.contains("app=web"), "\(output)")
                let (_, name) = try await kubectl("get", "endpointslices", "-n", "shop", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[0].endpoints[0].targetRef.name}")
                #expect(name == "web-a")
            }
        }
    }
}
