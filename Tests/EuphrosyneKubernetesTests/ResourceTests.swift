import Foundation
import Testing

@testable import EuphrosyneKubernetes

/// Paths, query strings, Job outcomes and the permission message, as values.
@Suite struct ResourceTests {
    @Test func pathsFollowTheAPIGroups() {
        #expect(Job.resource.collectionPath(namespace: "alerts") == "/apis/batch/v1/namespaces/alerts/jobs")
        #expect(ConfigMap.resource.objectPath(name: "a", namespace: "alerts") == "/api/v1/namespaces/alerts/configmaps/a")
        #expect(SelfSubjectAccessReview.resource.collectionPath(namespace: "ignored")
                == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    }

    @Test func selectorsAreEncodedAsOneQueryValue() {
        let query = KubernetesClient.queryString([("labelSelector", "app=euphrosyne,uuid in (a,b),!gone"),
                                                  ("fieldSelector", "metadata.name=orpheus-operator-recipes")])
        #expect(query == "?labelSelector=app%3Deuphrosyne%2Cuuid%20in%20%28a%2Cb%29%2C%21gone&fieldSelector=metadata.name%3Dorpheus-operator-recipes")
    }

    static func job(_ conditions: [(String, String, String?)]) -> Job {
        var job = Job(metadata: ObjectMeta(name: "j"), spec: .init(template: .init(spec: .init(containers: []))))
        job.status = Job.Status(conditions: conditions.map { Job.Condition(type: $0.0, status: $0.1, reason: $0.2) })
        return job
    }

