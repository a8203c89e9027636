import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// Deployments rolled out through ReplicaSets (revisions, restarts, undo, scale, the progress deadline), the Scale
/// subresource and StatefulSets, over HTTP as the rollout recipes use them.
@Suite struct WorkloadTests {
    /// A kubelet whose images `shop/web:1` and `shop/web:2` run `sleep` (Ready at once); any other image never pulls.
    static let kubelet = Kubelet.Configuration(images: [
        "shop/web:1": .init(directory: "/bin", entrypoint: ["sleep", "600"]),
        "shop/web:2": .init(directory: "/bin", entrypoint: ["sleep", "600"]),
    ])
    static let deployments = "/apis/apps/v1/namespaces/shop/deployments"

    static func deployment(_ name: String = "web", replicas: Int = 2, image: String = "shop/web:1", extra: JSON = [:]) -> JSON {
        var spec: JSON = ["replicas": .int(Int64(replicas)), "selector": ["matchLabels": ["app": .string(name)]],
                          "template": ["metadata": ["labels": ["app": .string(name)]],
                                       "spec": ["containers": [["name": "web", "image": .string(image)]]]]]
        for (key, value) in extra.object ?? [:] { spec[key] = value }
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)], "spec": spec]
    }

    /// Polls `check` until it holds, failing after `timeout`.
    static func eventually(_ what: String, timeout: Duration = .seconds(20), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !check() {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether the rollout is done as `kubectl rollout status` decides it.
    static func rolledOut(_ deployment: JSON?) -> Bool {
        guard let deployment else { return false }
        let status = deployment["status"]
        let replicas = deployment["spec"]["replicas"].int ?? 1
        return (status["observedGeneration"].int ?? 0) >= (deployment["metadata"]["generation"].int ?? 1)
            && (status["updatedReplicas"].int ?? 0) == replicas && (status["replicas"].int ?? 0) == replicas
            && (status["availableReplicas"].int ?? 0) == replicas
    }

    static func progressing(_ deployment: JSON?) -> JSON? {
        (deployment?["status"]["conditions"].array ?? []).first { $0["type"] == "Progressing" }
    }

    static func replicaSets(_ emulator: KubernetesEmulator) async -> [JSON] {
        await emulator.objects(.replicaSets, namespace: "shop")
    }

    static func livePods(_ emulator: KubernetesEmulator) async -> [JSON] {
        await emulator.objects(.pods, namespace: "shop").filter { $0["metadata"]["deletionTimestamp"].isNull }
    }

    @Test func aDeploymentRollsOutRestartsAndRollsBackThroughReplicaSets() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            let created = try await client.send(.POST, Self.deployments, Self.deployment())
            #expect(created.status == 201)
            try await Self.eventually("the first rollout") { Self.rolledOut(await emulator.object(.deployments, namespace: "shop", name: "web")) }
            var deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1")
            #expect(Self.progressing(deployment)?["reason"] == "NewReplicaSetAvailable")
            #expect(Self.progressing(deployment)?["message"].string?.hasSuffix("has successfully progressed.") == true)
            #expect((deployment["status"]["conditions"].array ?? []).first?["reason"] == "MinimumReplicasAvailable")
            #expect(deployment["status"]["unavailableReplicas"].isNull && deployment["status"]["readyReplicas"] == 2)

            let first = try #require(await Self.replicaSets(emulator).first)
            let hash = try #require(first["metadata"]["labels"]["pod-template-hash"].string)
            #expect(first["metadata"]["name"].string == "web-\(hash)")
            #expect(first["spec"]["selector"]["matchLabels"] == ["app": "web", "pod-template-hash": .string(hash)])
            #expect(first["spec"]["template"]["metadata"]["labels"]["pod-template-hash"].string == hash)
            #expect(first["metadata"]["ownerReferences"][0]["uid"] == created.body["metadata"]["uid"])
            #expect(first["metadata"]["ownerReferences"][0]["controller"] == true)
            #expect(first["status"]["readyReplicas"] == 2 && first["status"]["availableReplicas"] == 2)
            let pods = await Self.livePods(emulator)
            #expect(pods.count == 2)
            #expect(pods.allSatisfy { ($0["metadata"]["name"].string ?? "").hasPrefix("web-\(hash)-") && $0["metadata"]["labels"]["app"] == "web" })
            #expect(pods.allSatisfy { $0["metadata"]["ownerReferences"][0]["name"].string == "web-\(hash)" })

            // kubectl rollout restart.
            let restart = try await client.send(.PATCH, "\(Self.deployments)/web?fieldManager=kubectl-rollout",
                                                ["spec": ["template": ["metadata": ["annotations": ["kubectl.kubernetes.io/restartedAt": "2026-12-05T10:00:00Z"]]]]],
                                                contentType: "application/strategic-merge-patch+json")
            #expect(restart.status == 200 && restart.body["metadata"]["generation"] == 2)
            try await Self.eventually("the restart's rollout") {
                let now = await emulator.object(.deployments, namespace: "shop", name: "web")
                return Self.rolledOut(now) && now?["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
            }
            var sets = await Self.replicaSets(emulator)
            #expect(sets.count == 2)
            let second = try #require(sets.first { $0["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2" })
            #expect(sets.first { $0["metadata"]["name"] == first["metadata"]["name"] }?["spec"]["replicas"] == 0)
            try await Self.eventually("the old pods to go") {
                await Self.livePods(emulator).allSatisfy { $0["metadata"]["labels"]["pod-template-hash"] == second["metadata"]["labels"]["pod-template-hash"] }
            }

            // kubectl rollout undo: the ReplicaSets by the Deployment's selector, the previous revision's template whole.
            let listed = try await client.send(.GET, "/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dweb")
            let previous = try #require((listed.body["items"].array ?? []).first { $0["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1" })
            var template = previous["spec"]["template"]
            template["metadata"]["labels"].removeValue(forKey: "pod-template-hash")
            template["metadata"]["creationTimestamp"] = .null
            let undo = try await client.send(.PATCH, "\(Self.deployments)/web", [
                ["op": "replace", "path": "/spec/template", "value": template],
                ["op": "replace", "path": "/metadata/annotations", "value": ["deployment.kubernetes.io/revision": "2"]],
            ], contentType: "application/json-patch+json")
            #expect(undo.status == 200)
            try await Self.eventually("the undo's rollout") {
                let now = await emulator.object(.deployments, namespace: "shop", name: "web")
                return Self.rolledOut(now) && now?["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            }
            sets = await Self.replicaSets(emulator)
            #expect(sets.count == 2)
            let readopted = try #require(sets.first { $0["metadata"]["name"] == first["metadata"]["name"] })
            #expect(readopted["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3")
            #expect(readopted["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1")
            #expect(readopted["spec"]["replicas"] == 2)
            deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(deployment["spec"]["template"]["metadata"]["annotations"].isNull)
        }
    }

    @Test func theScaleSubresourceReadsAndWritesReplicas() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            _ = try await client.send(.POST, Self.deployments, Self.deployment(replicas: 1))
            let scale = try await client.send(.GET, "\(Self.deployments)/web/scale")
            #expect(scale.status == 200 && scale.body["kind"] == "Scale" && scale.body["apiVersion"] == "autoscaling/v1")
            #expect(scale.body["spec"]["replicas"] == 1 && scale.body["status"]["selector"] == "app=web")
            #expect(scale.body["metadata"]["name"] == "web" && scale.body["metadata"]["namespace"] == "shop")

            let dryRun = try await client.send(.PATCH, "\(Self.deployments)/web/scale?dryRun=All", ["spec": ["replicas": 5]],
                                               contentType: "application/merge-patch+json")
            #expect(dryRun.status == 200 && dryRun.body["spec"]["replicas"] == 5)
            #expect(await emulator.object(.deployments, namespace: "shop", name: "web")?["spec"]["replicas"] == 1)

            let patched = try await client.send(.PATCH, "\(Self.deployments)/web/scale", ["spec": ["replicas": 3]],
                                                contentType: "application/merge-patch+json")
            #expect(patched.status == 200 && patched.body["spec"]["replicas"] == 3)
            #expect(await emulator.object(.deployments, namespace: "shop", name: "web")?["metadata"]["generation"] == 2)
            try await Self.eventually("three ready pods") { Self.rolledOut(await emulator.object(.deployments, namespace: "shop", name: "web")) }
            #expect(await Self.livePods(emulator).count == 3)

            // kubectl scale --current-replicas: GET, then PUT with the resourceVersion read.
            var current = try await client.send(.GET, "\(Self.deployments)/web/scale").body
            #expect(current["status"]["replicas"] == 3)
            current["spec"]["replicas"] = 1
            let put = try await client.send(.PUT, "\(Self.deployments)/web/scale", current)
            #expect(put.status == 200 && put.body["spec"]["replicas"] == 1)
            let stale = try await client.send(.PUT, "\(Self.deployments)/web/scale", current)
            #expect(stale.status == 409 && stale.body["reason"] == "Conflict")
            try await Self.eventually("one pod left") {
                let rolledOut = Self.rolledOut(await emulator.object(.deployments, namespace: "shop", name: "web"))
                let pods = await Self.livePods(emulator).count
                return rolledOut && pods == 1
            }
        }
    }

    @Test func newPodsThatNeverBecomeReadyExceedTheProgressDeadlineAndKeepTheOldOnes() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            _ = try await client.send(.POST, Self.deployments, Self.deployment(replicas: 1, extra: ["progressDeadlineSeconds": 1]))
            try await Self.eventually("the first rollout") { Self.rolledOut(await emulator.object(.deployments, namespace: "shop", name: "web")) }
            let broken = try await client.send(.PATCH, "\(Self.deployments)/web",
                                               ["spec": ["template": ["spec": ["containers": [["name": "web", "image": "shop/web:missing"]]]]]],
                                               contentType: "application/strategic-merge-patch+json")
            #expect(broken.status == 200)
            try await Self.eventually("ProgressDeadlineExceeded", timeout: .seconds(15)) {
                Self.progressing(await emulator.object(.deployments, namespace: "shop", name: "web"))?["reason"] == "ProgressDeadlineExceeded"
            }
            let deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(Self.progressing(deployment)?["status"] == "False")
            #expect(Self.progressing(deployment)?["message"].string?.hasSuffix("has timed out progressing.") == true)
            // maxSurge 1, maxUnavailable 0: the old pod keeps serving next to the new one that cannot pull its image.
            #expect(deployment["status"]["replicas"] == 2 && deployment["status"]["updatedReplicas"] == 1)
            #expect(deployment["status"]["availableReplicas"] == 1 && deployment["status"]["unavailableReplicas"].isNull)
            let waiting = await Self.livePods(emulator).compactMap { $0["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].string }
            #expect(waiting.count == 1 && ["ErrImagePull", "ImagePullBackOff"].contains(waiting[0]))
        }
    }

    @Test func theProgressDeadlineCanBeExpiredByATestHook() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            _ = try await client.send(.POST, Self.deployments, Self.deployment(replicas: 1, image: "shop/web:missing"))
            var deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(Self.progressing(deployment)?["status"] == "True")
            #expect(["NewReplicaSetCreated", "ReplicaSetUpdated"].contains(Self.progressing(deployment)?["reason"].string ?? ""))
            #expect(deployment["status"]["unavailableReplicas"] == 1)
            #expect((deployment["status"]["conditions"].array ?? []).first?["reason"] == "MinimumReplicasUnavailable")
            try await emulator.expireProgressDeadline(namespace: "shop", name: "web")
            deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(Self.progressing(deployment)?["reason"] == "ProgressDeadlineExceeded")
        }
    }

    @Test func withoutAKubeletReplicaSetsGetNoPodsAndPausedDeploymentsDoNotRollOut() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            _ = try await client.send(.POST, Self.deployments, Self.deployment(extra: ["paused": true]))
            #expect(await Self.replicaSets(emulator).isEmpty)
            var deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(Self.progressing(deployment)?["reason"] == "DeploymentPaused" && Self.progressing(deployment)?["status"] == "Unknown")

            let resumed = try await client.send(.PATCH, "\(Self.deployments)/web", ["spec": ["paused": false]], contentType: "application/merge-patch+json")
            #expect(resumed.status == 200)
            let sets = await Self.replicaSets(emulator)
            #expect(sets.count == 1 && sets.first?["spec"]["replicas"] == 2 && sets.first?["status"]["replicas"] == 0)
            #expect(await Self.livePods(emulator).isEmpty)
            deployment = try #require(await emulator.object(.deployments, namespace: "shop", name: "web"))
            #expect(deployment["status"]["unavailableReplicas"] == 2 && deployment["status"]["replicas"].isNull)
            #expect(deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"])

            // A ReplicaSet is read whole; its status counters are omitempty except `replicas`.
            let name = sets.first?["metadata"]["name"].string ?? ""
            let read = try await client.send(.GET, "/apis/apps/v1/namespaces/shop/replicasets/\(name)")
            #expect(read.status == 200 && read.body["status"] == ["replicas": 0, "observedGeneration": 1])
            let scale = try await client.send(.GET, "/apis/apps/v1/namespaces/shop/replicasets/\(name)/scale")
            #expect(scale.body["status"]["selector"].string?.hasPrefix("app=web,pod-template-hash=") == true)
        }
    }

    @Test func revisionHistoryLimitDeletesTheOldestIdleReplicaSets() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            _ = try await client.send(.POST, Self.deployments, Self.deployment(replicas: 1, extra: ["revisionHistoryLimit": 1]))
            for round in 1...3 {
                let patch: JSON = ["spec": ["template": ["metadata": ["annotations": ["kubectl.kubernetes.io/restartedAt": .string("2026-12-05T10:00:0\(round)Z")]]]]]
                _ = try await client.send(.PATCH, "\(Self.deployments)/web", patch, contentType: "application/strategic-merge-patch+json")
                try await Self.eventually("rollout \(round)") {
                    let now = await emulator.object(.deployments, namespace: "shop", name: "web")
                    return Self.rolledOut(now) && now?["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == .string(String(round + 1))
                }
            }
            try await Self.eventually("the history trimmed to one old ReplicaSet") {
                await Self.replicaSets(emulator).compactMap { $0["metadata"]["annotations"]["deployment.kubernetes.io/revision"].string }.sorted() == ["3", "4"]
            }
        }
    }

    @Test func podsWhoseProcessEndsAreReplacedAfterABackOff() async throws {
        try await withEmulator(namespaces: ["shop"], kubelet: Self.kubelet) { emulator, client in
            let watch = try await client.watch("/api/v1/namespaces/shop/pods?watch=true")
            var manifest = Self.deployment(replicas: 1)
            manifest["spec"]["template"]["spec"]["containers"] = [["name": "web", "image": "shop/web:1", "command": ["true"]]]
            let started = ContinuousClock.now
            _ = try await client.send(.POST, Self.deployments, manifest)
            try await Self.eventually("a third pod") {
                await watch.events.filter { $0["type"] == "ADDED" }.count >= 3
            }
            // 0.2 s, then 0.4 s before the replacements (the kubelet's retryBackoff, doubling): not a tight loop.
            #expect(ContinuousClock.now - started >= .milliseconds(500))
            await watch.cancel()
            #expect(await emulator.objects(.pods, namespace: "shop").count <= 1)
        }
    }

    @Test func statefulSetsAreStoredWithAStatus() async throws {
        try await withEmulator(namespaces: ["shop"]) { emulator, client in
            var manifest = Self.deployment("db", replicas: 3)
            manifest["kind"] = "StatefulSet"
            manifest["spec"]["serviceName"] = "db"
            let created = try await client.send(.POST, "/apis/apps/v1/namespaces/shop/statefulsets", manifest)
            #expect(created.status == 201 && created.body["spec"]["podManagementPolicy"] == "OrderedReady")
            var status = try await client.send(.GET, "/apis/apps/v1/namespaces/shop/statefulsets/db").body
            status["status"] = ["replicas": 3, "readyReplicas": 2, "availableReplicas": 2]
            let updated = try await client.send(.PUT, "/apis/apps/v1/namespaces/shop/statefulsets/db/status", status)
            #expect(updated.status == 200)
            #expect(try await client.send(.GET, "/apis/apps/v1/namespaces/shop/statefulsets/db").body["status"]["readyReplicas"] == 2)
            #expect(await emulator.objects(.pods, namespace: "shop").isEmpty)
            let discovery = try await client.send(.GET, "/apis/apps/v1")
            let names = (discovery.body["resources"].array ?? []).compactMap { $0["name"].string }
            #expect(["statefulsets", "replicasets", "replicasets/status", "deployments/scale", "replicasets/scale"].allSatisfy(names.contains))
        }
    }
}
