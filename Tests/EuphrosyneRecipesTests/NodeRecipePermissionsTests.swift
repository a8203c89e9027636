import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// Least privilege, both ways: each node recipe, run through every path that reads or writes, uses exactly what
/// `deploy/components/node-recipes/rbac.yaml` grants its ServiceAccount: a missing rule fails the recipe, and a rule
/// no path uses fails this test.
@Suite struct NodeRecipePermissionsTests {
    /// worker-2 is NotReady and runs a crash-looping web pod (its sibling on worker-1 is fine), a DaemonSet pod and
    /// a budget guards web.
    static func seed(_ cluster: NodeCluster) async throws {
        for index in 1...5 { try await cluster.seedNode("worker-\(index)", ready: index == 2 ? "False" : "True") }
        let web = try await cluster.seedOwner("Deployment", "web")
        let logs = try await cluster.seedOwner("DaemonSet", "fluent-bit", namespace: "kube-system")
        try await cluster.seedPod("web-a", node: "worker-2", owner: ("ReplicaSet", "web-7d4b9", web), ready: false)
        try await cluster.seedPod("web-c", node: "worker-1", owner: ("ReplicaSet", "web-7d4b9", web))
        try await cluster.seedPod("fluent-bit-x", namespace: "kube-system", node: "worker-2", owner: ("DaemonSet", "fluent-bit", logs),
                                  labels: ["app": "fluent-bit"])
        try await cluster.emulator.seed(.podDisruptionBudgets, namespace: "shop", [
            "metadata": ["name": "web-pdb"], "spec": ["minAvailable": 1, "selector": ["matchLabels": ["app": "web"]]],
        ])
    }

    /// What the account was seen to be authorised for, as `verb resource[.group]`.
    static func used(_ cluster: NodeCluster, by account: String) async -> Set<String> {
        Set(await cluster.emulator.requestLog.filter { $0.user == "system:serviceaccount:euphrosyne:\(account)" }.map(\.permission))
    }

    @Test(arguments: ["node-diagnostics", "cordon-node", "uncordon-node", "drain-node"])
    func everyGrantedPermissionIsUsedAndNoOtherIsNeeded(account: String) async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            try await Self.seed(cluster)
            let kubeconfig = try await cluster.kubeconfig(for: account)
            let environment = ["DRAIN_RETRY_SECONDS": "0.05", "DRAIN_TIMEOUT_SECONDS": "20"]
            // By the node label, and by a pod whose node is looked up.
            let byNode = try NodeCluster.context(account, labels: ["node": "worker-2"], kubeconfig: kubeconfig, environment: environment)
            let byPod = try NodeCluster.context(account, labels: ["namespace": "shop", "pod": "web-a"], kubeconfig: kubeconfig,
                                            environment: environment)
            let work = try #require(BuiltinRecipes.all[account])
            if account == "uncordon-node" {
                _ = try await BuiltinRecipes.cordonNode(try NodeCluster.context(
                    "cordon-node", labels: ["node": "worker-3"], kubeconfig: try await cluster.kubeconfig(for: "cordon-node")))
                _ = try await work(try NodeCluster.context(account, labels: ["node": "worker-3"], kubeconfig: kubeconfig))
                _ = try await work(byPod)
            } else {
                let first = try await work(byNode)
                #expect(first.status == .successful, "\(first.analysis)")
                if account == "drain-node" {
                    // web-a is gone with the drain: its sibling's node is looked up (the guard then refuses).
                    _ = try? await work(try NodeCluster.context(account, labels: ["namespace": "shop", "pod": "web-c"],
                                                                kubeconfig: kubeconfig, environment: environment))
                } else {
                    _ = try await work(byPod)
                }
            }
            let granted = try NodeCluster.shippedPermissions(account).grantedPermissions
            let used = await Self.used(cluster, by: account)
            #expect(used == granted, "granted but unused: \(granted.subtracting(used).sorted()); used but not granted: \(used.subtracting(granted).sorted())")
        }
    }
}
