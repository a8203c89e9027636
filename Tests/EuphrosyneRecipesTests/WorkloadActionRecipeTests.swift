import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// `rollout-restart`, `rollout-undo`, `scale-deployment` and `delete-pod` against the emulator, whose deployment
/// controller rolls Deployments out through ReplicaSets and whose kubelet runs their pods (`shop/web:1` and `:2` run;
/// `shop/web:broken` never starts), each recipe with its own ServiceAccount and the shipped RBAC.
@Suite struct WorkloadActionRecipeTests {
    /// Runs `body` in a cluster whose kubelet has the web images; their `serve` waits until the pod is stopped.
    static func withWorkloads<T: Sendable>(_ body: (NodeCluster) async throws -> T) async throws -> T {
        let images = FileManager.default.temporaryDirectory.appendingPathComponent("web-image-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: images) }
        try writeExecutableScript(at: images + "/serve", "#!/bin/sh\nexec sleep 600\n")
        let image = Kubelet.Image(directory: images)
        return try await NodeCluster.with(nodes: 0, images: ["shop/web:1": image, "shop/web:2": image], body)
    }

    /// The Deployment `shop/web` with `replicas` pods of `image`; waits until its rollout is complete when the image runs.
    static func deploy(_ cluster: NodeCluster, replicas: Int = 2, image: String = "shop/web:1") async throws {
        try await cluster.emulator.seed(.deployments, namespace: "shop", [
            "metadata": ["name": "web"],
            "spec": ["replicas": .int(Int64(replicas)), "selector": ["matchLabels": ["app": "web"]],
                     "template": ["metadata": ["labels": ["app": "web"]],
                                  "spec": ["containers": [["name": "web", "image": .string(image), "command": ["serve"]]]]]],
        ])
        if image != "shop/web:broken" { try await waitForRollout(cluster, available: replicas) }
    }

    static func waitForRollout(_ cluster: NodeCluster, available: Int) async throws {
        try await waitUntil("the rollout of shop/web", timeout: .seconds(60)) {
            let web = await cluster.emulator.object(.deployments, namespace: "shop", name: "web")
            return web?["status"]["availableReplicas"].int == available && web?["status"]["updatedReplicas"].int == available
                && web?["status"]["replicas"].int == available
        }
    }

    static let environment = ["ROLLOUT_POLL_SECONDS": "0.05", "ROLLOUT_TIMEOUT_SECONDS": "60", "DELETE_POD_POLL_SECONDS": "0.05",
                              "DELETE_POD_TIMEOUT_SECONDS": "60"]

    static func context(_ recipe: String, _ cluster: NodeCluster, labels: [String: String] = ["namespace": "shop", "deployment": "web"],
                        data: [String: JSONValue] = [:], environment: [String: String] = [:]) async throws -> RecipeContext {
        try NodeCluster.context(recipe, labels: labels, data: data, kubeconfig: try await cluster.kubeconfig(for: recipe),
                                environment: Self.environment.merging(environment) { $1 })
    }

    static func replicaSets(_ cluster: NodeCluster) async -> [String: String] {
        var revisions: [String: String] = [:]
        for set in await cluster.emulator.objects(.replicaSets, namespace: "shop") {
            revisions[set["metadata"]["name"].string ?? "?"] = set["metadata"]["annotations"]["deployment.kubernetes.io/revision"].string
        }
        return revisions
    }

    @Test func restartRollsEveryPodAndReportsOnlyOnceTheRolloutCompleted() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster)
            let before = Set(await cluster.emulator.objects(.pods, namespace: "shop").compactMap { $0["metadata"]["uid"].string })
            let outcome = try await BuiltinRecipes.rolloutRestart(try await Self.context("rollout-restart", cluster))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis == "Restarted deployment shop/web: the rollout completed, 2 of 2 replicas updated and 2 available, revision 2.")
            let pods = await cluster.emulator.objects(.pods, namespace: "shop").filter { $0["metadata"]["deletionTimestamp"].isNull }
            #expect(pods.count == 2 && pods.allSatisfy { !before.contains($0["metadata"]["uid"].string ?? "") })
            let template = await cluster.emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["template"]
            #expect(template?["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].string != nil)
            let patch = try #require(await cluster.emulator.requestLog.first { $0.method == "PATCH" })
            #expect(patch.contentType == "application/strategic-merge-patch+json" && patch.user.hasSuffix(":rollout-restart"))
        }
    }

    @Test func aRolloutThatNeverBecomesAvailableFailsAndSuggestsUndo() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster, image: "shop/web:broken")
            let outcome = try await BuiltinRecipes.rolloutRestart(try await Self.context(
                "rollout-restart", cluster, environment: ["ROLLOUT_TIMEOUT_SECONDS": "1"]))
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.hasPrefix("The rollout of deployment shop/web did not complete: it did not complete before the recipe's deadline: "),
                    "\(outcome.analysis)")
            #expect(outcome.analysis.hasSuffix("Approve rollout-undo to go back to the previous revision."))
            #expect(outcome.actions == ["rollout-undo"])
        }
    }

    @Test func aRolloutPastItsProgressDeadlineFailsAtOnce() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster, image: "shop/web:broken")
            async let restarted = BuiltinRecipes.rolloutRestart(try await Self.context("rollout-restart", cluster))
            // Once the restart's ReplicaSet exists, its rollout runs out of time (the controller's clock, not ours).
            try await waitUntil("the restart's ReplicaSet") { await Self.replicaSets(cluster).count == 2 }
            try await cluster.emulator.expireProgressDeadline(namespace: "shop", name: "web")
            let outcome = try await restarted
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("exceeded its progress deadline"), "\(outcome.analysis)")
        }
    }

    @Test func undoGoesBackToThePreviousTemplate() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster, image: "shop/web:1")
            // Version 2 goes out; then the undo puts version 1 back.
            _ = try await BuiltinRecipes.rolloutRestart(try await Self.context("rollout-restart", cluster))
            let image = await cluster.emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["template"]["spec"]["containers"][0]["image"].string
            #expect(image == "shop/web:1")
            let outcome = try await BuiltinRecipes.rolloutUndo(try await Self.context("rollout-undo", cluster))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis.hasPrefix("Rolled back deployment shop/web to the template of revision 1 (ReplicaSet web-"), "\(outcome.analysis)")
            #expect(outcome.analysis.hasSuffix("the rollout completed, 2 of 2 replicas updated and 2 available, revision 3."))
            let template = await cluster.emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["template"]
            #expect(template?["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].isNull == true)
            #expect(await Self.replicaSets(cluster).values.sorted() == ["2", "3"])
            // Once more goes back to the restart's template; a revision that does not exist is named.
            let missing = await NodeCluster.failure {
                try await BuiltinRecipes.rolloutUndo(try await Self.context("rollout-undo", cluster, data: ["toRevision": .number(9)]))
            }
            #expect(missing == "unable to find revision 9 of deployment web; it has 2, 3")
        }
    }

    @Test func undoWithoutHistoryAndAPausedDeploymentAreRefused() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster)
            let none = await NodeCluster.failure {
                try await BuiltinRecipes.rolloutUndo(try await Self.context("rollout-undo", cluster))
            }
            #expect(none == "no rollout history found for deployment web: it has 1 revision, so there is nothing to go back to")
        }
    }

    @Test func scaleChangesTheReplicasWithinTheBoundsAndWaitsForThem() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster)
            let outcome = try await BuiltinRecipes.scaleDeployment(try await Self.context(
                "scale-deployment", cluster, data: ["replicas": .string("3")]))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis == "Scaled deployment shop/web from 2 to 3 replicas: 3 of 3 replicas updated and 3 available, revision 1. Way back: approve scale-deployment with replicas 2.")
            let scale = try #require(await cluster.emulator.requestLog.first { $0.method == "PATCH" })
            #expect(scale.path == "/apis/apps/v1/namespaces/shop/deployments/web/scale" && scale.contentType == "application/merge-patch+json")
            let tooMany = await NodeCluster.failure {
                try await BuiltinRecipes.scaleDeployment(try await Self.context("scale-deployment", cluster, data: ["replicas": .number(50)]))
            }
            #expect(tooMany == "refused to scale to 50 replicas: outside MIN_REPLICAS..MAX_REPLICAS (1...10). Nothing changed.")
            let none = await NodeCluster.failure {
                try await BuiltinRecipes.scaleDeployment(try await Self.context("scale-deployment", cluster))
            }
            #expect(none == "no replica count: give \"replicas\" (a whole number) in the approval data")
        }
    }

    @Test func deletePodDeletesOneReplicaAndWaitsForItsReplacement() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster)
            let victim = try #require(await cluster.emulator.objects(.pods, namespace: "shop").first?["metadata"]["name"].string)
            let outcome = try await BuiltinRecipes.deletePod(try await Self.context(
                "delete-pod", cluster, labels: ["namespace": "shop", "pod": victim]))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis.hasPrefix("Deleted pod shop/\(victim); its ReplicaSet web-"), "\(outcome.analysis)")
            #expect(outcome.analysis.hasSuffix("replaced it and has 2 ready replicas again."))
            #expect(await cluster.emulator.object(.pods, namespace: "shop", name: victim) == nil)
        }
    }

    @Test func deletePodRefusesAPodNothingWouldReplaceOrTheLastReadyReplica() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster, replicas: 1)
            try await cluster.seedPod("debug", node: "emulator-node", owner: nil, labels: ["app": "debug"])
            let bare = await NodeCluster.failure {
                try await BuiltinRecipes.deletePod(try await Self.context("delete-pod", cluster, labels: ["namespace": "shop", "pod": "debug"]))
            }
            #expect(bare == "refused to delete pod shop/debug: it has no controller, so nothing would replace it. Nothing changed.")
            let only = try #require(await cluster.emulator.objects(.pods, namespace: "shop")
                .first { $0["metadata"]["labels"]["app"].string == "web" }?["metadata"]["name"].string)
            let last = await NodeCluster.failure {
                try await BuiltinRecipes.deletePod(try await Self.context("delete-pod", cluster, labels: ["namespace": "shop", "pod": only]))
            }
            #expect(last?.hasSuffix("has 1 ready replica, fewer than 2, so deleting it would leave none serving. Nothing changed.") == true, "\(last ?? "")")
            #expect(await cluster.emulator.object(.pods, namespace: "shop", name: only) != nil)
        }
    }

    @Test func aDryRunChangesNothingAndAMissingPermissionIsNamed() async throws {
        try await Self.withWorkloads { cluster in
            try await Self.deploy(cluster)
            let dry = try await BuiltinRecipes.rolloutRestart(try await Self.context("rollout-restart", cluster, data: ["dryRun": .bool(true)]))
            #expect(dry.analysis.hasPrefix("Dry run: restarting deployment shop/web would set its pod template's kubectl.kubernetes.io/restartedAt to "))
            #expect(await Self.replicaSets(cluster).count == 1)
            #expect(await cluster.emulator.requestLog.filter { $0.method == "PATCH" }.allSatisfy { $0.query["dryRun"] == "All" })

            let withoutPatch = try NodeCluster.shippedPermissions("rollout-restart").denying(verbs: ["patch"], group: "apps", resources: ["deployments"])
            _ = try await cluster.kubeconfig(for: "rollout-restart", permissions: withoutPatch)
            let context = try NodeCluster.context("rollout-restart", labels: ["namespace": "shop", "deployment": "web"],
                                                  kubeconfig: try await cluster.kubeconfig(for: "rollout-restart", permissions: withoutPatch))
            let denied = await NodeCluster.failure { try await BuiltinRecipes.rolloutRestart(context) }
            #expect(denied == "cannot restart deployment shop/web: forbidden: the recipe may not patch deployments.apps in \"shop\" (403). Grant \"patch deployments.apps in \"shop\"\" to the recipe's ServiceAccount (see docs/recipes.md)")
            let unlabelled = await NodeCluster.failure {
                try await BuiltinRecipes.rolloutRestart(try await Self.context("rollout-restart", cluster, labels: ["alertname": "HighErrorRate"]))
            }
            #expect(unlabelled == "no Deployment to act on: give namespace and deployment (or a pod of it) in the approval data, or alert with those labels; its labels are alertname")
        }
    }
}
