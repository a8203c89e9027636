import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// `cordon-node`, `uncordon-node` and `drain-node` against the emulator, each with its own ServiceAccount and the
/// shipped RBAC: the change, its dry run, and every refusal.
@Suite struct NodeActionRecipeTests {
    @Test func cordonMarksTheNodeUnschedulableAsKubectlDoes() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node")
            let outcome = try await BuiltinRecipes.cordonNode(NodeCluster.context(
                "cordon-node", labels: ["alertname": "KubeNodeNotReady", "node": "worker-2"], kubeconfig: kubeconfig))
            #expect(outcome.status == .successful)
            #expect(outcome.analysis == "Cordoned node worker-2: it takes no new pods, and the pods on it keep running; 4 of 5 nodes stay schedulable and 1 (20%) is cordoned. Way back: approve uncordon-node.")
            #expect(outcome.actions == ["uncordon-node"])
            #expect(outcome.json == #"{"changed":true,"cordoned":true,"dryRun":false,"node":"worker-2"}"#)
            #expect(await cluster.node("worker-2")?["spec"]["unschedulable"].bool == true)
            let patch = try #require(await cluster.emulator.requestLog.first { $0.method == "PATCH" })
            #expect(patch.path == "/api/v1/nodes/worker-2" && patch.contentType == "application/strategic-merge-patch+json")
            #expect(patch.user == "system:serviceaccount:euphrosyne:cordon-node")
        }
    }

    @Test func theApproversNodeWinsAndADryRunChangesNothing() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node")
            let outcome = try await BuiltinRecipes.cordonNode(NodeCluster.context(
                "cordon-node", labels: ["node": "worker-2"], data: ["node": .string("worker-3"), "dryRun": .bool(true)],
                kubeconfig: kubeconfig))
            #expect(outcome.analysis == "Dry run: cordoning node worker-3 would set spec.unschedulable to true (the API server accepted the change in a dry run); 4 of 5 nodes would stay schedulable and 1 (20%) would be cordoned. Nothing changed.")
            #expect(outcome.actions.isEmpty)
            #expect(await cluster.node("worker-3")?["spec"]["unschedulable"].isNull == true)
            let patch = try #require(await cluster.emulator.requestLog.first { $0.method == "PATCH" })
            #expect(patch.query["dryRun"] == "All")
        }
    }

    @Test func theBlastRadiusGuardRefusesAndChangesNothing() async throws {
        try await NodeCluster.with(nodes: 3) { cluster in
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node")
            let message = await NodeCluster.failure {
                try await BuiltinRecipes.cordonNode(NodeCluster.context("cordon-node", labels: ["node": "worker-1"], kubeconfig: kubeconfig))
            }
            #expect(message == "refused to cordon node worker-1: it would leave 1 of 3 nodes (33%) cordoned, more than MAX_CORDONED_FRACTION (0.3, 30%). Nothing changed. The limits are the recipe's MIN_SCHEDULABLE_NODES and MAX_CORDONED_FRACTION.")
            // A lower bar lets it through; too few schedulable nodes still refuse.
            let allowed = try await BuiltinRecipes.cordonNode(NodeCluster.context(
                "cordon-node", labels: ["node": "worker-1"], kubeconfig: kubeconfig, environment: ["MAX_CORDONED_FRACTION": "0.5"]))
            #expect(allowed.status == .successful)
            let second = await NodeCluster.failure {
                try await BuiltinRecipes.cordonNode(NodeCluster.context(
                    "cordon-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig, environment: ["MAX_CORDONED_FRACTION": "1"]))
            }
            #expect(second?.contains("it would leave 1 schedulable node, fewer than MIN_SCHEDULABLE_NODES (2)") == true)
            #expect(await cluster.emulator.requestLog.filter { $0.method == "PATCH" }.count == 1)
        }
    }

    @Test func aMissingPermissionIsNamedAsVerbAndResource() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            let withoutPatch = try NodeCluster.shippedPermissions("cordon-node").denying(verbs: ["patch"], resources: ["nodes"])
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node", permissions: withoutPatch)
            let message = await NodeCluster.failure {
                try await BuiltinRecipes.cordonNode(NodeCluster.context("cordon-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig))
            }
            #expect(message == "cannot cordon node worker-2: forbidden: the recipe may not patch nodes (403). Grant \"patch nodes\" to the recipe's ServiceAccount (see docs/recipes.md)")
        }
    }

    @Test func withoutANodeLabelTheRecipeSaysWhatItHad() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node")
            let message = await NodeCluster.failure {
                try await BuiltinRecipes.cordonNode(NodeCluster.context("cordon-node", labels: ["alertname": "HighLatency", "service": "web"],
                                                                        kubeconfig: kubeconfig))
            }
            #expect(message == "no node to act on: the approval data has no \"node\", and no firing alert has a node label, or namespace and pod labels of a pod that runs on a node; its labels are alertname, service")
            let gone = await NodeCluster.failure {
                try await BuiltinRecipes.cordonNode(NodeCluster.context("cordon-node", labels: ["node": "worker-9"], kubeconfig: kubeconfig))
            }
            #expect(gone == "node worker-9 does not exist (404); nothing changed")
        }
    }

    @Test func thePodsNodeIsTheTargetWhenTheAlertNamesAPod() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            try await cluster.seedPod("debug", node: "worker-4", owner: nil)
            let kubeconfig = try await cluster.kubeconfig(for: "cordon-node")
            let outcome = try await BuiltinRecipes.cordonNode(NodeCluster.context(
                "cordon-node", labels: ["namespace": "shop", "pod": "debug"], kubeconfig: kubeconfig))
            #expect(outcome.analysis.hasPrefix("Cordoned node worker-4:"))
        }
    }

    @Test func uncordonIsTheWayBack() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            for index in 1...4 { try await cluster.seedNode("worker-\(index)", cordoned: index == 2) }
            let kubeconfig = try await cluster.kubeconfig(for: "uncordon-node")
            let outcome = try await BuiltinRecipes.uncordonNode(NodeCluster.context(
                "uncordon-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig))
            #expect(outcome.analysis == "Uncordoned node worker-2: it takes new pods again.")
            #expect(await cluster.node("worker-2")?["spec"]["unschedulable"].isNull == true)
            let again = try await BuiltinRecipes.uncordonNode(NodeCluster.context(
                "uncordon-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig))
            #expect(again.analysis == "Node worker-2 is already schedulable; nothing changed.")
            let patch = try #require(await cluster.emulator.requestLog.first { $0.method == "PATCH" })
            #expect(patch.user == "system:serviceaccount:euphrosyne:uncordon-node")
        }
    }

    // MARK: drain-node

    /// worker-2 runs two web pods (a budget guards web), a DaemonSet pod and, when `bare`, a pod without a controller;
    /// worker-1 runs a third web pod.
    static func seedWorkloads(_ cluster: NodeCluster, minAvailable: Int, bare: Bool = false) async throws {
        let web = try await cluster.seedOwner("Deployment", "web")
        let logs = try await cluster.seedOwner("DaemonSet", "fluent-bit", namespace: "kube-system")
        try await cluster.seedPod("web-a", node: "worker-2", owner: ("ReplicaSet", "web-7d4b9", web))
        try await cluster.seedPod("web-b", node: "worker-2", owner: ("ReplicaSet", "web-7d4b9", web))
        try await cluster.seedPod("web-c", node: "worker-1", owner: ("ReplicaSet", "web-7d4b9", web))
        try await cluster.seedPod("fluent-bit-x", namespace: "kube-system", node: "worker-2", owner: ("DaemonSet", "fluent-bit", logs),
                                  labels: ["app": "fluent-bit"])
        if bare { try await cluster.seedPod("debug", node: "worker-2", owner: nil, labels: ["app": "debug"]) }
        try await cluster.emulator.seed(.podDisruptionBudgets, namespace: "shop", [
            "metadata": ["name": "web-pdb"],
            "spec": ["minAvailable": .int(Int64(minAvailable)), "selector": ["matchLabels": ["app": "web"]]],
        ])
    }

    @Test func drainEvictsThroughTheEvictionAPIAndLeavesDaemonSetPods() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            try await Self.seedWorkloads(cluster, minAvailable: 1)
            let kubeconfig = try await cluster.kubeconfig(for: "drain-node")
            let outcome = try await BuiltinRecipes.drainNode(NodeCluster.context(
                "drain-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig,
                environment: ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "20"]))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis == "Drained node worker-2: cordoned it and evicted 2 pods (shop/web-a, shop/web-b), left 1 DaemonSet pod (kube-system/fluent-bit-x). Way back: approve uncordon-node.")
            #expect(await cluster.node("worker-2")?["spec"]["unschedulable"].bool == true)
            let left = await cluster.emulator.objects(.pods, namespace: "shop").compactMap { $0["metadata"]["name"].string }
            #expect(left == ["web-c"])
            #expect(await cluster.emulator.objects(.pods, namespace: "kube-system").count == 1)
            let evictions = await cluster.emulator.requestLog.filter { $0.path.hasSuffix("/eviction") }
            #expect(evictions.allSatisfy { $0.user == "system:serviceaccount:euphrosyne:drain-node" } && !evictions.isEmpty)
            // Again: the node is cordoned already and only the DaemonSet's pod is left.
            let again = try await BuiltinRecipes.drainNode(NodeCluster.context(
                "drain-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig,
                environment: ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "20"]))
            #expect(again.analysis == "Drained node worker-2: it was cordoned already; found no pod to evict, left 1 DaemonSet pod (kube-system/fluent-bit-x). Way back: approve uncordon-node.")
        }
    }

    @Test func aDrainBlockedByABudgetNamesItAtTheDeadline() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            // Three web pods, all needed: no eviction is ever allowed.
            try await Self.seedWorkloads(cluster, minAvailable: 3)
            let kubeconfig = try await cluster.kubeconfig(for: "drain-node")
            let outcome = try await BuiltinRecipes.drainNode(NodeCluster.context(
                "drain-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig,
                environment: ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "0.3"]))
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Not evicted, refused by their PodDisruptionBudget until the end: shop/web-a (The disruption budget web-pdb needs 3 healthy pods and has 3 currently)"),
                    "\(outcome.analysis)")
            #expect(outcome.analysis.hasSuffix("The node stays cordoned; approve uncordon-node to undo that."))
            #expect(outcome.actions == ["uncordon-node"])
            #expect(await cluster.emulator.objects(.pods, namespace: "shop").count == 3)
        }
    }

    @Test func aDrainAsksAgainUntilTheBudgetLetsItThrough() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            try await Self.seedWorkloads(cluster, minAvailable: 3)
            let kubeconfig = try await cluster.kubeconfig(for: "drain-node")
            let context = try NodeCluster.context("drain-node", labels: ["node": "worker-2"], kubeconfig: kubeconfig,
                                                  environment: ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "120"])
            async let drained = BuiltinRecipes.drainNode(context)
            // Refused, and asked again...
            try await waitUntil("two refused evictions of web-a") {
                await cluster.emulator.requestLog.filter { $0.path.hasSuffix("/web-a/eviction") && $0.status == 429 }.count >= 2
            }
            // ... until two more web pods are Ready elsewhere: the budget then allows both evictions.
            let web = try #require(await cluster.emulator.objects(.deployments, namespace: "shop").first?["metadata"]["uid"].string)
            try await cluster.seedPod("web-d", node: "worker-3", owner: ("ReplicaSet", "web-7d4b9", web))
            try await cluster.seedPod("web-e", node: "worker-4", owner: ("ReplicaSet", "web-7d4b9", web))
            let outcome = try await drained
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(await cluster.emulator.objects(.pods, namespace: "shop").compactMap { $0["metadata"]["name"].string } == ["web-c", "web-d", "web-e"])
        }
    }

    @Test func aPodWithoutAControllerRefusesTheDrainUntilForced() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            try await Self.seedWorkloads(cluster, minAvailable: 1, bare: true)
            let kubeconfig = try await cluster.kubeconfig(for: "drain-node")
            let environment = ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "20"]
            let message = await NodeCluster.failure {
                try await BuiltinRecipes.drainNode(NodeCluster.context("drain-node", labels: ["node": "worker-2"],
                                                                       kubeconfig: kubeconfig, environment: environment))
            }
            #expect(message == "refused to drain node worker-2. Nothing was evicted: shop/debug has no controller, so nothing would recreate it. Approve again with \"force\": true in the data to evict it anyway. The node was not cordoned.")
            #expect(await cluster.node("worker-2")?["spec"]["unschedulable"].isNull == true)
            #expect(await cluster.emulator.objects(.pods, namespace: "shop").count == 4)

            let forced = try await BuiltinRecipes.drainNode(NodeCluster.context(
                "drain-node", labels: ["node": "worker-2"], data: ["force": .string("true")], kubeconfig: kubeconfig,
                environment: environment))
            #expect(forced.status == .successful, "\(forced.analysis)")
            #expect(await cluster.emulator.objects(.pods, namespace: "shop").compactMap { $0["metadata"]["name"].string } == ["web-c"])
        }
    }

    @Test func aDrainDryRunAsksTheServerAndChangesNothing() async throws {
        try await NodeCluster.with(nodes: 5) { cluster in
            try await Self.seedWorkloads(cluster, minAvailable: 2)
            let kubeconfig = try await cluster.kubeconfig(for: "drain-node")
            let outcome = try await BuiltinRecipes.drainNode(NodeCluster.context(
                "drain-node", labels: ["node": "worker-2"], data: ["dryRun": .bool(true)], kubeconfig: kubeconfig))
            #expect(outcome.status == .successful)
            #expect(outcome.analysis.hasPrefix("Dry run: draining node worker-2 would cordon it and evict 2 pods (shop/web-a, shop/web-b), leave 1 DaemonSet pod (kube-system/fluent-bit-x); the PodDisruptionBudget shop/web-pdb allows 1 disruption now and 2 of its pods are on the node"),
                    "\(outcome.analysis)")
            #expect(outcome.analysis.hasSuffix("Nothing changed."))
            #expect(await cluster.node("worker-2")?["spec"]["unschedulable"].isNull == true)
            #expect(await cluster.emulator.objects(.pods, namespace: "shop").count == 3)
            let writes = await cluster.emulator.requestLog.filter { $0.method == "POST" || $0.method == "PATCH" }
            #expect(!writes.isEmpty && writes.allSatisfy { $0.query["dryRun"] == "All" })
        }
    }
}
