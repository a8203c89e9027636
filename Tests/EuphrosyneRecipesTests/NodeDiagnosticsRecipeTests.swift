import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// `node-diagnostics` against the emulator, with its own ServiceAccount and the shipped (read-only) RBAC.
@Suite struct NodeDiagnosticsRecipeTests {
    static let notReadyLabels = ["alertname": "KubeNodeNotReady", "node": "worker-2", "severity": "critical"]

    @Test func aNotReadyNodeWithPodsFailingOnlyThereSuggestsCordonAndDrainWithTheirPreviews() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            for index in 1...5 {
                try await cluster.seedNode("worker-\(index)", ready: index == 2 ? "False" : "True", conditions: index == 2 ? [
                    ["type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure",
                     "message": "kubelet has disk pressure", "lastTransitionTime": "2026-12-05T07:59:00Z"],
                ] : [])
            }
            let web = try await cluster.seedOwner("Deployment", "web")
            try await cluster.seedPod("web-a", node: "worker-2", owner: ("ReplicaSet", "web-7d4b9", web), ready: false,
                                      requests: ["cpu": "500m", "memory": "1Gi"])
            try await cluster.seedPod("web-c", node: "worker-1", owner: ("ReplicaSet", "web-7d4b9", web))
            try await cluster.emulator.seed(.events, namespace: "default", [
                "metadata": ["name": "worker-2.1"],
                "involvedObject": ["kind": "Node", "name": "worker-2", "uid": "worker-2"],
                "type": "Warning", "reason": "NodeNotReady", "message": "Node worker-2 status is now: NodeNotReady",
                "count": 1, "source": ["component": "node-controller"], "lastTimestamp": "2026-12-05T08:00:00Z",
            ])
            let kubeconfig = try await cluster.kubeconfig(for: "node-diagnostics")
            let outcome = try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context(
                "node-diagnostics", labels: Self.notReadyLabels, kubeconfig: kubeconfig))

            #expect(outcome.status == .successful)
            #expect(outcome.actions == ["cordon-node", "drain-node"])
            #expect(outcome.analysis == """
                Node worker-2: it is NotReady (KubeletNotReady: container runtime network not ready: NetworkReady=false, since \
                2026-12-05T08:00:00Z); it has DiskPressure (KubeletHasDiskPressure: kubelet has disk pressure, since \
                2026-12-05T07:59:00Z) and may evict pods. It is schedulable. Its pods request cpu 500m of 4 (13%), memory 1Gi \
                of 16Gi (6%), 1 of 110 pods of what it can allocate. 1 of its pods is failing: shop/web-a (CrashLoopBackOff). \
                shop/web-a has healthy replicas on other nodes, so the failure follows this node. Recent events: Warning \
                NodeNotReady at 2026-12-05T08:00:00Z: Node worker-2 status is now: NodeNotReady.
                If you approve cordon-node: node worker-2 becomes unschedulable and its pods keep running; 4 of 5 nodes would \
                stay schedulable and 1 (20%) would be cordoned.
                If you approve drain-node: it would cordon worker-2 and evict 1 pod (shop/web-a).
                """)
            #expect(outcome.json == #"{"nodes":[{"cordoned":false,"inspected":true,"node":"worker-2","problems":["it is NotReady (KubeletNotReady: container runtime network not ready: NetworkReady=false, since 2026-12-05T08:00:00Z)","it has DiskPressure (KubeletHasDiskPressure: kubelet has disk pressure, since 2026-12-05T07:59:00Z) and may evict pods"],"suggested":["cordon-node","drain-node"]}]}"#)
            // It only read.
            let log = await cluster.emulator.requestLog.filter { $0.user.hasSuffix(":node-diagnostics") }
            #expect(!log.isEmpty && log.allSatisfy { $0.method == "GET" })
        }
    }

    @Test func aCordonTheGuardWouldRefuseIsNotSuggestedAndTheAnalysisSaysWhy() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            for index in 1...3 { try await cluster.seedNode("worker-\(index)", ready: index == 2 ? "Unknown" : "True") }
            let kubeconfig = try await cluster.kubeconfig(for: "node-diagnostics")
            let outcome = try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context(
                "node-diagnostics", labels: Self.notReadyLabels, kubeconfig: kubeconfig))
            #expect(outcome.actions.isEmpty)
            #expect(outcome.analysis.contains("its kubelet has stopped reporting: Ready is Unknown"))
            #expect(outcome.analysis.hasSuffix("cordon-node is not suggested: its blast-radius guard would refuse, because it would leave 1 of 3 nodes (33%) cordoned, more than MAX_CORDONED_FRACTION (0.3, 30%)."))
        }
    }

    @Test func aHealthyCordonedNodeSuggestsUncordon() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            try await cluster.seedNode("worker-1")
            try await cluster.seedNode("worker-2", cordoned: true)
            let kubeconfig = try await cluster.kubeconfig(for: "node-diagnostics")
            let outcome = try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context(
                "node-diagnostics", labels: ["node": "worker-2"], kubeconfig: kubeconfig))
            #expect(outcome.actions == ["uncordon-node"])
            #expect(outcome.analysis == """
                Node worker-2: Ready, with no memory, disk or PID pressure. It is cordoned (unschedulable). Its pods request \
                cpu 0m of 4 (0%), memory 0 of 16Gi (0%), 0 of 110 pods of what it can allocate.
                It is healthy but still cordoned. If you approve uncordon-node, it takes new pods again.
                """)
        }
    }

    @Test func missingPermissionsAreListedAndAGoneNodeIsSaidToBeGone() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            let withoutEvents = try NodeCluster.shippedPermissions("node-diagnostics").denying(verbs: ["list"], resources: ["events"])
            let kubeconfig = try await cluster.kubeconfig(for: "node-diagnostics", permissions: withoutEvents)
            let outcome = try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context(
                "node-diagnostics", labels: ["node": "worker-2"], kubeconfig: kubeconfig))
            #expect(outcome.analysis.contains("(Its events could not be read: forbidden: the recipe may not list events in \"default\" (403).)"))
            #expect(outcome.analysis.hasSuffix("Missing Kubernetes permissions: list events in \"default\". Grant them to the recipe's ServiceAccount with a Role (see docs/recipes.md, node-diagnostics)."))

            let gone = await NodeCluster.failure {
                try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context("node-diagnostics", labels: ["node": "worker-9"],
                                                                             kubeconfig: kubeconfig))
            }
            #expect(gone == "Node worker-9: cannot read it: not found (404). It may have been removed from the cluster (scaled down or replaced).")
            let unlabelled = await NodeCluster.failure {
                try await BuiltinRecipes.nodeDiagnostics(NodeCluster.context("node-diagnostics", labels: ["alertname": "X"],
                                                                             kubeconfig: kubeconfig))
            }
            #expect(unlabelled == "no node to diagnose: no firing alert has a node label, or namespace and pod labels of a pod that runs on a node; its labels are alertname")
        }
    }
}
