import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// The real kubectl (v1.32) on nodes: `get nodes`, `cordon`, `uncordon` and `drain` (evictions, PodDisruptionBudgets,
/// DaemonSet pods, server-side dry runs), against the emulator.
@Suite struct KubectlNodeTests {
    static let kubectl = "/usr/bin/kubectl"

    /// Runs kubectl with a kubeconfig for the emulator; returns its exit status and stdout + stderr.
    struct Kubectl {
        var kubeconfig: String
        var directory: String

        func callAsFunction(_ arguments: String...) async throws -> (status: Int32, output: String) {
            let (status, output, errors) = try await run(
                KubectlNodeTests.kubectl,
                ["--kubeconfig", kubeconfig, "--cache-dir", "\(directory)/cache", "--request-timeout", "20s"] + arguments,
                environment: ["HOME": directory, "PATH": "/usr/bin:/bin"]
            )
            return (status, output + errors)
        }
    }

    static func withKubectl(_ body: (KubernetesEmulator, Kubectl) async throws -> Void) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            try await withEmulator(namespaces: ["default", "shop"]) { emulator, _ in
                let kubeconfig = "\(directory)/kubeconfig"
                try await emulator.writeKubeconfig(to: kubeconfig, namespace: "default")
                try await body(emulator, Kubectl(kubeconfig: kubeconfig, directory: directory))
            }
        }
    }

    /// n1 with a DaemonSet pod, two Deployment pods (one with an emptyDir) and, optionally, a pod without a controller.
    static func seedNodeWithPods(_ emulator: KubernetesEmulator, bare: Bool) async throws {
        try await emulator.seed(.nodes, namespace: "", Cluster.node("n1"))
        try await emulator.seed(.nodes, namespace: "", Cluster.node("n2"))
        let daemonSet = try await emulator.seed(.daemonSets, namespace: "shop", Cluster.daemonSet("agent"))
        let deployment = try await emulator.seed(.deployments, namespace: "shop", Cluster.deployment("web"))
        try await emulator.seed(.pods, namespace: "shop", Cluster.pod("agent-1", node: "n1", labels: ["app": "agent"], owner: daemonSet))
        var withScratch = Cluster.pod("web-1", node: "n1", owner: deployment)
        withScratch["spec"]["volumes"] = [["name": "scratch", "emptyDir": [:]]]
        try await emulator.seed(.pods, namespace: "shop", withScratch)
        try await emulator.seed(.pods, namespace: "shop", Cluster.pod("web-2", node: "n1", owner: deployment))
        try await emulator.seed(.pods, namespace: "shop", Cluster.pod("web-3", node: "n2", owner: deployment))
        if bare { try await emulator.seed(.pods, namespace: "default", Cluster.pod("bare", node: "n1", labels: ["app": "bare"])) }
        for (namespace, pod) in [("shop", "agent-1"), ("shop", "web-1"), ("shop", "web-2"), ("shop", "web-3")] + (bare ? [("default", "bare")] : []) {
            try await emulator.setPodStatus(namespace: namespace, name: pod, status: Cluster.running())
        }
    }

    static func podNames(_ emulator: KubernetesEmulator, _ namespace: String) async -> [String] {
        await emulator.objects(.pods, namespace: namespace).compactMap { $0["metadata"]["name"].string }
    }

    @Test func getNodesShowsStatusRolesAndVersion() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("cp-1", labels: ["node-role.kubernetes.io/control-plane": ""]))
            try await emulator.seed(.nodes, namespace: "", Cluster.node("worker-1", ready: "False"))
            try await emulator.seed(.nodes, namespace: "", Cluster.node("worker-2", ready: nil, unschedulable: true))
            let (status, output) = try await kubectl("get", "nodes")
            #expect(status == 0, "\(output)")
            let rows = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(rows.first == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"])
            #expect(rows.dropFirst().map { [$0[0], $0[1], $0[2], $0.last ?? ""] } == [
                ["cp-1", "Ready", "control-plane", "v1.32.4"],
                ["worker-1", "NotReady", "<none>", "v1.32.4"],
                ["worker-2", "Unknown,SchedulingDisabled", "<none>", "v1.32.4"],
            ])
            let (_, short) = try await kubectl("get", "no", "cp-1", "-o", "jsonpath={.status.conditions[0].type}")
            #expect(short == "Ready")
        }
    }

    @Test func cordonAndUncordon() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("n1"))
            await emulator.clearRequestLog()
            let cordon = try await kubectl("cordon", "n1")
            #expect(cordon.status == 0 && cordon.output.contains("node/n1 cordoned"), "\(cordon.output)")
            let node = try #require(await emulator.object(.nodes, namespace: "", name: "n1"))
            #expect(node["spec"]["unschedulable"] == true && node["spec"]["taints"][0]["key"] == "node.kubernetes.io/unschedulable")
            let patch = try #require(await emulator.requestLog.first { $0.method == "PATCH" })
            #expect(patch.path == "/api/v1/nodes/n1" && patch.contentType == "application/strategic-merge-patch+json" && patch.status == 200)
            let (_, table) = try await kubectl("get", "nodes")
            #expect(table.contains("Ready,SchedulingDisabled"))

            let dry = try await kubectl("uncordon", "n1", "--dry-run=server")
            #expect(dry.status == 0 && dry.output.contains("(server dry run)"), "\(dry.output)")
            #expect(await emulator.object(.nodes, namespace: "", name: "n1")?["spec"]["unschedulable"] == true)

            let uncordon = try await kubectl("uncordon", "n1")
            #expect(uncordon.status == 0 && uncordon.output.contains("node/n1 uncordoned"), "\(uncordon.output)")
            let after = try #require(await emulator.object(.nodes, namespace: "", name: "n1"))
            #expect(after["spec"]["unschedulable"].isNull && after["spec"]["taints"].isNull)
        }
    }

    @Test func drainEvictsTheNodesPods() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await Self.seedNodeWithPods(emulator, bare: true)
            // A pod without a controller stops the drain (and nothing is evicted) unless --force.
            let refused = try await kubectl("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=10s")
            #expect(refused.status != 0)
            #expect(refused.output.contains("cannot delete Pods that declare no controller (use --force to override): default/bare"), "\(refused.output)")
            #expect(await Self.podNames(emulator, "shop") == ["agent-1", "web-1", "web-2", "web-3"])
            #expect(await emulator.object(.nodes, namespace: "", name: "n1")?["spec"]["unschedulable"] == true, "drain cordons first")

            await emulator.clearRequestLog()
            let drained = try await kubectl("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=10s")
            #expect(drained.status == 0, "\(drained.output)")
            #expect(drained.output.contains("node/n1 drained") && drained.output.contains("ignoring DaemonSet-managed Pods: shop/agent-1"))
            #expect(drained.output.contains("evicting pod shop/web-1") && drained.output.contains("pod/web-2 evicted"))
            #expect(await Self.podNames(emulator, "shop") == ["agent-1", "web-3"])
            #expect(await Self.podNames(emulator, "default") == [])
            let log = await emulator.requestLog
            #expect(log.contains { $0.method == "POST" && $0.path == "/api/v1/namespaces/shop/pods/web-1/eviction" && $0.status == 201 })
            #expect(log.contains { $0.path == "/api/v1/pods" && $0.query["fieldSelector"] == "spec.nodeName=n1" })
            #expect(log.contains { $0.path == "/apis/apps/v1/namespaces/shop/daemonsets/agent" && $0.status == 200 })
        }
    }

    @Test func drainBlockedByABudgetTimesOut() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await Self.seedNodeWithPods(emulator, bare: false)
            try await emulator.seed(.podDisruptionBudgets, namespace: "shop", Cluster.budget("web-pdb", minAvailable: 3))
            let blocked = try await kubectl("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=2s")
            #expect(blocked.status != 0)
            #expect(blocked.output.contains("Cannot evict pod as it would violate the pod's disruption budget."), "\(blocked.output)")
            #expect(blocked.output.contains("global timeout reached: 2s"), "\(blocked.output)")
            #expect(await Self.podNames(emulator, "shop") == ["agent-1", "web-1", "web-2", "web-3"])
        }
    }

    @Test func drainServerDryRunChangesNothing() async throws {
        try await Self.withKubectl { emulator, kubectl in
            try await Self.seedNodeWithPods(emulator, bare: false)
            let dry = try await kubectl("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--dry-run=server", "--timeout=10s")
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.output.contains("(server dry run)"), "\(dry.output)")
            #expect(await emulator.object(.nodes, namespace: "", name: "n1")?["spec"]["unschedulable"].isNull == true)
            #expect(await Self.podNames(emulator, "shop") == ["agent-1", "web-1", "web-2", "web-3"])
            let log = await emulator.requestLog
            #expect(log.contains { $0.method == "POST" && $0.path.hasSuffix("/eviction") && $0.status == 201 })
        }
    }
}
