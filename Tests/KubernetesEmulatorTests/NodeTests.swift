import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOHTTP1
import Testing

/// Nodes (cluster-scoped), the node controller's `unschedulable` taint, and the scheduler.
@Suite struct NodeTests {
    static let nodes = "/api/v1/nodes"
    static let strategic = "application/strategic-merge-patch+json"

    @Test func nodesAreClusterScopedWithEveryVerb() async throws {
        try await withEmulator { emulator, client in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("n1", labels: ["pool": "a"]))
            let created = try await client.send(.POST, Self.nodes, Cluster.node("n2", unschedulable: false))
            #expect(created.status == 201)
            #expect(created.body["metadata"]["namespace"].isNull && created.body["spec"]["unschedulable"].isNull)
            #expect(created.body["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.4", "a Node keeps the status it is created with")
            let dry = try await client.send(.POST, Self.nodes + "?dryRun=All", Cluster.node("n3"))
            #expect(dry.status == 201 && dry.body["metadata"]["name"] == "n3")
            #expect(await emulator.object(.nodes, namespace: "", name: "n3") == nil)
            #expect(await emulator.objects(.nodes, namespace: "").compactMap { $0["metadata"]["name"].string } == ["n1", "n2"])

            let list = try await client.send(.GET, Self.nodes)
            #expect(list.status == 200 && list.body["kind"] == "NodeList" && list.body["items"].array?.count == 2)
            #expect(try await client.send(.GET, "\(Self.nodes)/n1").body["metadata"]["labels"]["pool"] == "a")
            let missing = try await client.send(.GET, "\(Self.nodes)/nope")
            #expect(missing.status == 404 && missing.body["message"] == "nodes \"nope\" not found")
            // Namespaced URLs do not exist for a cluster-scoped resource, nor cluster URLs for one namespaced object.
            #expect(try await client.send(.GET, "/api/v1/namespaces/default/nodes").status == 404)
            #expect(try await client.send(.GET, "/api/v1/namespaces/default/nodes/n1").status == 404)
            #expect(try await client.send(.GET, "/api/v1/pods/x").status == 404)

            // Selectors.
            let byName = try await client.send(.GET, "\(Self.nodes)?fieldSelector=metadata.name%3Dn2")
            #expect(byName.body["items"].array?.compactMap { $0["metadata"]["name"].string } == ["n2"])
            let byLabel = try await client.send(.GET, "\(Self.nodes)?labelSelector=pool%3Da")
            #expect(byLabel.body["items"].array?.compactMap { $0["metadata"]["name"].string } == ["n1"])

            let watch = try await client.watch("\(Self.nodes)?watch=true&resourceVersion=\(await emulator.currentResourceVersion)")

            // Cordon (strategic merge): unschedulable, and the node controller's taint.
            let cordoned = try await client.send(.PATCH, "\(Self.nodes)/n1", ["spec": ["unschedulable": true]], contentType: Self.strategic)
            #expect(cordoned.status == 200 && cordoned.body["spec"]["unschedulable"] == true)
            let stored = try #require(await emulator.object(.nodes, namespace: "", name: "n1"))
            let taint = try #require(stored["spec"]["taints"].array?.first)
            #expect(taint["key"] == "node.kubernetes.io/unschedulable" && taint["effect"] == "NoSchedule" && taint["timeAdded"].string != nil)
            let unschedulable = try await client.send(.GET, "\(Self.nodes)?fieldSelector=spec.unschedulable%3Dtrue")
            #expect(unschedulable.body["items"].array?.compactMap { $0["metadata"]["name"].string } == ["n1"])
            let schedulable = try await client.send(.GET, "\(Self.nodes)?fieldSelector=spec.unschedulable%3Dfalse")
            #expect(schedulable.body["items"].array?.compactMap { $0["metadata"]["name"].string } == ["n2"])
            let events = try await watch.waitFor(2)
            #expect(events.allSatisfy { $0["type"] == "MODIFIED" && $0["object"]["metadata"]["name"] == "n1" })
            #expect(events.last?["object"]["spec"]["taints"].array?.count == 1)
            await watch.cancel()

            // Uncordon: null deletes the key, the taint goes.
            let uncordoned = try await client.send(.PATCH, "\(Self.nodes)/n1", ["spec": ["unschedulable": .null]], contentType: Self.strategic)
            #expect(uncordoned.status == 200 && uncordoned.body["spec"]["unschedulable"].isNull)
            #expect(await emulator.object(.nodes, namespace: "", name: "n1")?["spec"]["taints"].isNull == true)

            // dryRun changes nothing; merge and JSON patches work; false is dropped.
            let version = await emulator.object(.nodes, namespace: "", name: "n2")?["metadata"]["resourceVersion"]
            let dryPatch = try await client.send(.PATCH, "\(Self.nodes)/n2?dryRun=All", ["spec": ["unschedulable": true]], contentType: Self.strategic)
            #expect(dryPatch.status == 200 && dryPatch.body["spec"]["unschedulable"] == true)
            #expect(await emulator.object(.nodes, namespace: "", name: "n2")?["metadata"]["resourceVersion"] == version)
            #expect(await emulator.object(.nodes, namespace: "", name: "n2")?["spec"]["unschedulable"].isNull == true)
            let merged = try await client.send(.PATCH, "\(Self.nodes)/n2", ["spec": ["unschedulable": false], "metadata": ["labels": ["x": "y"]]],
                                               contentType: "application/merge-patch+json")
            #expect(merged.status == 200 && merged.body["spec"]["unschedulable"].isNull && merged.body["metadata"]["labels"]["x"] == "y")
            let jsonPatched = try await client.send(.PATCH, "\(Self.nodes)/n2", [["op": "add", "path": "/spec/unschedulable", "value": true]],
                                                    contentType: "application/json-patch+json")
            #expect(jsonPatched.status == 200 && jsonPatched.body["spec"]["unschedulable"] == true)
            let status = try await client.send(.PATCH, "\(Self.nodes)/n2/status", ["status": ["nodeInfo": ["kubeletVersion": "v1.33.0"]]],
                                               contentType: "application/merge-patch+json")
            #expect(status.status == 200 && status.body["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.0")

            // PUT keeps the status (a subresource) and takes the spec.
            var node = try #require(await emulator.object(.nodes, namespace: "", name: "n2"))
            node["spec"]["unschedulable"] = false
            node["status"] = [:]
            let put = try await client.send(.PUT, "\(Self.nodes)/n2", node)
            #expect(put.status == 200 && put.body["spec"]["unschedulable"].isNull && put.body["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.0")

            // Delete answers a Status; deletecollection by label.
            let deleted = try await client.send(.DELETE, "\(Self.nodes)/n2")
            #expect(deleted.status == 200 && deleted.body["kind"] == "Status" && deleted.body["details"]["kind"] == "nodes")
            let collection = try await client.send(.DELETE, "\(Self.nodes)?labelSelector=pool%3Da")
            #expect(collection.status == 200 && collection.body["items"].array?.count == 1)
            #expect(await emulator.objects(.nodes, namespace: "").isEmpty)
        }
    }

    @Test func nodeValidation() async throws {
        try await withEmulator { emulator, client in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("n1"))
            let garbage = try await client.send(.PATCH, "\(Self.nodes)/n1", ["spec": ["unschedulable": "yes"]], contentType: Self.strategic)
            #expect(garbage.status == 422 && garbage.body["reason"] == "Invalid")
            #expect(garbage.body["details"]["causes"][0]["field"] == "spec.unschedulable")
            let badEffect = try await client.send(.POST, Self.nodes, Cluster.node("n2", taints: [["key": "dedicated", "effect": "Sometimes"]]))
            #expect(badEffect.status == 422)
            #expect(badEffect.body["details"]["causes"][0]["field"] == "spec.taints[0].effect")
            #expect(badEffect.body["details"]["causes"][0]["reason"] == "FieldValueNotSupported")
            let noKey = try await client.send(.POST, Self.nodes, Cluster.node("n2", taints: [["effect": "NoSchedule"]]))
            #expect(noKey.status == 422 && noKey.body["details"]["causes"][0]["field"] == "spec.taints[0].key")
            #expect(await emulator.object(.nodes, namespace: "", name: "n1")?["spec"]["unschedulable"].isNull == true)
        }
    }

    @Test func nodesNeedClusterWideRules() async throws {
        try await withEmulator(namespaces: ["default", "recipes"]) { emulator, client in
            try await emulator.seed(.nodes, namespace: "", Cluster.node("n1"))
            let namespaced = await emulator.addServiceAccount(namespace: "recipes", name: "local", permissions: Permissions(rules: [
                .init(verbs: ["get", "list", "patch"], resources: ["nodes"], namespaces: ["recipes"]),
            ]))
            let denied = try await client.send(.GET, "\(Self.nodes)/n1", token: namespaced)
            #expect(denied.status == 403)
            #expect(denied.body["message"] == "nodes \"n1\" is forbidden: User \"system:serviceaccount:recipes:local\" cannot get resource \"nodes\" in API group \"\" at the cluster scope")
            let cluster = await emulator.addServiceAccount(namespace: "recipes", name: "cordon", permissions: Permissions(rules: [
                .init(verbs: ["get", "list", "patch"], resources: ["nodes"]),
            ]))
            #expect(try await client.send(.GET, "\(Self.nodes)/n1", token: cluster).status == 200)
            #expect(try await client.send(.PATCH, "\(Self.nodes)/n1", ["spec": ["unschedulable": true]], contentType: Self.strategic,
                                          token: cluster).status == 200)
            #expect(try await client.send(.DELETE, "\(Self.nodes)/n1", token: cluster).status == 403)
            #expect(try await client.send(.PATCH, "\(Self.nodes)/n1/status", ["status": [:]], contentType: Self.strategic,
                                          token: cluster).status == 403)
        }
    }

    @Test func discoveryListsNodesEvictionAndBudgets() async throws {
        try await withEmulator { _, client in
            let core = try await client.send(.GET, "/api/v1").body["resources"].array ?? []
            let nodes = try #require(core.first { $0["name"] == "nodes" })
            #expect(nodes["namespaced"] == false && nodes["kind"] == "Node" && nodes["shortNames"] == ["no"])
            #expect(core.contains { $0["name"] == "nodes/status" && $0["namespaced"] == false })
            let eviction = try #require(core.first { $0["name"] == "pods/eviction" })
            #expect(eviction["group"] == "policy" && eviction["version"] == "v1" && eviction["kind"] == "Eviction" && eviction["verbs"] == ["create"])
            let policy = try await client.send(.GET, "/apis/policy/v1").body["resources"].array ?? []
            let budgets = try #require(policy.first { $0["name"] == "poddisruptionbudgets" })
            #expect(budgets["namespaced"] == true && budgets["shortNames"] == ["pdb"] && budgets["kind"] == "PodDisruptionBudget")
            #expect(policy.contains { $0["name"] == "poddisruptionbudgets/status" })
            let apps = try await client.send(.GET, "/apis/apps/v1").body["resources"].array ?? []
            #expect(apps.contains { $0["name"] == "daemonsets" && $0["shortNames"] == ["ds"] })
        }
    }

    @Test func schedulerBindsToTheLeastLoadedSchedulableNode() async throws {
        try await withEmulator { emulator, client in
            for node in [Cluster.node("n1"), Cluster.node("n2"), Cluster.node("n3", ready: "False")] {
                try await emulator.seed(.nodes, namespace: "", node)
            }
            func nodeName(_ pod: String) async -> String? {
                await emulator.object(.pods, namespace: "default", name: pod)?["spec"]["nodeName"].string
            }
            for name in ["a", "b", "c"] { try await emulator.seed(.pods, namespace: "default", Cluster.pod(name)) }
            let placements = [await nodeName("a"), await nodeName("b"), await nodeName("c")]
            #expect(placements == ["n1", "n2", "n1"])
            let bound = try #require(await emulator.object(.pods, namespace: "default", name: "a"))
            #expect((bound["status"]["conditions"].array ?? []).contains { $0["type"] == "PodScheduled" && $0["status"] == "True" })
            // A pod created with a node keeps it.
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("pinned", node: "n3"))
            #expect(await nodeName("pinned") == "n3")

            // Everything cordoned or not ready: Pending, PodScheduled=False, the scheduler's words.
            for node in ["n1", "n2"] {
                _ = try await client.send(.PATCH, "\(Self.nodes)/\(node)", ["spec": ["unschedulable": true]], contentType: Self.strategic)
            }
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("waiting"))
            let waiting = try #require(await emulator.object(.pods, namespace: "default", name: "waiting"))
            #expect(waiting["spec"]["nodeName"].isNull && waiting["status"]["phase"] == "Pending")
            let scheduled = try #require((waiting["status"]["conditions"].array ?? []).first { $0["type"] == "PodScheduled" })
            #expect(scheduled["status"] == "False" && scheduled["reason"] == "Unschedulable")
            #expect(scheduled["message"] == "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")

            // A DaemonSet's pod tolerates cordoned nodes; a toleration lets a pod onto a tainted node.
            let daemonSet = try await emulator.seed(.daemonSets, namespace: "default", Cluster.daemonSet("agent"))
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("agent-x", labels: ["app": "agent"], owner: daemonSet))
            #expect(await nodeName("agent-x") == "n2")
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("tolerant", tolerations: [
                ["key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"],
            ]))
            #expect(await nodeName("tolerant") != nil)

            // Uncordoning n2 schedules the waiting pod there.
            _ = try await client.send(.PATCH, "\(Self.nodes)/n2", ["spec": ["unschedulable": .null]], contentType: Self.strategic)
            #expect(await nodeName("waiting") == "n2")
            let now = try #require(await emulator.object(.pods, namespace: "default", name: "waiting"))
            #expect((now["status"]["conditions"].array ?? []).contains { $0["type"] == "PodScheduled" && $0["status"] == "True" })

            // A custom NoSchedule taint, untolerated.
            _ = try await client.send(.PATCH, "\(Self.nodes)/n2", ["spec": ["taints": [["key": "dedicated", "value": "db", "effect": "NoExecute"]]]],
                                      contentType: "application/merge-patch+json")
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("late"))
            let late = try #require(await emulator.object(.pods, namespace: "default", name: "late"))
            let message = (late["status"]["conditions"].array ?? []).first { $0["type"] == "PodScheduled" }?["message"].string ?? ""
            #expect(message.hasPrefix("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable."), "\(message)")
        }
    }

    @Test func kubeletRunsAPodOnlyOnceScheduled() async throws {
        try await withTemporaryDirectory { directory in
            try writeExecutableScript(at: "\(directory)/done.sh", "#!/bin/sh\necho done\n")
            let configuration = Kubelet.Configuration(images: ["test/recipes:1": .init(directory: directory)])
            try await withEmulator(kubelet: configuration) { emulator, client in
                try await emulator.seed(.nodes, namespace: "", Cluster.node("n1", unschedulable: true))
                let pod = Cluster.pod("job-like", command: ["done.sh"], restartPolicy: "Never")
                #expect(try await client.send(.POST, "/api/v1/namespaces/default/pods", pod).status == 201)
                let pending = try #require(await emulator.object(.pods, namespace: "default", name: "job-like"))
                #expect(pending["status"]["phase"] == "Pending" && pending["status"]["containerStatuses"].isNull)
                #expect(await emulator.runningProcessCount == 0)
                _ = try await client.send(.PATCH, "\(Self.nodes)/n1", ["spec": ["unschedulable": .null]], contentType: Self.strategic)
                try await waitUntil("the pod to run on n1") {
                    await emulator.object(.pods, namespace: "default", name: "job-like")?["status"]["phase"] == "Succeeded"
                }
                #expect(await emulator.object(.pods, namespace: "default", name: "job-like")?["spec"]["nodeName"] == "n1")
            }
        }
    }
}