    @Test func aJobOutcomeFollowsItsConditions() {
        #expect(Self.job([]).outcome == .running)
        #expect(Self.job([("Complete", "True", nil)]).outcome == .succeeded)
        #expect(Self.job([("SuccessCriteriaMet", "True", "CompletionsReached")]).outcome == .succeeded)
        // 1.31+: FailureTarget decides before the terminal Failed arrives.
        #expect(Self.job([("FailureTarget", "True", "BackoffLimitExceeded")]).outcome
                == .failed(reason: "BackoffLimitExceeded", message: ""))
        #expect(Self.job([("FailureTarget", "True", "DeadlineExceeded"), ("Failed", "True", "DeadlineExceeded")]).outcome
                == .failed(reason: "DeadlineExceeded", message: ""))
        #expect(Self.job([("Failed", "False", nil), ("Suspended", "True", nil)]).outcome == .running)
    }

    @Test func quantitiesParseAsTheAPIWritesThem() {
        #expect(ResourceQuantity(parsing: "250m")?.value == 0.25)
        #expect(ResourceQuantity(parsing: "2")?.value == 2)
        #expect(ResourceQuantity(parsing: "1.5Gi")?.value == 1.5 * 1_073_741_824)
        #expect(ResourceQuantity(parsing: "128974848")?.value == 128_974_848)
        #expect(ResourceQuantity(parsing: "1e3")?.value == 1000)
        #expect(ResourceQuantity(parsing: "64k")?.value == 64_000)
        for garbage in ["", "nan", "inf", "Gi", "12 Mi", "1.5Gb"] {
            #expect(ResourceQuantity(parsing: garbage) == nil, "\(garbage)")
        }
        #expect(ResourceQuantity(0.25).cpuDescription == "250m")
        #expect(ResourceQuantity(3.92).cpuDescription == "3.9")
        #expect(ResourceQuantity(1.5 * 1_073_741_824).memoryDescription == "1.5Gi")
        #expect(ResourceQuantity(512 * 1_048_576).memoryDescription == "512Mi")
    }

    @Test func aLabelSelectorMatchesAsTheAPIServerDoes() {
        let labels = ["app": "web", "tier": "front"]
        #expect(LabelSelector().matches(labels))
        #expect(LabelSelector(matchLabels: ["app": "web"]).matches(labels))
        #expect(!LabelSelector(matchLabels: ["app": "api"]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "tier", operator: "In", values: ["front", "back"])]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "tier", operator: "NotIn", values: ["front"])]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "legacy", operator: "DoesNotExist")]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "legacy", operator: "Exists")]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "app", operator: "Gt", values: ["1"])]).matches(labels))
    }

    @Test func aLabelSelectorBecomesOneQueryValue() {
        let selector = LabelSelector(matchLabels: ["app": "api", "tier": "web"], matchExpressions: [
            .init(key: "track", operator: "In", values: ["stable", "canary"]),
            .init(key: "env", operator: "NotIn", values: ["dev"]),
            .init(key: "owner", operator: "Exists"),
            .init(key: "legacy", operator: "DoesNotExist"),
        ])
        #expect(selector.queryString == "app=api,tier=web,track in (canary,stable),env notin (dev),owner,!legacy")
        // An empty selector would select everything; an unknown operator cannot be sent faithfully.
        #expect(LabelSelector().queryString == nil)
        #expect(LabelSelector(matchExpressions: [.init(key: "a", operator: "Gt", values: ["1"])]).queryString == nil)
        #expect(Deployment.resource.objectPath(name: "api", namespace: "shop") == "/apis/apps/v1/namespaces/shop/deployments/api")
        #expect(KubernetesEvent.resource.collectionPath(namespace: "shop") == "/api/v1/namespaces/shop/events")
    }

    @Test func anEventSaysWhenAndHowOftenWhicheverAPIWroteIt() throws {
        let legacy = try JSONDecoder().decode(KubernetesEvent.self, from: Data(#"""
            {"metadata": {"name": "a.1", "creationTimestamp": "2026-01-01T09:00:00Z"}, "type": "Warning",
             "reason": "BackOff", "count": 12, "firstTimestamp": "2026-01-01T09:00:00Z", "lastTimestamp": "2026-01-01T10:00:00Z"}
            """#.utf8))
        #expect(legacy.isWarning && legacy.occurrences == 12 && legacy.lastSeen == "2026-01-01T10:00:00Z")
        let series = try JSONDecoder().decode(KubernetesEvent.self, from: Data(#"""
            {"metadata": {"name": "a.2"}, "type": "Normal", "eventTime": "2026-01-01T09:00:00.000000Z",
             "series": {"count": 3, "lastObservedTime": "2026-01-01T11:00:00.000000Z"}}
            """#.utf8))
        #expect(!series.isWarning && series.occurrences == 3 && series.lastSeen == "2026-01-01T11:00:00.000000Z")
    }

    @Test func theMissingPermissionsAreNamedInOneMessage() {
        let missing = [
            ResourceAttributes(verb: "create", group: "batch", resource: "jobs", namespace: "recipes"),
            ResourceAttributes(verb: "get", resource: "pods", subresource: "log", namespace: "recipes"),
        ]
        #expect(PermissionCheck.message(for: missing).hasPrefix(
            #"missing Kubernetes permissions: create jobs.batch in "recipes", get pods/log in "recipes""#))
        let required = PermissionCheck.required(recipeNamespace: "a", reconcilerNamespace: "a")
        #expect(Set(required).count == required.count)
        #expect(required.contains(ResourceAttributes(verb: "watch", resource: "configmaps", namespace: "a")))
        // The result-key Secrets: made and deleted in the recipe namespace, never read.
        let recipes = PermissionCheck.required(recipeNamespace: "recipes", reconcilerNamespace: "home")
        #expect(recipes.filter { $0.resource == "secrets" } == [
            ResourceAttributes(verb: "create", resource: "secrets", namespace: "recipes"),
        ])
    }

    @Test func theAPIServersBackoffGrowsFrom200msToAtMost5sWithJitter() {
        let policy = KubernetesClient.retryPolicy(maxAttempts: 5)
        #expect(policy.maxAttempts == 5)
        for attempt in 1...8 {
            let wait = policy.delay(afterAttempt: attempt)
            let ceiling = min(Duration.milliseconds(200) * (1 << (attempt - 1)), .seconds(5))
            #expect(wait >= ceiling / 2 && wait <= ceiling, "attempt \(attempt): \(wait)")
        }
    }
}
