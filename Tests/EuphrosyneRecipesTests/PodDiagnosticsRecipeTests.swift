import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// `pod-diagnostics` against the Kubernetes API emulator: pods in the states an on-call engineer meets, seeded with
/// the status, events and logs a real cluster shows for them, and the failures the recipe must explain.
@Suite struct PodDiagnosticsRecipeTests {
    /// Runs `body` with an emulator serving namespace `shop` and a kubeconfig for it; stops the emulator after.
    static func withCluster<T: Sendable>(
        permissions: Permissions = .all, _ body: (KubernetesEmulator, String) async throws -> T
    ) async throws -> T {
        let emulator = try await KubernetesEmulator.start(namespaces: ["shop"], permissions: permissions)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pod-diagnostics-\(UUID().uuidString.prefix(8))").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let kubeconfig = directory + "/kubeconfig"
            try await emulator.writeKubeconfig(to: kubeconfig, namespace: "default")
            let result = try await body(emulator, kubeconfig)
            await emulator.stop()
            try? FileManager.default.removeItem(atPath: directory)
            return result
        } catch {
            await emulator.stop()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// An Alertmanager notification whose firing alerts carry `labels` (one alert per entry).
    static func context(_ labels: [[String: String]], kubeconfig: String = "/nonexistent",
                        environment: [String: String] = [:]) throws -> RecipeContext {
        let alerts = labels.map { set -> JSON in
            ["status": "firing", "labels": .object(set.mapValues { .string($0) }),
             "annotations": ["summary": "pod trouble"], "startsAt": "2026-11-28T21:13:44Z", "endsAt": "0001-01-01T00:00:00Z"]
        }
        let notification: JSON = ["version": "4", "status": "firing", "receiver": "reconciler", "alerts": .array(alerts),
                                   "groupLabels": [:], "commonLabels": [:], "uuid": "incident-1"]
        let data = try JSONValue.parseObject(notification.serializedData())
        return RecipeContext(
            name: "pod-diagnostics", arguments: RecipeArguments(dataFilePath: "unused"),
            environment: RecipeEnvironment(["KUBECONFIG": kubeconfig].merging(environment) { $1 }),
            input: RecipeInput(incident: "incident-1", data: data)
        )
    }

    static func failure(_ context: RecipeContext) async -> String? {
        let error = await #expect(throws: RecipeError.self) { try await BuiltinRecipes.podDiagnostics(context) }
        #expect(error?.kind == .failed)
        return error?.message
    }

    /// Seeds a pod with one container `api` and gives it `status`; returns its uid.
    @discardableResult
    static func seedPod(
        _ emulator: KubernetesEmulator, _ name: String, image: String = "shop/api:1.2", labels: JSON = ["app": "api"],
        resources: JSON = [:], status: JSON
    ) async throws -> String {
        let pod = try await emulator.seed(.pods, namespace: "shop", [
            "metadata": ["name": .string(name), "labels": labels],
            "spec": ["containers": [["name": "api", "image": .string(image), "resources": resources]]],
        ])
        try await emulator.setPodStatus(namespace: "shop", name: name, status: status)
        return pod["metadata"]["uid"].string ?? ""
    }

    /// Seeds an event about pod `pod` as the kubelet or the scheduler records it.
    static func seedEvent(
        _ emulator: KubernetesEmulator, pod: String, uid: String, type: String, reason: String, message: String,
        count: Int = 1, last: String, component: String = "kubelet"
    ) async throws {
        try await emulator.seed(.events, namespace: "shop", [
            "metadata": ["name": .string("\(pod).\(UUID().uuidString.prefix(8).lowercased())")],
            "involvedObject": ["kind": "Pod", "namespace": "shop", "name": .string(pod), "uid": .string(uid), "apiVersion": "v1"],
            "type": .string(type), "reason": .string(reason), "message": .string(message), "count": .int(Int64(count)),
            "source": ["component": .string(component)], "firstTimestamp": "2026-11-28T20:00:00Z", "lastTimestamp": .string(last),
        ])
    }

    static func crashLooping(restarts: Int = 7, lastState: JSON) -> JSON {
        ["phase": "Running",
         "conditions": [["type": "PodScheduled", "status": "True"], ["type": "Ready", "status": "False", "reason": "ContainersNotReady"]],
         "containerStatuses": [["name": "api", "image": "shop/api:1.2", "ready": false, "restartCount": .int(Int64(restarts)),
                                "state": ["waiting": ["reason": "CrashLoopBackOff",
                                                      "message": "back-off 5m0s restarting failed container=api pod=api-7d9f_shop"]],
                                "lastState": lastState]]]
    }

    @Test func aCrashLoopingPodIsExplainedWithItsExitCodeEventsAndThePreviousLog() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            let uid = try await Self.seedPod(emulator, "api-7d9f", status: Self.crashLooping(lastState: [
                "terminated": ["exitCode": 1, "reason": "Error", "startedAt": "2026-11-28T21:10:00Z", "finishedAt": "2026-11-28T21:10:02Z"],
            ]))
            try await Self.seedEvent(emulator, pod: "api-7d9f", uid: uid, type: "Normal", reason: "Pulled",
                                     message: "Container image \"shop/api:1.2\" already present on machine", count: 8,
                                     last: "2026-11-28T21:10:00Z")
            try await Self.seedEvent(emulator, pod: "api-7d9f", uid: uid, type: "Warning", reason: "BackOff",
                                     message: "Back-off restarting failed container api in pod api-7d9f_shop", count: 31,
                                     last: "2026-11-28T21:09:00Z")
            // An event about an earlier pod of the same name is not this pod's.
            try await Self.seedEvent(emulator, pod: "api-7d9f", uid: "someone-else", type: "Warning", reason: "Evicted",
                                     message: "The node was low on resource: memory.", last: "2026-11-27T10:00:00Z")
            await emulator.setPodLog(namespace: "shop", name: "api-7d9f", container: "api", log: "starting\n")
            let log = (1...30).map { "line \($0)" }.joined(separator: "\n") + "\npanic: dial tcp 10.0.0.7:5432: connect: connection refused\n"
            await emulator.setPodLog(namespace: "shop", name: "api-7d9f", container: "api", log: log, previous: true)
            await emulator.clearRequestLog()

            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f"]], kubeconfig: kubeconfig,
                environment: ["POD_DIAGNOSTICS_LOG_LINES": "3"]))

            #expect(outcome.status == .successful)
            #expect(outcome.actions == ["jira"])
            #expect(outcome.analysis == """
                Pod shop/api-7d9f (Running): Its container "api" is in CrashLoopBackOff, restarted 7 times. It last exited \
                with code 1 (Error) at 2026-11-28T21:10:02Z. Recent events: Warning BackOff (×31) at 2026-11-28T21:09:00Z: \
                Back-off restarting failed container api in pod api-7d9f_shop. Normal Pulled (×8) at 2026-11-28T21:10:00Z: \
                Container image "shop/api:1.2" already present on machine.
                Last log lines of "api" (before its last restart):
                ```
                line 29
                line 30
                panic: dial tcp 10.0.0.7:5432: connect: connection refused
                ```
                """)
            #expect(outcome.json == #"{"pods":[{"inspected":true,"namespace":"shop","pod":"api-7d9f","problem":"CrashLoopBackOff"}]}"#)

            let logRequest = try #require(await emulator.requestLog.first { $0.path.hasSuffix("/pods/api-7d9f/log") })
            #expect(logRequest.query["previous"] == "true" && logRequest.query["container"] == "api")
            #expect(logRequest.query["tailLines"] == "3" && logRequest.query["limitBytes"] == "4096")
            let eventsRequest = try #require(await emulator.requestLog.first { $0.path == "/api/v1/namespaces/shop/events" })
            #expect(eventsRequest.query["fieldSelector"] == "involvedObject.kind=Pod,involvedObject.name=api-7d9f")
        }
    }

    @Test func anOOMKilledContainerNamesItsMemoryLimit() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            try await Self.seedPod(emulator, "worker-1", resources: ["limits": ["memory": "128Mi"], "requests": ["memory": "64Mi"]], status: [
                "phase": "Running",
                "containerStatuses": [["name": "api", "ready": true, "restartCount": 3, "state": ["running": ["startedAt": "2026-11-28T21:12:00Z"]],
                                       "lastState": ["terminated": ["exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-28T21:11:58Z"]]]],
            ])
            await emulator.setPodLog(namespace: "shop", name: "worker-1", container: "api", log: "loading 2GB catalogue into memory\n", previous: true)

            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "KubePodRestarting", "namespace": "shop", "pod": "worker-1", "container": "api"]], kubeconfig: kubeconfig,
                environment: ["POD_DIAGNOSTICS_SUGGEST": "record, jira"]))

            #expect(outcome.analysis.hasPrefix("""
                Pod shop/worker-1 (Running): Its container "api" is running but has restarted 3 times. It was killed for \
                using too much memory (OOMKilled, exit code 137, at 2026-11-28T21:11:58Z); its memory limit is 128Mi.
                """))
            #expect(outcome.analysis.contains("loading 2GB catalogue into memory"))
            #expect(outcome.actions == ["record", "jira"])
            #expect(outcome.json.contains(#""problem":"OOMKilled""#))
        }
    }

    @Test func aPendingPodSaysWhyItCannotBeScheduled() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            let message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
            let uid = try await Self.seedPod(emulator, "batch-0", resources: ["requests": ["cpu": "4", "memory": "1Gi"]], status: [
                "phase": "Pending", "qosClass": "Burstable",
                "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(message)]],
            ])
            try await Self.seedEvent(emulator, pod: "batch-0", uid: uid, type: "Warning", reason: "FailedScheduling", message: message,
                                     count: 4, last: "2026-11-28T21:13:00Z", component: "default-scheduler")
            await emulator.clearRequestLog()

            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "KubePodNotReady", "namespace": "shop", "pod": "batch-0"]], kubeconfig: kubeconfig))

            // The scheduler's event says what the condition says: it is not repeated.
            #expect(outcome.analysis == """
                Pod shop/batch-0 (Pending): It cannot be scheduled (Unschedulable): \(message) Its containers' requests: \
                "api" requests cpu 4, memory 1Gi.
                """)
            #expect(await !emulator.requestLog.contains { $0.path.hasSuffix("/log") })
            #expect(outcome.json.contains(#""problem":"Unschedulable""#))
        }
    }

    @Test func anImageThatCannotBePulledIsNamedWithTheKubeletsMessage() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            let uid = try await Self.seedPod(emulator, "api-9x", image: "shop/api:9.9", status: [
                "phase": "Pending",
                "conditions": [["type": "PodScheduled", "status": "True"]],
                "containerStatuses": [["name": "api", "image": "shop/api:9.9", "ready": false, "restartCount": 0,
                                       "state": ["waiting": ["reason": "ImagePullBackOff", "message": "Back-off pulling image \"shop/api:9.9\""]]]],
            ])
            try await Self.seedEvent(emulator, pod: "api-9x", uid: uid, type: "Warning", reason: "Failed",
                                     message: "Failed to pull image \"shop/api:9.9\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/shop/api:9.9\": not found",
                                     count: 3, last: "2026-11-28T21:12:00Z")
            try await Self.seedEvent(emulator, pod: "api-9x", uid: uid, type: "Normal", reason: "BackOff",
                                     message: "Back-off pulling image \"shop/api:9.9\"", count: 20, last: "2026-11-28T21:13:00Z")

            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "KubePodNotReady", "namespace": "shop", "pod": "api-9x"]], kubeconfig: kubeconfig))

            #expect(outcome.analysis == """
                Pod shop/api-9x (Pending): Its container "api" cannot pull its image "shop/api:9.9" (ImagePullBackOff): \
                Back-off pulling image "shop/api:9.9". The kubelet says: Failed to pull image "shop/api:9.9": rpc error: \
                code = NotFound desc = failed to pull and unpack image "docker.io/shop/api:9.9": not found.
                """)
            #expect(outcome.actions == ["jira"])
        }
    }

    @Test func aContainerThatCannotBeCreatedAndAPodStillStartingAreTold() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            try await Self.seedPod(emulator, "api-cfg", status: [
                "phase": "Pending", "conditions": [["type": "PodScheduled", "status": "True"]],
                "containerStatuses": [["name": "api", "ready": false, "restartCount": 0,
                                       "state": ["waiting": ["reason": "CreateContainerConfigError",
                                                             "message": "secret \"api-db\" not found"]]]],
            ])
            try await Self.seedPod(emulator, "api-new", status: [
                "phase": "Pending", "conditions": [["type": "PodScheduled", "status": "True"]],
            ])
            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "KubePodNotReady", "namespace": "shop", "pod": "api-cfg"],
                 ["alertname": "KubePodNotReady", "namespace": "shop", "pod": "api-new"]], kubeconfig: kubeconfig))
            #expect(outcome.analysis == """
                Pod shop/api-cfg (Pending): Its container "api" cannot be created (CreateContainerConfigError): secret \
                "api-db" not found.

                Pod shop/api-new (Pending): It is Pending: scheduled, but its containers are not running yet.
                """)
        }
    }

    @Test func aDeploymentsPodsAreFoundThroughItsSelectorTheWorstFirst() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            try await emulator.seed(.deployments, namespace: "shop", [
                "metadata": ["name": "api"],
                "spec": ["replicas": 2, "selector": ["matchLabels": ["app": "api"]],
                         "template": ["metadata": ["labels": ["app": "api"]], "spec": ["containers": [["name": "api", "image": "shop/api:1.2"]]]]],
            ])
            try await emulator.seed(.pods, namespace: "shop", [
                "metadata": ["name": "web-1", "labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "shop/web:1"]]],
            ])
            try await Self.seedPod(emulator, "api-aaaa", status: [
                "phase": "Running",
                "containerStatuses": [["name": "api", "ready": true, "restartCount": 0, "state": ["running": ["startedAt": "2026-11-28T20:00:00Z"]]]],
            ])
            try await Self.seedPod(emulator, "api-bbbb", status: Self.crashLooping(restarts: 4, lastState: [
                "terminated": ["exitCode": 2, "reason": "Error", "finishedAt": "2026-11-28T21:10:02Z"],
            ]))
            await emulator.setPodLog(namespace: "shop", name: "api-bbbb", container: "api", log: "config: missing DATABASE_URL\n", previous: true)

            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "KubeDeploymentReplicasMismatch", "namespace": "shop", "deployment": "api"]], kubeconfig: kubeconfig))

            let paragraphs = outcome.analysis.components(separatedBy: "\n\n")
            try #require(paragraphs.count == 3)
            // The emulator's deployment controller reports what a cluster would: no replica is available.
            #expect(paragraphs[0] == "Deployment shop/api: 0 of 2 replicas available, 2 pods. Available is False (MinimumReplicasUnavailable): Deployment does not have minimum availability.")
            #expect(paragraphs[1].hasPrefix("Pod shop/api-bbbb (Running): Its container \"api\" is in CrashLoopBackOff, restarted 4 times."))
            #expect(paragraphs[1].contains("config: missing DATABASE_URL"))
            #expect(paragraphs[2] == "Pod shop/api-aaaa looks healthy: Running, 1/1 containers ready, no restarts.")
            #expect(!outcome.analysis.contains("web-1"))
            #expect(outcome.actions == ["jira"])
        }
    }

    @Test func aHealthyPodSuggestsNothing() async throws {
        try await Self.withCluster { emulator, kubeconfig in
            try await Self.seedPod(emulator, "api-ok", status: [
                "phase": "Running",
                "containerStatuses": [["name": "api", "ready": true, "restartCount": 0, "state": ["running": ["startedAt": "2026-11-28T20:00:00Z"]]]],
            ])
            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "HighLatency", "namespace": "shop", "pod": "api-ok"]], kubeconfig: kubeconfig))
            #expect(outcome.status == .successful)
            #expect(outcome.analysis == "Pod shop/api-ok looks healthy: Running, 1/1 containers ready, no restarts.")
            #expect(outcome.actions.isEmpty)
        }
    }

    @Test func anAlertWithoutPodLabelsSaysWhichLabelsItHas() async throws {
        let message = await Self.failure(try Self.context([["alertname": "HighLatency", "severity": "page", "service": "checkout"]]))
        #expect(message == "no firing alert has a namespace label with a pod or deployment label, so there is no pod to diagnose; its labels are alertname, service, severity")

        let generic = RecipeContext(name: "pod-diagnostics", arguments: RecipeArguments(dataFilePath: "unused"),
                                    environment: RecipeEnvironment([:]),
                                    input: RecipeInput(incident: "i", data: ["uuid": .string("i"), "message": .string("disk full")]))
        #expect(await Self.failure(generic)?.hasPrefix("the alert is a generic JSON payload") == true)
    }

    @Test func aPodThatIsGoneIsAFailedResult() async throws {
        try await Self.withCluster { _, kubeconfig in
            let message = await Self.failure(try Self.context(
                [["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-gone"]], kubeconfig: kubeconfig))
            #expect(message?.hasPrefix("Pod shop/api-gone: cannot read it: not found (404).") == true)
        }
    }

    @Test func aForbiddenReadNamesTheMissingPermission() async throws {
        try await Self.withCluster(permissions: .all.denying(verbs: ["get"], resources: ["pods"])) { _, kubeconfig in
            let message = await Self.failure(try Self.context(
                [["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f"]], kubeconfig: kubeconfig))
            #expect(message == """
                Pod shop/api-7d9f: cannot read it: forbidden: the recipe may not get pods in "shop" (403).

                Missing Kubernetes permissions: get pods in "shop". Grant them to the recipe's ServiceAccount with a Role \
                (see docs/recipes.md, pod-diagnostics).
                """)
        }
    }

    @Test func withoutEventsAndLogsPermissionsThePodIsStillDiagnosed() async throws {
        let podsOnly = Permissions(rules: [.init(verbs: ["get", "list"], resources: ["pods"])])
        try await Self.withCluster(permissions: podsOnly) { emulator, kubeconfig in
            try await Self.seedPod(emulator, "api-7d9f", status: Self.crashLooping(lastState: ["terminated": ["exitCode": 1, "reason": "Error"]]))
            let outcome = try await BuiltinRecipes.podDiagnostics(Self.context(
                [["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f"]], kubeconfig: kubeconfig))
            #expect(outcome.status == .successful)
            #expect(outcome.analysis.contains("is in CrashLoopBackOff"))
            #expect(outcome.analysis.hasSuffix("""
                Missing Kubernetes permissions: list events in "shop", get pods/log in "shop". Grant them to the recipe's \
                ServiceAccount with a Role (see docs/recipes.md, pod-diagnostics).
                """))
        }
    }

    @Test func anUnreachableAPIIsAFailedResult() async throws {
        // A kubeconfig for an API server that has stopped.
        let (kubeconfig, server) = try await Self.withCluster { emulator, kubeconfig in
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("stopped-\(UUID().uuidString.prefix(8)).kubeconfig").path
            try FileManager.default.copyItem(atPath: kubeconfig, toPath: copy)
            return (copy, emulator.baseURL)
        }
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        let message = await Self.failure(try Self.context(
            [["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f"]], kubeconfig: kubeconfig))
        #expect(message?.hasPrefix("cannot reach the Kubernetes API at \(server):") == true)

        let nowhere = await Self.failure(try Self.context([["namespace": "shop", "pod": "api-7d9f"]], kubeconfig: "/nonexistent/kubeconfig"))
        #expect(nowhere?.hasPrefix("no way to reach the Kubernetes API: no kubeconfig file found") == true)
    }
}
