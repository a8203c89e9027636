import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

@testable import EuphrosyneKubernetes

/// The client against the Kubernetes API emulator (HTTPS with its own CA, bearer tokens, `Status` errors).
@Suite struct KubernetesClientTests {
    /// Runs `body` with an emulator and a client for it; stops both.
    static func withEmulator<T: Sendable>(
        namespaces: [String] = ["alerts"], permissions: Permissions = .all, token: TokenSource? = nil,
        retries: Int = 3, requestTimeout: Duration = .seconds(10), retryClock: any Clock<Duration> = ContinuousClock(),
        options: KubernetesEmulator.Options = .init(),
        _ body: @Sendable (KubernetesEmulator, KubernetesClient) async throws -> T
    ) async throws -> T {
        let emulator = try await KubernetesEmulator.start(namespaces: namespaces, permissions: permissions,
                                                          options: options)
        let validToken = await emulator.validToken()
        let source = token ?? TokenSource(token: validToken)
        let client = try KubernetesClient(
            configuration: KubernetesConfiguration(server: emulator.baseURL, caPEM: emulator.caPEM,
                                                   credentials: .bearer(source)),
            retries: retries, requestTimeout: .milliseconds(Int64(requestTimeout / .milliseconds(1))), retryClock: retryClock)
        do {
            let result = try await body(emulator, client)
            try await client.shutdown()
            await emulator.stop()
            return result
        } catch {
            try? await client.shutdown()
            await emulator.stop()
            throw error
        }
    }

    static func configMap(_ labels: [String: String], name: String? = nil) -> ConfigMap {
        ConfigMap(metadata: ObjectMeta(name: name, generateName: name == nil ? "data-" : nil, labels: labels),
                  data: ["data.json": "{}"])
    }

    @Test func createsWithGenerateNameGetsListsBySelectorAndDeletes() async throws {
        try await Self.withEmulator { _, client in
            let first = try await client.create(Self.configMap(["app": "euphrosyne", "uuid": "a"]), namespace: "alerts")
            let name = try #require(first.metadata.name)
            #expect(name.hasPrefix("data-") && name.count == "data-".count + 5)
            #expect(first.metadata.uid != nil && first.metadata.resourceVersion != nil)
            _ = try await client.create(Self.configMap(["app": "euphrosyne", "uuid": "b"]), namespace: "alerts")
            _ = try await client.create(Self.configMap(["app": "other"]), namespace: "alerts")

            #expect(try await client.get(ConfigMap.self, name: name, namespace: "alerts").data == ["data.json": "{}"])
            func names(_ selector: String) async throws -> Int {
                try await client.list(ConfigMap.self, namespace: "alerts", labelSelector: selector).items.count
            }
            #expect(try await names("app=euphrosyne") == 2)
            #expect(try await names("app=euphrosyne,uuid in (a,c)") == 1)
            #expect(try await names("app!=euphrosyne") == 1)
            #expect(try await names("!uuid") == 1)

            try await client.delete(ConfigMap.self, name: name, namespace: "alerts")
            // Deleting what is gone is fine; getting it is a NotFound with the API's reason.
            try await client.delete(ConfigMap.self, name: name, namespace: "alerts")
            do throws(KubernetesError) {
                _ = try await client.get(ConfigMap.self, name: name, namespace: "alerts")
                Issue.record("a deleted ConfigMap was found")
            } catch {
                #expect(error.isNotFound && error.reason == "NotFound")
            }
            try await client.deleteCollection(ConfigMap.self, namespace: "alerts", labelSelector: "app=euphrosyne")
            #expect(try await names("app") == 1)
        }
    }

