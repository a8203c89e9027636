import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOHTTP1
import Testing

/// PodDisruptionBudgets, their controller, the eviction subresource, and DaemonSets.
@Suite struct DisruptionTests {
    static let budgets = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
    static let pods = "/api/v1/namespaces/default/pods"

    /// Seeds `count` Running pods `web-0…` (Ready unless listed in `unready`) on node `n1`.
    static func seedWeb(_ emulator: KubernetesEmulator, count: Int, unready: Set<Int> = [], app: String = "web") async throws {
        for index in 0..<count {
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("\(app)-\(index)", node: "n1", labels: ["app": app]))
            try await emulator.setPodStatus(namespace: "default", name: "\(app)-\(index)", status: Cluster.running(ready: !unready.contains(index)))
        }
    }

    static func status(_ emulator: KubernetesEmulator, _ name: String) async -> JSON {
        await emulator.object(.podDisruptionBudgets, namespace: "default", name: name)?["status"] ?? .null
    }

    @Test func budgetValidation() async throws {
        try await withEmulator { _, client in
            let both = try await client.send(.POST, Self.budgets, Cluster.budget("b", minAvailable: 1, maxUnavailable: 1))
            #expect(both.status == 422 && both.body["details"]["causes"][0]["message"].string?.hasSuffix("minAvailable and maxUnavailable cannot be both set") == true)
            #expect(both.body["details"]["kind"] == "PodDisruptionBudget" && both.body["details"]["group"] == "policy")
            #expect(try await client.send(.POST, Self.budgets, Cluster.budget("b")).status == 422)
            let percent = try await client.send(.POST, Self.budgets, Cluster.budget("b", minAvailable: "150%"))
            #expect(percent.status == 422 && percent.body["details"]["causes"][0]["field"] == "spec.minAvailable")
            #expect(percent.body["details"]["causes"][0]["message"].string?.hasSuffix("must not be greater than 100%") == true)
            let word = try await client.send(.POST, Self.budgets, Cluster.budget("b", maxUnavailable: "half"))
            #expect(word.status == 422 && word.body["details"]["causes"][0]["field"] == "spec.maxUnavailable")
            #expect(try await client.send(.POST, Self.budgets, Cluster.budget("b", minAvailable: -1)).status == 422)
            let policy = try await client.send(.POST, Self.budgets, Cluster.budget("b", minAvailable: 1, policy: "Sometimes"))
            #expect(policy.status == 422 && policy.body["details"]["causes"][0]["reason"] == "FieldValueNotSupported")
            let created = try await client.send(.POST, Self.budgets, Cluster.budget("b", minAvailable: "50%"))
            #expect(created.status == 201 && created.body["metadata"]["generation"] == 1)
            for counter in ["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"] {
                #expect(created.body["status"][counter] == 0, "\(counter) is always serialized")
            }
        }
    }

    @Test func controllerComputesStatusFromThePods() async throws {
        try await withEmulator { emulator, client in
            try await Self.seedWeb(emulator, count: 3, unready: [2])
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("min", minAvailable: 2))
            var status = await Self.status(emulator, "min")
            #expect(status["expectedPods"] == 3 && status["currentHealthy"] == 2 && status["desiredHealthy"] == 2)
            #expect(status["disruptionsAllowed"] == 0 && status["observedGeneration"] == 1)
            #expect(status["conditions"][0]["type"] == "DisruptionAllowed" && status["conditions"][0]["status"] == "False")
            #expect(status["conditions"][0]["reason"] == "InsufficientPods")

            // The third pod gets Ready: one disruption allowed.
            try await emulator.setPodStatus(namespace: "default", name: "web-2", status: Cluster.running())
            status = await Self.status(emulator, "min")
            #expect(status["currentHealthy"] == 3 && status["disruptionsAllowed"] == 1)
            #expect(status["conditions"][0]["status"] == "True" && status["conditions"][0]["reason"] == "SufficientPods")

            // A spec change is a new generation, observed at once.
            let patched = try await client.send(.PATCH, "\(Self.budgets)/min", ["spec": ["minAvailable": .null, "maxUnavailable": "50%"]],
                                                contentType: "application/merge-patch+json")
            #expect(patched.status == 200 && patched.body["metadata"]["generation"] == 2)
            status = await Self.status(emulator, "min")
            #expect(status["observedGeneration"] == 2 && status["desiredHealthy"] == 1 && status["disruptionsAllowed"] == 2)

            // A null selector selects nothing, {} everything in the namespace.
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("none", minAvailable: 1, selector: .null))
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("all", maxUnavailable: 0, selector: [:]))
            #expect(await Self.status(emulator, "none")["expectedPods"] == 0)
            #expect(await Self.status(emulator, "none")["disruptionsAllowed"] == 0)
            let all = await Self.status(emulator, "all")
            #expect(all["expectedPods"] == 3 && all["disruptionsAllowed"] == 0)

            // A deleted pod is no longer expected.
            _ = try await client.send(.DELETE, "\(Self.pods)/web-0")
            #expect(await Self.status(emulator, "min")["expectedPods"] == 2)

            let list = try await client.send(.GET, "/apis/policy/v1/poddisruptionbudgets")
            #expect(list.status == 200 && list.body["kind"] == "PodDisruptionBudgetList" && list.body["items"].array?.count == 3)
        }
    }

    @Test func evictionSpendsTheBudget() async throws {
        try await withEmulator { emulator, client in
            try await Self.seedWeb(emulator, count: 3)
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("web-pdb", minAvailable: 2))
            let budgetWatch = try await client.watch("\(Self.budgets)?watch=true&resourceVersion=\(await emulator.currentResourceVersion)")
            let podWatch = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(await emulator.currentResourceVersion)")

            let granted = try await client.send(.POST, "\(Self.pods)/web-0/eviction", Cluster.eviction("web-0"))
            #expect(granted.status == 201)
            #expect(granted.body == ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "code": 201])
            #expect(await emulator.object(.pods, namespace: "default", name: "web-0") == nil)
            // The budget recorded the eviction (then the controller saw the pod go), and the pod was marked.
            let budgetEvents = try await budgetWatch.waitFor(2)
            #expect(budgetEvents.contains { $0["object"]["status"]["disruptedPods"]["web-0"].string != nil && $0["object"]["status"]["disruptionsAllowed"] == 0 })
            let podEvents = try await podWatch.waitFor(2)
            let target = podEvents.first?["object"]["status"]["conditions"].array?.first { $0["type"] == "DisruptionTarget" }
            #expect(target?["status"] == "True" && target?["reason"] == "EvictionByEvictionAPI")
            #expect(podEvents.last?["type"] == "DELETED")
            await budgetWatch.cancel()
            await podWatch.cancel()
            var status = await Self.status(emulator, "web-pdb")
            #expect(status["disruptedPods"].isNull && status["currentHealthy"] == 2 && status["disruptionsAllowed"] == 0)

            // Exhausted: 429 with the budget's numbers, no Retry-After.
            let refused = try await client.send(.POST, "\(Self.pods)/web-1/eviction", Cluster.eviction("web-1"))
            #expect(refused.status == 429 && refused.headers["Retry-After"].isEmpty)
            #expect(refused.body == [
                "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "reason": "TooManyRequests",
                "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                "details": ["causes": [["reason": "DisruptionBudget", "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"]]],
                "code": 429,
            ])
            #expect(await emulator.object(.pods, namespace: "default", name: "web-1") != nil)

            // dryRun (query or deleteOptions) checks everything and changes nothing.
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("web-3", node: "n1"))
            try await emulator.setPodStatus(namespace: "default", name: "web-3", status: Cluster.running())
            status = await Self.status(emulator, "web-pdb")
            #expect(status["disruptionsAllowed"] == 1)
            let version = await emulator.object(.podDisruptionBudgets, namespace: "default", name: "web-pdb")?["metadata"]["resourceVersion"]
            let dry = try await client.send(.POST, "\(Self.pods)/web-1/eviction?dryRun=All", Cluster.eviction("web-1"))
            #expect(dry.status == 201)
            let dryOptions = try await client.send(.POST, "\(Self.pods)/web-1/eviction", Cluster.eviction("web-1", deleteOptions: ["dryRun": ["All"]]))
            #expect(dryOptions.status == 201)
            #expect(await emulator.object(.pods, namespace: "default", name: "web-1")?["status"]["conditions"].array?.contains { $0["type"] == "DisruptionTarget" } == false)
            #expect(await emulator.object(.podDisruptionBudgets, namespace: "default", name: "web-pdb")?["metadata"]["resourceVersion"] == version)
            // A dry run that would be refused is refused.
            let dryRefused = try await client.send(.POST, "\(Self.pods)/web-1/eviction?dryRun=All", Cluster.eviction("web-1"))
            #expect(dryRefused.status == 201, "one disruption is allowed")
        }
    }

    @Test func evictionErrorsAndExemptions() async throws {
        try await withEmulator { emulator, client in
            try await Self.seedWeb(emulator, count: 2, unready: [1])
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("web-pdb", minAvailable: 1))

            let mismatch = try await client.send(.POST, "\(Self.pods)/web-0/eviction", Cluster.eviction("web-9"))
            #expect(mismatch.status == 400 && mismatch.body["message"] == "name in URL does not match name in Eviction object")
            let missing = try await client.send(.POST, "\(Self.pods)/gone/eviction", Cluster.eviction("gone"))
            #expect(missing.status == 404 && missing.body["message"] == "pods \"gone\" not found")
            #expect(try await client.send(.GET, "\(Self.pods)/web-0/eviction").status == 405)

            // A Pending pod goes without a budget check.
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("web-pending", node: "n1"))
            #expect(try await client.send(.POST, "\(Self.pods)/web-pending/eviction", Cluster.eviction("web-pending")).status == 201)
            #expect(await emulator.object(.pods, namespace: "default", name: "web-pending") == nil)

            // web-1 is not Ready: IfHealthyBudget lets it go while the budget is met (1 healthy >= 1 desired > 0).
            #expect(await Self.status(emulator, "web-pdb")["disruptionsAllowed"] == 0)
            #expect(try await client.send(.POST, "\(Self.pods)/web-1/eviction", Cluster.eviction("web-1")).status == 201)
            #expect(await emulator.object(.pods, namespace: "default", name: "web-1") == nil)

            // Not when the budget is not met; AlwaysAllow lets it go anyway.
            try await Self.seedWeb(emulator, count: 2, unready: [0, 1], app: "db")
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("db-pdb", app: "db", minAvailable: 1))
            let unmet = try await client.send(.POST, "\(Self.pods)/db-0/eviction", Cluster.eviction("db-0"))
            #expect(unmet.status == 429)
            #expect(unmet.body["details"]["causes"][0]["message"] == "The disruption budget db-pdb needs 1 healthy pods and has 0 currently")
            _ = try await client.send(.PATCH, "\(Self.budgets)/db-pdb", ["spec": ["unhealthyPodEvictionPolicy": "AlwaysAllow"]],
                                      contentType: "application/merge-patch+json")
            #expect(try await client.send(.POST, "\(Self.pods)/db-0/eviction", Cluster.eviction("db-0")).status == 201)

            // Two budgets: 500, the exact message.
            try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("db-pdb-2", app: "db", maxUnavailable: 1))
            let two = try await client.send(.POST, "\(Self.pods)/db-1/eviction", Cluster.eviction("db-1"))
            #expect(two.status == 500)
            #expect(two.body == ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                                 "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.", "code": 500])

            // RBAC: the `pods/eviction` subresource with verb create.
            let reader = await emulator.addServiceAccount(namespace: "default", name: "reader", permissions: Permissions(rules: [
                .init(verbs: ["get", "list", "create"], resources: ["pods"]),
            ]))
            let forbidden = try await client.send(.POST, "\(Self.pods)/web-0/eviction", Cluster.eviction("web-0"), token: reader)
            #expect(forbidden.status == 403)
            #expect(forbidden.body["message"] == "pods \"web-0\" is forbidden: User \"system:serviceaccount:default:reader\" cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"default\"")
            let evictor = await emulator.addServiceAccount(namespace: "default", name: "evictor", permissions: Permissions(rules: [
                .init(verbs: ["create"], resources: ["pods/eviction"]),
            ]))
            try await emulator.seed(.pods, namespace: "default", Cluster.pod("lonely", node: "n1", labels: ["app": "lonely"]))
            try await emulator.setPodStatus(namespace: "default", name: "lonely", status: Cluster.running())
            #expect(try await client.send(.POST, "\(Self.pods)/lonely/eviction", Cluster.eviction("lonely"), token: evictor).status == 201)
            #expect(await emulator.requestLog.last?.user == "system:serviceaccount:default:evictor")
            #expect(await emulator.object(.pods, namespace: "default", name: "lonely") == nil)
        }
    }

    @Test func evictionDeletesGracefullyWithTheGivenGracePeriod() async throws {
        try await withTemporaryDirectory { directory in
            try writeExecutableScript(at: "\(directory)/stubborn.sh", "#!/bin/sh\ntrap '' TERM\necho up\nwhile true; do sleep 0.05; done\n")
            // A grace period far longer than the test, so the pod is certainly still terminating at the second
            // eviction (a loaded box may take seconds between two requests); a forced delete ends it after.
            let configuration = Kubelet.Configuration(images: ["test/recipes:1": .init(directory: directory)], maxTerminationGracePeriod: .seconds(300))
            try await withEmulator(kubelet: configuration) { emulator, client in
                let pod = Cluster.pod("web-0", command: ["stubborn.sh"])
                #expect(try await client.send(.POST, Self.pods, pod).status == 201)
                try await waitUntil("the pod to run") {
                    await emulator.object(.pods, namespace: "default", name: "web-0")?["status"]["phase"] == "Running"
                }
                try await emulator.seed(.podDisruptionBudgets, namespace: "default", Cluster.budget("web-pdb", maxUnavailable: 1))
                #expect(await Self.status(emulator, "web-pdb")["disruptionsAllowed"] == 1)
                let evicted = try await client.send(.POST, "\(Self.pods)/web-0/eviction", Cluster.eviction("web-0", deleteOptions: ["gracePeriodSeconds": 300]))
                #expect(evicted.status == 201)
                let terminating = try #require(await emulator.object(.pods, namespace: "default", name: "web-0"))
                #expect(terminating["metadata"]["deletionGracePeriodSeconds"] == 300 && terminating["metadata"]["deletionTimestamp"].string != nil)
                // While it terminates, the budget remembers the eviction and counts the pod out.
                let status = await Self.status(emulator, "web-pdb")
                #expect(status["disruptedPods"]["web-0"].string != nil && status["currentHealthy"] == 0)
                // Terminating pods are evicted without a budget check.
                #expect(try await client.send(.POST, "\(Self.pods)/web-0/eviction", Cluster.eviction("web-0")).status == 201)
                #expect(try await client.send(.DELETE, "\(Self.pods)/web-0?gracePeriodSeconds=0").status == 200)
                try await waitUntil("the pod to be gone") { await emulator.object(.pods, namespace: "default", name: "web-0") == nil }
                #expect(await Self.status(emulator, "web-pdb")["disruptedPods"].isNull)
            }
        }
    }

    @Test func daemonSetsAreStoredAndListed() async throws {
        try await withEmulator { emulator, client in
            let path = "/apis/apps/v1/namespaces/default/daemonsets"
            let created = try await client.send(.POST, path, Cluster.daemonSet("agent"))
            #expect(created.status == 201 && created.body["spec"]["updateStrategy"]["type"] == "RollingUpdate")
            #expect(created.body["status"]["numberReady"] == 0)
            #expect(try await client.send(.GET, "\(path)/agent").body["kind"] == "DaemonSet")
            #expect(try await client.send(.GET, "/apis/apps/v1/daemonsets").body["items"].array?.count == 1)
            #expect(try await client.send(.GET, "\(path)/nope").body["message"] == "daemonsets.apps \"nope\" not found")
            #expect(await emulator.objects(.daemonSets, namespace: "default").count == 1)
        }
    }
}
