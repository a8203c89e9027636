import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOCore
import Synchronization
import Testing

/// Three `euphrosyne serve` replicas with leader election (each forwarding to the leader), one emulator, one
/// redis-server and the fake bot: a storm of alert groups sent round-robin to all three, the leader killed with
/// SIGKILL in the middle of it and started again later. Nothing acknowledged is lost or doubled.
@Suite struct HighAvailabilityEndToEndTests {
    static let groups = 300
    static let namespace = ClusterModeEndToEndTests.namespace
    /// Longer than `LeaderElectionEndToEndTests.timing`: the storm loads the box, and a leader that cannot renew
    /// within its deadline exits by design, which nothing here would restart as Kubernetes does.
    static let timing = ["--leader-election", "--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1"]

    /// One quick recipe, so the storm measures the reconciler, not hundreds of slow pods.
    static var registry: String {
        let data = ["debugging": """
            dummy:
              enabled: true
              image: euphrosyne/recipes:latest
              entrypoint: euphrosyne-recipes dummy
              description: Proves the loop works
            """, "actions": ""]
        let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
        return #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"orpheus-operator-recipes"},"data":"# + encoded + "}"
    }

    /// Alertmanager's body for group `index`: its own `instance`, so its own incident.
    static func alert(_ index: Int) -> String {
        let instance = "storm-\(index)"
        return #"{"receiver":"euphrosyne","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"StormAlert","instance":"\#(instance)"},"annotations":{"summary":"storm"},"startsAt":"2026-12-05T01:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f\#(index)"}],"groupLabels":{"alertname":"StormAlert","instance":"\#(instance)"},"commonLabels":{"alertname":"StormAlert","instance":"\#(instance)"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}:{alertname=\"StormAlert\", instance=\"\#(instance)\"}","truncatedAlerts":0}"#
    }

    /// What the senders saw: each group's acknowledged incident, and whether the leader was killed yet.
    final class StormState: Sendable {
        let acknowledged = Mutex<[Int: String]>([:])
        let killed = Atomic<Bool>(false)
    }