    @Test func apiErrorsKeepTheirStatusAndReason() async throws {
        try await Self.withEmulator { _, client in
            _ = try await client.create(Self.configMap([:], name: "fixed"), namespace: "alerts")
            do throws(KubernetesError) {
                _ = try await client.create(Self.configMap([:], name: "fixed"), namespace: "alerts")
                Issue.record("a duplicate name was accepted")
            } catch {
                #expect(error.isAlreadyExists && error.statusCode == 409)
            }
            do throws(KubernetesError) {
                _ = try await client.create(Self.configMap([:], name: "Not_Valid"), namespace: "alerts")
                Issue.record("an invalid name was accepted")
            } catch {
                #expect(error.statusCode == 422 && error.reason == "Invalid")
                #expect(error.apiStatus?.details?.causes?.first?.field == "metadata.name")
            }
            do throws(KubernetesError) {
                _ = try await client.create(Self.configMap([:]), namespace: "nowhere")
                Issue.record("a ConfigMap was created in a namespace that does not exist")
            } catch {
                #expect(error.isNotFound)
            }
        }
    }

    @Test func aRotatedTokenIsReadAgainFromItsFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token").path
        let emulator = try await KubernetesEmulator.start(namespaces: ["alerts"])
        try await emulator.validToken().write(toFile: file, atomically: true, encoding: .utf8)
        // A long refresh interval: only the 401 makes the client read the file again.
        let source = TokenSource(file: file, refreshInterval: .seconds(3600))
        let client = try KubernetesClient(configuration: KubernetesConfiguration(
            server: emulator.baseURL, caPEM: emulator.caPEM, credentials: .bearer(source)))
        do {
            _ = try await client.list(ConfigMap.self, namespace: "alerts")
            // The kubelet rotates the projected token: the old one is refused from now on.
            try await emulator.rotateToken().write(toFile: file, atomically: true, encoding: .utf8)
            _ = try await client.list(ConfigMap.self, namespace: "alerts")
            let statuses = await emulator.requestLog.map(\.status)
            #expect(statuses == [200, 401, 200])
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        await emulator.stop()
    }

    @Test func serverErrorsAndTimeoutsAreRetriedThenReported() async throws {
        // The pauses between attempts (the back-off, the 503's Retry-After of 1 s) pass on a manual clock.
        let clock = ManualClock()
        try await Self.withEmulator(retries: 3, requestTimeout: .seconds(3), retryClock: clock) { emulator, client in
            try await Self.advancing(clock) { () throws(KubernetesError) in
                await emulator.failNextRequests(2, status: 500)
                _ = try await client.list(ConfigMap.self, namespace: "alerts")
                await emulator.failNextRequests(1, status: 0)
                _ = try await client.list(ConfigMap.self, namespace: "alerts")
            }
            await emulator.clearRequestLog()
            await emulator.failNextRequests(10, status: 503)
            let started = clock.now
            do throws(KubernetesError) {
                _ = try await Self.advancing(clock) { () throws(KubernetesError) in
                    try await client.list(ConfigMap.self, namespace: "alerts")
                }
                Issue.record("a persistent failure was not reported")
            } catch {
                #expect(error.statusCode == 503 && error.reason == "ServiceUnavailable")
            }
            // The first attempt and its three retries, each after at least the second the server asked for.
            #expect(await emulator.requestLog.count == 4)
            #expect(started.duration(to: clock.now) >= .seconds(3))
        }
    }

