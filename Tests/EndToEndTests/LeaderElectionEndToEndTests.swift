import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOCore
import Testing

/// Two real `euphrosyne serve` replicas in cluster mode with `--leader-election`, one Lease on the emulator, one
/// `redis-server`: one acts, the other stands by, and it takes over when the first stops.
@Suite struct LeaderElectionEndToEndTests {
    static let timing = ["--leader-election", "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "1"]

    static func status(_ url: String) async -> (code: Int, headers: [String: String], json: [String: JSONValue])? {
        guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10)),
              let body = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        let headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }) { first, _ in first }
        return (Int(response.status.code), headers, (try? JSONValue.parseObject(Data(body.readableBytesView))) ?? [:])
    }

    static func isReady(_ serve: ServeProcess) async -> Bool {
        await status(serve.webhookURL + "/readyz")?.code == 200
    }

    static func lease(_ emulator: KubernetesEmulator) async -> JSON? {
        await emulator.objects(.leases, namespace: ClusterModeEndToEndTests.namespace)
            .first { $0["metadata"]["name"].string == "euphrosyne-leader" }
    }

    /// Two `serve` replicas (`replica-a`, `replica-b`) with leader election in cluster mode, against one emulator
    /// (the reconciler's Role), one redis-server and the fake bot, while `body` runs; with `forwarding`, each has
    /// `POD_IP` and forwards to the leader.
    static func withTwoReplicas(
        forwarding: Bool, environment extra: [String: String] = [:],
        _ body: @Sendable (ServeProcess, ServeProcess, KubernetesEmulator, LocalLoop) async throws -> Void
    ) async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let emulator = try await ClusterModeEndToEndTests.emulator(loop, permissions: .reconciler())
        do {
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: ClusterModeEndToEndTests.namespace)
            _ = try await emulator.seed(.configMaps, namespace: ClusterModeEndToEndTests.namespace,
                                        JSON.parse(ClusterModeEndToEndTests.registry(recordFile: loop.recordFile)))
            try await withRedisServer { redis in
                try await RunningServer.with([loop.bot.router]) { botPorts in
                    let arguments = ClusterModeEndToEndTests.serveArguments(redisPort: redis.port, botPort: botPorts[0],
                                                                            Self.timing)
                    let environment = ClusterModeEndToEndTests.serveEnvironment(loop)
                        .merging(forwarding ? ["POD_IP": "127.0.0.1"] : [:]) { $1 }.merging(extra) { $1 }
                    let environmentA = environment.merging(["POD_NAME": "replica-a"]) { $1 }
                    let environmentB = environment.merging(["POD_NAME": "replica-b"]) { $1 }
                    try await ServeProcess.with(arguments, environment: environmentA, inheritingEnvironment: false,
                                                directory: loop.directory) { a in
                        try await ServeProcess.with(arguments, environment: environmentB, inheritingEnvironment: false,
                                                    directory: loop.directory) { b in
                            try await body(a, b, emulator, loop)
                        }
                    }
                }
            }
        } catch {
            await emulator.stop()
            throw error
        }
        await emulator.stop()
    }

    /// Without `POD_IP`: only the leader is ready, the other refuses what only the leader may do, and takes over
    /// when the leader stops.
    @Test func oneReplicaActsTheOtherStandsByAndTakesOverWhenTheLeaderStops() async throws {
        try await Self.withTwoReplicas(forwarding: false) { a, b, emulator, _ in try await Self.exercise(a, b, emulator) }
    }

    /// With `POD_IP`, each replica publishes where it listens; one standing by is ready too and passes alerts,
    /// approvals and `/api/status` to the leader, which answers them as if they had come directly.
    @Test func aReplicaStandingByForwardsToTheLeaderAndTakesTrafficItself() async throws {
        try await Self.withTwoReplicas(forwarding: true, Self.forwarding)
    }

    /// A leader frozen past its Lease (SIGSTOP) while another takes over: once it runs again it writes nothing the
    /// new leader would have to undo, launches nothing, and exits.
    @Test func aLeaderFrozenPastItsLeaseWakesUpAndActsOnNothing() async throws {
        // At debug level the log says which service a shutdown waits for, should it not end.
        // Should the shutdown watchdog end it, every thread's stack is in its log.
        let environment = ["LOG_LEVEL": "debug", "SWIFT_BACKTRACE": "enable=yes,threads=all,interactive=no"]
        try await Self.withTwoReplicas(forwarding: true, environment: environment) { a, b, emulator, _ in
            try await Self.freeze(a, b, emulator)
        }
    }

    static func freeze(_ a: ServeProcess, _ b: ServeProcess, _ emulator: KubernetesEmulator) async throws {
        try await waitUntil("a leader to publish its listeners") {
            await lease(emulator)?["metadata"]["annotations"]["euphrosyne.io/api-url"].string != nil
        }
        let holder = try #require(await lease(emulator)?["spec"]["holderIdentity"].string)
        let (old, new) = holder.hasPrefix("replica-a_") ? (a, b) : (b, a)
        kill(old.processIdentifier, SIGSTOP)
        defer { kill(old.processIdentifier, SIGCONT) }
        try await waitUntil("another replica to take over", timeout: .seconds(30)) {
            new.log.contains("this replica leads: taking over")
        }
        let newEndpoints = LocalLoop.Endpoints(webhook: new.webhookPort, api: new.apiPort, bot: 0)
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        // An alert of another group reaches the frozen leader: it waits in the socket's backlog.
        let stale = alert.replacingOccurrences(of: "PodCrashLooping", with: "StalePodCrashLooping")
        #expect(stale != alert)
        let oldEndpoints = LocalLoop.Endpoints(webhook: old.webhookPort, api: old.apiPort, bot: 0)
        try await withThrowingTaskGroup(of: Int.self) { group in
            // Its answer, or 0 for a connection it closed unanswered: either way the sender retries.
            group.addTask { (try? await oldEndpoints.post(old.webhookPort, "/webhook", stale).status) ?? 0 }
            // The new leader takes the fresh alert meanwhile.
            let id = try await newEndpoints.alert(alert)
            try await newEndpoints.waitForState(id, "analysed")
            let creations = { await emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") && $0.status == 201 }.count }
            let jobsBefore = await creations()

            // The old leader runs again: its renew deadline is long past and its token is stale.
            kill(old.processIdentifier, SIGCONT)
            let status = try await group.next()
            #expect(status == 503 || status == 0, "the stale leader must not acknowledge the alert (\(String(describing: status)))")
            do {
                try await waitUntil("the stale leader to stop acting", timeout: .seconds(60)) {
                    old.log.contains("stopped leading") || old.log.contains("FENCED")
                }
                // Within the drain timeout (25 s) and the margin after it, whatever the shutdown waits for.
                try await waitUntil("the stale leader to exit", timeout: .seconds(60)) { !old.isRunning }
            } catch {
                let fatal = old.log.split(separator: "\n").filter {
                    $0.contains("Fatal error") || $0.contains("crashed") || $0.contains("sl-service") || $0.contains("stopped leading")
                }.suffix(30)
                let stacks = old.isRunning ? await old.threadStacks() : "(it is not running)"
                Issue.record("\(error); \(fatal.joined(separator: "\n")); its log ends: \(old.log.suffix(3_000)); its threads: \(stacks)")
                throw error
            }
            #expect(old.terminationStatus != 0)
            if old.log.contains("the graceful shutdown did not finish") {
                // Not a failure: the bounded exit is what the watchdog is for. But what the shutdown waited for is
                // worth seeing.
                print("the stale leader's shutdown hung and the watchdog ended it; its log ends: \(old.log.suffix(20_000))")
            }

            // It wrote nothing and launched nothing: one incident, the new leader's, and no Job of its own.
            let page = try await newEndpoints.get(new.apiPort, "/api/incidents")
            let incidents = page["incidents"]?.arrayValue ?? []
            #expect(incidents.count == 1 && incidents.first?["uuid"] == .string(id.uuidString.lowercased()), "\(page)")
            #expect(await creations() == jobsBefore, "no Job created since the stale leader woke")
            #expect(try await newEndpoints.incident(id)["state"] == .string("analysed"))
        }
    }

    static func forwarding(_ a: ServeProcess, _ b: ServeProcess, _ emulator: KubernetesEmulator, _ loop: LocalLoop) async throws {
        // Both ready; the leader is the Lease's holder, and it published both listeners.
        do {
            try await waitUntil("both replicas ready", timeout: .seconds(60)) {
                let (readyA, readyB) = (await isReady(a), await isReady(b))
                return readyA && readyB
            }
        } catch {
            // What each replica says it waits for, and its log, to tell a slow start from a stuck one.
            for (name, replica) in [("a", a), ("b", b)] {
                let readiness = await status(replica.webhookURL + "/readyz")
                Issue.record("replica \(name): /readyz \(readiness.map { "\($0.code) \($0.json)" } ?? "no answer"); log: \(replica.log.suffix(3_000))")
            }
            throw error
        }
        try await waitUntil("the leader to publish its listeners") {
            await lease(emulator)?["metadata"]["annotations"]["euphrosyne.io/api-url"].string != nil
        }
        let published = await lease(emulator)
        let holder = try #require(published?["spec"]["holderIdentity"].string)
        let (leader, follower) = holder.hasPrefix("replica-a_") ? (a, b) : (b, a)
        #expect(published?["metadata"]["annotations"]["euphrosyne.io/webhook-url"].string
            == "http://127.0.0.1:\(leader.webhookPort)")
        #expect(published?["metadata"]["annotations"]["euphrosyne.io/api-url"].string == "http://127.0.0.1:\(leader.apiPort)")

        // An alert sent to the follower opens the incident at the leader; reads work on either.
        let followerEndpoints = LocalLoop.Endpoints(webhook: follower.webhookPort, api: follower.apiPort, bot: 0)
        let leaderEndpoints = LocalLoop.Endpoints(webhook: leader.webhookPort, api: leader.apiPort, bot: 0)
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        let id = try await followerEndpoints.alert(alert)
        try await followerEndpoints.waitForState(id, "analysed")
        #expect(try await leaderEndpoints.incident(id)["state"] == .string("analysed"))
        #expect(!follower.log.contains("incident opened") && leader.log.contains("incident opened"))

        // An approval sent to the follower runs at the leader, once.
        let approval = #"{"uuid":"\#(id.uuidString.lowercased())","actions":[{"name":"record","data":{"from":"follower"}}]}"#
        let (approvedCode, approved) = try await followerEndpoints.post(follower.apiPort, "/api/actions", approval)
        #expect(approvedCode == 202, "\(approved)")
        try await followerEndpoints.waitForState(id, "done")
        // Once, on the leader: the bot got the analysis and one action outcome, from the leader's notifier.
        let uuid = JSONValue.string(id.uuidString.lowercased())
        try await waitUntil("the action outcome at the bot") {
            loop.bot.received(path: "/api/analysis").filter { $0.json?["uuid"] == uuid }.count >= 2
        }
        #expect(loop.bot.received(path: "/api/analysis").filter { $0.json?["uuid"] == uuid }.count == 2)
        let recordCreations = await emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") }
        #expect(recordCreations.filter { $0.status == 201 }.count == 4, "three diagnosis Jobs and one action Job: \(recordCreations)")
        let (statusCode, _) = try await followerEndpoints.post(follower.apiPort, "/api/status", "{}")
        #expect(statusCode == 200)

        // A request already forwarded once is not forwarded again: the follower answers it itself.
        var request = HTTPClientRequest(url: follower.webhookURL + "/webhook")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Euphrosyne-Forwarded-By", value: "someone")
        request.body = .bytes(ByteBuffer(string: alert))
        let looped = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(looped.status.code == 503)

        // The leader stops; until the follower takes over it answers 503 itself, then it takes the alerts.
        try await leader.stop()
        try await waitUntil("the follower to take over", timeout: .seconds(30)) {
            await lease(emulator)?["spec"]["holderIdentity"].string?.hasPrefix(holder) == false
                && follower.log.contains("this replica leads: taking over")
        }
        let (joinedCode, joined) = try await followerEndpoints.post(follower.webhookPort, "/webhook", alert)
        #expect(joinedCode == 202 && joined["uuid"] == .string(id.uuidString.lowercased()), "\(joined)")
    }

    static func exercise(_ a: ServeProcess, _ b: ServeProcess, _ emulator: KubernetesEmulator) async throws {
        try await waitUntil("one replica to lead and the other to stand by") {
            let (readyA, readyB) = (await isReady(a), await isReady(b))
            return readyA != readyB
        }
        let (leader, follower) = await isReady(a) ? (a, b) : (b, a)
        let leaderName = leader.webhookPort == a.webhookPort ? "replica-a" : "replica-b"
        let lease = try #require(await lease(emulator))
        #expect(lease["spec"]["holderIdentity"].string?.hasPrefix(leaderName + "_") == true, "\(lease)")
        #expect(lease["spec"]["leaseDurationSeconds"].int == 3)
        let standingBy = try #require(await status(follower.webhookURL + "/readyz"))
        #expect(standingBy.code == 503)
        #expect("\(standingBy.json)".contains("standing by"), "\(standingBy.json)")

        // The follower refuses alerts and approvals, so the sender retries (and its Service picks the leader).
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        let followerEndpoints = LocalLoop.Endpoints(webhook: follower.webhookPort, api: follower.apiPort, bot: 0)
        let (refusedCode, refused) = try await followerEndpoints.post(follower.webhookPort, "/webhook", alert)
        #expect(refusedCode == 503)
        #expect(refused["error"]?["code"] == .string("not_leader"), "\(refused)")
        let (statusCode, status) = try await followerEndpoints.post(follower.apiPort, "/api/status", "{}")
        #expect(statusCode == 503 && status["error"]?["code"] == .string("not_leader"), "\(status)")

        // The leader takes it.
        let leaderEndpoints = LocalLoop.Endpoints(webhook: leader.webhookPort, api: leader.apiPort, bot: 0)
        let id = try await leaderEndpoints.alert(alert)
        try await leaderEndpoints.waitForState(id, "analysed")

        // The leader stops (a rolling update): it releases the Lease, and the follower takes over at once, with
        // the incident the leader opened (from Redis), which the same alert now joins.
        try await leader.stop()
        try await waitUntil("the follower to take over", timeout: .seconds(30)) { await isReady(follower) }
        let taken = try #require(await Self.lease(emulator))
        #expect(taken["spec"]["holderIdentity"].string?.hasPrefix(leaderName + "_") == false, "\(taken)")
        #expect(taken["spec"]["leaseTransitions"].int == 1)
        #expect(try await followerEndpoints.incident(id)["state"] == .string("analysed"))
        let (joinedCode, joined) = try await followerEndpoints.post(follower.webhookPort, "/webhook", alert)
        #expect(joinedCode == 202)
        #expect(joined["outcome"] == .string("joined") && joined["uuid"] == .string(id.uuidString.lowercased()), "\(joined)")
        #expect(follower.log.contains("this replica leads: taking over"))
        // Each leadership writes with a fencing token newer than the last one's.
        #expect(leader.log.contains(#""fencingToken":"1""#) && follower.log.contains(#""fencingToken":"2""#),
                "\(follower.log.suffix(1_500))")
    }
}