    static func post(_ port: Int, _ body: String) async -> (status: Int, uuid: String?) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)),
              let data = try? await response.body.collect(upTo: 1 << 16)
        else { return (0, nil) }
        let json = try? JSONValue.parseObject(Data(data.readableBytesView))
        return (Int(response.status.code), json?["uuid"]?.stringValue)
    }

    @Test func aStormSurvivesTheLeaderBeingKilledWithNothingLostOrDoubled() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let emulator = try await ClusterModeEndToEndTests.emulator(loop, permissions: .reconciler())
        do {
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: Self.namespace)
            _ = try await emulator.seed(.configMaps, namespace: Self.namespace, JSON.parse(Self.registry))
            try await withRedisServer { redis in
                try await RunningServer.with([loop.bot.router]) { botPorts in
                    let arguments = ClusterModeEndToEndTests.serveArguments(redisPort: redis.port, botPort: botPorts[0],
                                                                            Self.timing)
                    let environment = ClusterModeEndToEndTests.serveEnvironment(loop).merging(["POD_IP": "127.0.0.1"]) { $1 }
                    @Sendable func replica(_ name: String) -> [String: String] { environment.merging(["POD_NAME": name]) { $1 } }
                    try await ServeProcess.with(arguments, environment: replica("replica-a"), inheritingEnvironment: false,
                                                directory: loop.directory) { a in
                        try await ServeProcess.with(arguments, environment: replica("replica-b"), inheritingEnvironment: false,
                                                    directory: loop.directory) { b in
                            try await ServeProcess.with(arguments, environment: replica("replica-c"), inheritingEnvironment: false,
                                                        directory: loop.directory) { c in
                                try await Self.storm([a, b, c], emulator: emulator, loop: loop, restart: { name, body in
                                    try await ServeProcess.with(arguments, environment: replica(name),
                                                                inheritingEnvironment: false, directory: loop.directory, body)
                                })
                            }
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

    static func storm(
        _ replicas: [ServeProcess], emulator: KubernetesEmulator, loop: LocalLoop,
        restart: @Sendable (String, @Sendable (ServeProcess) async throws -> Void) async throws -> Void
    ) async throws {
        try await waitUntil("a leader to publish its listeners") {
            await LeaderElectionEndToEndTests.lease(emulator)?["metadata"]["annotations"]["euphrosyne.io/api-url"].string != nil
        }
        let holder = try #require(await LeaderElectionEndToEndTests.lease(emulator)?["spec"]["holderIdentity"].string)
        let names = ["replica-a", "replica-b", "replica-c"]
        let leaderIndex = try #require(names.firstIndex { holder.hasPrefix($0 + "_") })
        let ports = replicas.map(\.webhookPort)

        // Every group sent round-robin, as Alertmanager would: retried (on the next replica) until acknowledged.
        let state = StormState()
        let leader = replicas[leaderIndex]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<groups {
                if index >= 16 { try await group.next() }
                group.addTask {
                    let deadline = ContinuousClock.now + .seconds(90)
                    var attempt = 0
                    while ContinuousClock.now < deadline {
                        let port = ports[(index + attempt) % ports.count]
                        let (status, uuid) = await post(port, alert(index))
                        if (200..<300).contains(status), let uuid {
                            let count = state.acknowledged.withLock { $0[index] = uuid; return $0.count }
                            // A third of the way in, the leader dies without a word.
                            if count == groups / 3, !state.killed.exchange(true, ordering: .relaxed) {
                                kill(leader.processIdentifier, SIGKILL)
                            }
                            return
                        }
                        attempt += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    Issue.record("group \(index) was never acknowledged")
                }
            }
            try await group.waitForAll()
        }
        let leaderWasKilled = state.killed.load(ordering: .relaxed)
        #expect(leaderWasKilled)
        let acks = state.acknowledged.withLock { $0 }

        // What each replica was doing, for a failure's message.
        @Sendable func report() -> String {
            zip(names, replicas).map { name, replica in
                let notable = replica.log.split(separator: "\n")
                    .filter { $0.contains("\"warning\"") || $0.contains("\"error\"") || $0.contains("Fatal") || $0.contains("leads") }
                    .suffix(12).joined(separator: "\n")
                let state = replica.isRunning ? "running" : "exited with \(String(describing: replica.terminationStatus))"
                return "\(name) (\(state)):\n\(notable)"
            }.joined(separator: "\n\n")
        }
        #expect(acks.count == groups, "\(report())")

        // A surviving replica answers for all of them.
        let survivor = replicas[(leaderIndex + 1) % replicas.count]
        let endpoints = LocalLoop.Endpoints(webhook: survivor.webhookPort, api: survivor.apiPort, bot: 0)
        @Sendable func allIncidents() async throws -> [[String: JSONValue]] {
            var all: [[String: JSONValue]] = []
            var offset = 0
            while true {
                let page = try await endpoints.get(survivor.apiPort, "/api/incidents?limit=500&offset=\(offset)")
                all += (page["incidents"]?.arrayValue ?? []).compactMap(\.objectValue)
                guard let next = page["nextOffset"]?.integerValue else { return all }
                offset = Int(next)
            }
        }
        do {
            try await waitUntil("every incident analysed", timeout: .seconds(120), pollEvery: .milliseconds(200)) {
                let all = try await allIncidents()
                return all.count >= groups && all.allSatisfy { $0["state"] == .string("analysed") }
            }
        } catch {
            let all = (try? await allIncidents()) ?? []
            let states = Dictionary(grouping: all) { $0["state"]?.stringValue ?? "?" }.mapValues(\.count)
            let stuck = all.first { $0["state"] != .string("analysed") }?["uuid"]?.stringValue
            let detail = try? await endpoints.get(survivor.apiPort, "/api/incidents/\(stuck ?? "")")
            Issue.record("\(all.count) incidents, by state \(states); one not analysed: \(String(describing: detail?["runs"])) \(String(describing: detail?["closedReason"]))\n\(report())")
            throw error
        }
        let incidents = try await allIncidents()
        // Exactly one incident per group, and it is the one each acknowledgement named.
        let byGroup = Dictionary(grouping: incidents) { $0["alert"]?["groupKey"]?.stringValue ?? "" }
        #expect(incidents.count == groups, "\(incidents.count) incidents for \(groups) groups")
        #expect(byGroup.values.allSatisfy { $0.count == 1 })
        let uuids = Set(incidents.compactMap { $0["uuid"]?.stringValue })
        #expect(Set(acks.values) == uuids)

        // Exactly one Job created per run (one recipe: one run per incident); a repeated creation found the Job.
        let creations = await emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") }
        #expect(creations.filter { $0.status == 201 }.count == groups, "\(creations.count) Job creations\n\(report())")

        // One analysis per incident at the bot.
        try await waitUntil("every analysis at the bot", timeout: .seconds(60)) {
            Set(loop.bot.received(path: "/api/analysis").compactMap { $0.json?["uuid"]?.stringValue }).isSuperset(of: uuids)
        }
        // A bot that keeps Idempotency-Keys shows one analysis per incident. A leader killed between delivering an
        // analysis and recording it makes the next one send it again, with the same key: counted, not shown twice.
        let received = loop.bot.received(path: "/api/analysis").filter { $0.json?["uuid"]?.stringValue.map(uuids.contains) == true }
        let keysByIncident = Dictionary(grouping: received) { $0.json?["uuid"]?.stringValue ?? "" }
            .mapValues { Set($0.compactMap(\.idempotencyKey)) }
        let shownTwice = keysByIncident.values.filter { $0.count != 1 }.count
        let resent = received.count - keysByIncident.count
        #expect(shownTwice == 0, "\(shownTwice) incidents with two different analyses (\(resent) sent again with their key)")

        // The killed replica starts again, and stands by.
        try await restart(names[leaderIndex]) { again in
            try await waitUntil("the restarted replica to be ready") {
                await LeaderElectionEndToEndTests.isReady(again)
            }
            // Ready means it read the Lease: it forwards a repeat to the leader, which joins it to its incident.
            let (status, uuid) = await post(again.webhookPort, alert(0))
            #expect(status == 202 && uuid == acks[0], "the restarted replica forwards a repeat to the leader: \(status)")
        }
    }
}