    /// Runs `work` while moving `clock` on to each pause's end as soon as something sleeps on it.
    static func advancing<T: Sendable>(
        _ clock: ManualClock, _ work: @escaping @Sendable () async throws(KubernetesError) -> T
    ) async throws(KubernetesError) -> T {
        let outcome: Result<T, KubernetesError>? = await withTaskGroup(of: Result<T, KubernetesError>?.self) { group in
            group.addTask {
                do throws(KubernetesError) { return .success(try await work()) } catch { return .failure(error) }
            }
            group.addTask {
                while !Task.isCancelled {
                    if let wake = clock.nextWake { clock.advance(by: clock.now.duration(to: wake)) }
                    try? await Task.sleep(for: .milliseconds(2))
                }
                return nil
            }
            // The ticker never ends by itself: the first result is the work's.
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let outcome else { throw KubernetesError(.transport, message: "the work ended without an outcome") }
        return try outcome.get()
    }

    @Test func reachabilityFollowsWhetherTheServerAnswers() async throws {
        try await Self.withEmulator(retries: 0, requestTimeout: .seconds(2)) { emulator, client in
            #expect(client.isReachable)
            await emulator.failNextRequests(3, status: 0)
            for _ in 0..<3 { _ = try? await client.list(ConfigMap.self, namespace: "alerts") }
            #expect(!client.isReachable)
            // Any answer, even an error, means the server is there (retried: a loaded machine may time one out).
            await emulator.failNextRequests(1, status: 500)
            try await waitUntil("an answer") {
                _ = try? await client.list(ConfigMap.self, namespace: "alerts")
                return client.isReachable
            }
            #expect(await emulator.requestLog.contains { $0.status == 500 })
        }
    }

    @Test func aWatchFromAnExpiredVersionIsGone() async throws {
        try await Self.withEmulator { emulator, client in
            let list = try await client.list(ConfigMap.self, namespace: "alerts")
            for _ in 0..<3 { _ = try await client.create(Self.configMap(["app": "x"]), namespace: "alerts") }
            await emulator.compactHistory()
            do {
                for try await _ in try await client.watch(ConfigMap.self, namespace: "alerts", resourceVersion: list.metadata.resourceVersion) {}
                Issue.record("a watch from a compacted version did not fail")
            } catch let error as KubernetesError {
                #expect(error.isGone)
            }
        }
    }

    @Test func theInformerFollowsChangesOfOneKey() async throws {
        try await Self.withEmulator { _, client in
            let informer = Informer<ConfigMap>(client: client, namespace: "alerts", labelSelector: "app=euphrosyne")
            let run = Task { try await informer.run() }
            await informer.waitUntilSynced()
            let changes = await informer.follow("watched")
            var created = try await client.create(Self.configMap(["app": "euphrosyne"], name: "watched"), namespace: "alerts")
            _ = try await client.create(Self.configMap(["app": "other"], name: "ignored"), namespace: "alerts")
            var iterator = changes.makeAsyncIterator()
            let added = await iterator.next()
            #expect(added??.metadata.name == "watched")
            try await client.delete(ConfigMap.self, name: "watched", namespace: "alerts")
            let deleted = await iterator.next()
            #expect(deleted.map { $0 == nil } == true)
            #expect(await informer.all.isEmpty)
            created.metadata.name = nil
            run.cancel()
        }
    }

    @Test func theInformerListsAgainWhenItsVersionExpired() async throws {
        // No periodic bookmarks: the informer's version only moves with the objects it watches.
        try await Self.withEmulator(options: .init(bookmarkInterval: nil)) { emulator, client in
            // One-second watches: the informer reconnects from its last version every second.
            let informer = Informer<ConfigMap>(client: client, namespace: "alerts", labelSelector: "app=watched",
                                               watchSeconds: 1...1)
            let run = Task { try await informer.run() }
            await informer.waitUntilSynced()
            _ = try await client.create(Self.configMap(["app": "watched"], name: "before"), namespace: "alerts")
            try await waitUntil("the watched object") { await informer.object(named: "before") != nil }
            #expect(await informer.listCount == 1)
            // Other objects move the server's version past the informer's, then the server forgets its history:
            // the informer's next watch gets 410 and it lists again.
            for _ in 0..<2 { _ = try await client.create(Self.configMap(["app": "other"]), namespace: "alerts") }
            await emulator.compactHistory()
            try await waitUntil("a second list", timeout: .seconds(20)) { await informer.listCount == 2 }
            #expect(await informer.all.map(\.metadata.name) == ["before"])
            run.cancel()
        }
    }

    @Test func readsEventsDeploymentsAndPreviousLogs() async throws {
        try await Self.withEmulator { emulator, client in
            try await emulator.seed(.pods, namespace: "alerts", [
                "metadata": ["name": "api-1", "labels": ["app": "api"]], "spec": ["containers": [["name": "api", "image": "x"]]],
            ])
            try await emulator.setPodStatus(namespace: "alerts", name: "api-1", status: [
                "phase": "Running",
                "conditions": [["type": "Ready", "status": "False", "reason": "ContainersNotReady"]],
                "containerStatuses": [["name": "api", "image": "x", "ready": false, "restartCount": 2,
                                       "state": ["waiting": ["reason": "CrashLoopBackOff"]],
                                       "lastState": ["terminated": ["exitCode": 137, "reason": "OOMKilled",
                                                                    "finishedAt": "2026-01-01T10:00:00Z"]]]],
            ])
            try await emulator.seed(.events, namespace: "alerts", [
                "metadata": ["name": "api-1.1"], "involvedObject": ["kind": "Pod", "namespace": "alerts", "name": "api-1"],
                "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container", "count": 5,
            ])
            try await emulator.seed(.events, namespace: "alerts", [
                "metadata": ["name": "api-2.1"], "involvedObject": ["kind": "Pod", "namespace": "alerts", "name": "api-2"],
                "type": "Normal", "reason": "Pulled",
            ])
            try await emulator.seed(.deployments, namespace: "alerts", [
                "metadata": ["name": "api"],
                "spec": ["selector": ["matchLabels": ["app": "api"]],
                         "template": ["metadata": ["labels": ["app": "api"]], "spec": ["containers": [["name": "api", "image": "x"]]]]],
            ])
            await emulator.setPodLog(namespace: "alerts", name: "api-1", container: "api", log: "a\nb\nkilled\n", previous: true)

            let pod = try await client.get(Pod.self, name: "api-1", namespace: "alerts")
            let status = try #require(pod.status?.containerStatuses?.first)
            #expect(status.ready == false && status.lastState?.terminated?.reason == "OOMKilled")
            #expect(status.lastState?.terminated?.finishedAt == "2026-01-01T10:00:00Z")
            #expect(pod.status?.conditions?.first?.reason == "ContainersNotReady")

            let events = try await client.list(KubernetesEvent.self, namespace: "alerts",
                                               fieldSelector: "involvedObject.name=api-1").items
            #expect(events.map(\.reason) == ["BackOff"] && events.first?.occurrences == 5)

            let deployment = try await client.get(Deployment.self, name: "api", namespace: "alerts")
            #expect(deployment.spec?.replicas == 1)
            let selector = try #require(deployment.spec?.selector?.queryString)
            #expect(try await client.list(Pod.self, namespace: "alerts", labelSelector: selector).items.map(\.metadata.name) == ["api-1"])

            #expect(try await client.podLog(name: "api-1", namespace: "alerts", tailLines: 2, previous: true) == "b\nkilled\n")
            #expect(await emulator.requestLog.last?.query["previous"] == "true")
        }
    }

    @Test func withoutConnectionRetriesADownServerFailsFast() async throws {
        let emulator = try await KubernetesEmulator.start(namespaces: ["alerts"])
        let configuration = KubernetesConfiguration(server: emulator.baseURL, caPEM: emulator.caPEM,
                                                    credentials: .bearer(TokenSource(token: await emulator.validToken())))
        await emulator.stop()
        // The connect timeout is long: only failing each refused connection at once makes this quick.
        let client = try KubernetesClient(configuration: configuration, retries: 1, connectTimeout: .seconds(60),
                                          retryConnectionEstablishment: false)
        let started = ContinuousClock.now
        do throws(KubernetesError) {
            _ = try await client.get(Pod.self, name: "api-1", namespace: "alerts")
            Issue.record("a stopped server answered")
        } catch {
            #expect(error.code == .transport)
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        try await client.shutdown()
    }

    @Test func theStartUpCheckNamesEveryDeniedPermission() async throws {
        let permissions = Permissions.all
            .denying(verbs: ["deletecollection"], group: "batch", resources: ["jobs"])
            .denying(verbs: ["get"], resources: ["pods/log"])
        try await Self.withEmulator(permissions: permissions) { _, client in
            let missing = try await PermissionCheck.missing(
                PermissionCheck.required(recipeNamespace: "alerts", reconcilerNamespace: "alerts"), client: client)
            #expect(missing.map(\.description) == ["deletecollection jobs.batch", "get pods/log"])
        }
    }
}
