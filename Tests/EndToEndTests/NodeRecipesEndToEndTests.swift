import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing
import Yams

/// The node recipes in cluster mode, as `deploy/overlays/cluster-recipes` installs them: its registry entries and
/// the RBAC of `deploy/components/node-recipes`, each recipe's Job running with its own ServiceAccount in the emulator (whose kubelet hands a pod the
/// credentials of its `serviceAccountName`).
@Suite struct NodeRecipesEndToEndTests {
    static let namespace = ClusterModeEndToEndTests.namespace
    static let component = DeploymentTests.root.appendingPathComponent("deploy/components/node-recipes")

    /// The registry ConfigMap of `deploy/overlays/cluster-recipes`, as it installs it.
    static func shippedRegistry() throws -> JSON {
        let yaml = try String(contentsOf: DeploymentTests.root.appendingPathComponent("deploy/overlays/cluster-recipes/registry.yaml"),
                              encoding: .utf8)
        let object = try #require(try Yams.load(yaml: yaml) as? [String: Any])
        return try JSON.parse(JSONSerialization.data(withJSONObject: object))
    }

    static func notReadyAlert() -> String {
        """
        {"version":"4","groupKey":"{}:{alertname=\\"KubeNodeNotReady\\"}","status":"firing","receiver":"euphrosyne",
         "groupLabels":{"alertname":"KubeNodeNotReady"},"commonLabels":{"alertname":"KubeNodeNotReady","node":"worker-2","severity":"critical"},
         "commonAnnotations":{"summary":"worker-2 has been unready for more than 15 minutes"},"externalURL":"http://alertmanager:9093",
         "alerts":[{"status":"firing","labels":{"alertname":"KubeNodeNotReady","node":"worker-2","severity":"critical"},
           "annotations":{"summary":"worker-2 has been unready for more than 15 minutes"},
           "startsAt":"2026-12-05T08:01:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"a1b2c3d4e5f60718"}]}
        """
    }

    @Test func aNotReadyNodeIsDiagnosedPreviewedAndCordonedByItsOwnServiceAccount() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let emulator = try await ClusterModeEndToEndTests.emulator(loop, permissions: .reconciler())
        do {
            await emulator.createNamespace("default")
            for index in 1...5 {
                let ready = index == 2 ? "False" : "True"
                try await emulator.seed(.nodes, namespace: "", [
                    "metadata": ["name": .string("worker-\(index)")],
                    "status": ["conditions": [["type": "Ready", "status": .string(ready),
                                               "reason": .string(index == 2 ? "KubeletNotReady" : "KubeletReady"),
                                               "message": .string(index == 2 ? "PLEG is not healthy" : "kubelet is posting ready status"),
                                               "lastTransitionTime": "2026-12-05T08:00:00Z"]],
                               "allocatable": ["cpu": "4", "memory": "16Gi", "pods": "110"]],
                ])
            }
            // The recipes' accounts, with exactly what the component's RBAC grants them.
            let rbac = try String(contentsOf: Self.component.appendingPathComponent("rbac.yaml"), encoding: .utf8)
            for account in ["node-diagnostics", "cordon-node", "uncordon-node", "drain-node"] {
                await emulator.addServiceAccount(namespace: Self.namespace, name: account,
                                                 permissions: try Permissions.granted(to: account, byManifests: rbac))
            }
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: Self.namespace)
            _ = try await emulator.seed(.configMaps, namespace: Self.namespace, Self.shippedRegistry())

            try await withRedisServer { redis in
                try await RunningServer.with([loop.bot.router]) { botPorts in
                    try await ServeProcess.with(ClusterModeEndToEndTests.serveArguments(redisPort: redis.port, botPort: botPorts[0]),
                                                environment: ClusterModeEndToEndTests.serveEnvironment(loop),
                                                inheritingEnvironment: false, directory: loop.directory) { serve in
                        let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: botPorts[0])
                        try await Self.exercise(endpoints, emulator, loop)
                    }
                }
            }
        } catch {
            await emulator.stop()
            throw error
        }
        await emulator.stop()
    }

    static func exercise(_ endpoints: LocalLoop.Endpoints, _ emulator: KubernetesEmulator, _ loop: LocalLoop) async throws {
        let id = try await endpoints.alert(Self.notReadyAlert())
        let uuid = id.uuidString.lowercased()

        // node-diagnostics suggests cordon-node, with the preview of what it would do.
        try await waitUntil("the analysis at the bot", timeout: .seconds(90)) {
            !loop.bot.received(path: "/api/analysis").isEmpty
        }
        let analysis = try #require(loop.bot.received(path: "/api/analysis").first?.json)
        let suggested = analysis["actions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(suggested.contains("cordon-node"), "\(analysis)")
        let text = analysis["analysis"]?.stringValue ?? ""
        #expect(text.contains("Node worker-2: it is NotReady (KubeletNotReady: PLEG is not healthy"), "\(text)")
        #expect(text.contains("If you approve cordon-node: node worker-2 becomes unschedulable and its pods keep running; 4 of 5 nodes would stay schedulable and 1 (20%) would be cordoned."),
                "\(text)")
        let diagnosisReads = await emulator.requestLog.filter { $0.user == "system:serviceaccount:\(namespace):node-diagnostics" }
        #expect(diagnosisReads.contains { $0.path == "/api/v1/nodes/worker-2" && $0.status == 200 })
        #expect(diagnosisReads.allSatisfy { $0.method == "GET" })
        #expect(await emulator.object(.nodes, namespace: "", name: "worker-2")?["spec"]["unschedulable"].isNull == true)

        // The approval runs cordon-node as a Job with its own ServiceAccount; the node is cordoned.
        let (approved, _) = try await endpoints.post(endpoints.api, "/api/actions",
                                                     #"{"uuid":"\#(uuid)","actions":[{"name":"cordon-node"}]}"#)
        #expect(approved == 202)
        try await waitUntil("the cordon's outcome at the bot", timeout: .seconds(90)) {
            loop.bot.received(path: "/api/analysis").count == 2
        }
        let outcome = loop.bot.received(path: "/api/analysis").last?.json?["analysis"]?.stringValue ?? ""
        #expect(outcome.contains("Cordoned node worker-2: it takes no new pods"), "\(outcome)")
        #expect(outcome.contains("Way back: approve uncordon-node."), "\(outcome)")
        #expect(await emulator.object(.nodes, namespace: "", name: "worker-2")?["spec"]["unschedulable"].bool == true)
        let patch = try #require(await emulator.requestLog.first { $0.method == "PATCH" && $0.path == "/api/v1/nodes/worker-2" })
        #expect(patch.user == "system:serviceaccount:\(namespace):cordon-node" && patch.status == 200)
        // The reconciler itself never touched the node.
        let reconcilerWrites = await emulator.requestLog.filter {
            $0.user == KubernetesEmulator.adminUser && $0.path.hasPrefix("/api/v1/nodes") && $0.method != "GET"
        }
        #expect(reconcilerWrites.isEmpty)
    }
}
