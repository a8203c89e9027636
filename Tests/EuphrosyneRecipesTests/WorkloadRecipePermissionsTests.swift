import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// Least privilege for the workload actions, both ways: each, run through every path that reads or writes (the
/// Deployment named, or found from a pod; each kind of controller for `delete-pod`), uses exactly what
/// `deploy/components/workload-recipes/rbac.yaml` grants its ServiceAccount.
@Suite struct WorkloadRecipePermissionsTests {
    static func used(_ cluster: NodeCluster, by account: String) async -> Set<String> {
        Set(await cluster.emulator.requestLog.filter { $0.user == "system:serviceaccount:euphrosyne:\(account)" }.map(\.permission))
    }

    static func aPodOfWeb(_ cluster: NodeCluster) async throws -> String {
        try #require(await cluster.emulator.objects(.pods, namespace: "shop").first {
            $0["metadata"]["labels"]["app"].string == "web" && $0["metadata"]["deletionTimestamp"].isNull
        }?["metadata"]["name"].string)
    }

    @Test(arguments: ["rollout-restart", "rollout-undo", "scale-deployment"])
    func eachDeploymentActionUsesWhatItIsGranted(account: String) async throws {
        try await WorkloadActionRecipeTests.withWorkloads { cluster in
            try await WorkloadActionRecipeTests.deploy(cluster)
            if account == "rollout-undo" {
                // A second revision to go back to.
                _ = try await BuiltinRecipes.rolloutRestart(try await WorkloadActionRecipeTests.context("rollout-restart", cluster))
            }
            let data: [String: JSONValue] = account == "scale-deployment" ? ["replicas": .number(3)] : [:]
            let byPod = try await WorkloadActionRecipeTests.context(account, cluster, labels: ["namespace": "shop", "pod": try await Self.aPodOfWeb(cluster)], data: data)
            let work = try #require(BuiltinRecipes.all[account])
            let outcome = try await work(byPod)
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let granted = try NodeCluster.shippedPermissions(account).grantedPermissions
            let used = await Self.used(cluster, by: account)
            #expect(used == granted, "granted but unused: \(granted.subtracting(used).sorted()); used but not granted: \(used.subtracting(granted).sorted())")
        }
    }

    @Test func deletePodReadsTheReadyCountOfEachKindOfController() async throws {
        try await WorkloadActionRecipeTests.withWorkloads { cluster in
            try await WorkloadActionRecipeTests.deploy(cluster)
            let context = { (pod: String) in
                try await WorkloadActionRecipeTests.context("delete-pod", cluster, labels: ["namespace": "shop", "pod": pod])
            }
            _ = try await BuiltinRecipes.deletePod(try await context(try await Self.aPodOfWeb(cluster)))
            // A StatefulSet's and a DaemonSet's pods (no controller runs them here: their ready counts are set).
            for (kind, resource, field) in [("StatefulSet", Resource.statefulSets, "readyReplicas"), ("DaemonSet", .daemonSets, "numberReady")] {
                let name = kind.lowercased()
                let owner = try await cluster.emulator.seed(resource, namespace: "shop", [
                    "metadata": ["name": .string(name)],
                    "spec": ["selector": ["matchLabels": ["app": .string(name)]], "serviceName": .string(name),
                             "template": ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": [["name": "c", "image": "x"]]]]],
                ])
                try await cluster.emulator.setStatus(resource, namespace: "shop", name: name, status: [field: 3])
                try await cluster.seedPod("\(name)-0", node: "emulator-node", owner: (kind, name, owner["metadata"]["uid"].string ?? ""),
                                          labels: ["app": .string(name)])
                let outcome = try await BuiltinRecipes.deletePod(try await context("\(name)-0"))
                #expect(outcome.status == .successful, "\(outcome.analysis)")
            }
            let granted = try NodeCluster.shippedPermissions("delete-pod").grantedPermissions
            let used = await Self.used(cluster, by: "delete-pod")
            #expect(used == granted, "granted but unused: \(granted.subtracting(used).sorted()); used but not granted: \(used.subtracting(granted).sorted())")
        }
    }
}
