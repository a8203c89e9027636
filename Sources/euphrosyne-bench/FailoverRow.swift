import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOCore
import Synchronization

/// Row: failover. Three `euphrosyne serve` replicas with `--leader-election` and the default Lease timing (15 s
/// duration, 10 s renew deadline, 2 s retry period), against the Kubernetes API emulator and a real `redis-server`,
/// each with `POD_IP` so that a replica standing by forwards to the leader. Alerts of new groups arrive steadily,
/// round-robin over the three, each sent again to the next replica until acknowledged, as Alertmanager would. The
/// leader is killed with SIGKILL (it releases nothing); timed from the kill to the first incident progressing on the
/// new leader: the first alert acknowledged after it, and the first analysis that reaches the bot after it.
///
/// Target: under the Lease duration plus one retry period (17 s), and no acknowledged alert lost: every group
/// acknowledged before or after the kill has exactly one incident, the one its acknowledgement named, analysed, with
/// its analysis at the bot; and one Job created per incident. No reference: a single replica does not fail over.
struct FailoverRow {
    let leaseDuration = 15
    let retryPeriod = 2
    /// New alert groups per second, before and after the kill.
    let alertsPerSecond = 10
    /// How long alerts arrive before the kill, and after the first alert acknowledged after it.
    let steadyPeriod = Duration.seconds(3)
    let namespace = "euphrosyne"

    func row(directory: URL) async throws -> Row {
        let client = StormRows.makeClient()
        let peer = Peer()
        let emulator = try await KubernetesEmulator.start(
            namespaces: [namespace],
            kubelet: Kubelet.Configuration(
                images: ["euphrosyne/recipes:latest": .init(directory: productsDirectory)],
                environment: childEnvironment(home: directory, extra: ["DUMMY_SUGGEST": ""])
            )
        )
        do {
            let row = try await withRedisServer { redis in
                try await RunningServer.with([peer.router]) { ports in
                    try await failover(emulator: emulator, redis: redis, peer: peer, peerPort: ports[0], client: client,
                                       directory: directory)
                }
            }
            await emulator.stop()
            try await client.shutdown()
            return row
        } catch {
            await emulator.stop()
            try? await client.shutdown()
            throw error
        }
    }

    /// What the senders saw.
    private final class Senders: Sendable {
        /// Group index → the incident its acknowledgement named, and when.
        let acknowledged = Mutex<[Int: (uuid: String, at: ContinuousClock.Instant)]>([:])
        /// Groups never acknowledged within their minute.
        let given = Mutex<[Int]>([])
    }

    private func failover(
        emulator: KubernetesEmulator, redis: RedisServerProcess, peer: Peer, peerPort: Int, client: HTTPClient,
        directory: URL
    ) async throws -> Row {
        let kubeconfig = directory.appendingPathComponent("kubeconfig-failover").path
        try await emulator.writeKubeconfig(to: kubeconfig, namespace: namespace)
        _ = try await emulator.seed(.configMaps, namespace: namespace,
                                    JSON.parse(StormRows.registryConfigMap(Alerts.registry(debuggingFor: "BenchFailover"))))
        var replicas: [(name: String, serve: ServerProcess)] = []
        defer {
            for replica in replicas where !replica.serve.process.hasExited { kill(replica.serve.process.pid, SIGKILL) }
        }
        for name in ["replica-a", "replica-b", "replica-c"] {
            let serve = try await ServerProcess.serve(
                ["--redis-address", "127.0.0.1:\(redis.port)", "--webex-bot-address", "http://127.0.0.1:\(peerPort)",
                 "--leader-election"],
                environment: childEnvironment(home: directory, extra: [
                    "KUBECONFIG": kubeconfig, "POD_NAME": name, "POD_IP": "127.0.0.1",
                ]),
                log: directory.appendingPathComponent("serve-failover-\(name).log").path
            )
            replicas.append((name, serve))
        }
        // Ready: the leader, and each replica standing by once it read the Lease (it knows where to forward).
        for replica in replicas { try await replica.serve.waitUntilReady() }
        let holder = try await leaseHolder(emulator)
        guard let leader = replicas.firstIndex(where: { holder.hasPrefix($0.name + "_") }) else {
            throw BenchError("the Lease is held by \(holder), none of the replicas")
        }
        let urls = replicas.map(\.serve.webhookURL)
        let survivor = replicas[(leader + 1) % replicas.count].serve

        let senders = Senders()
        let prefix = UUID().uuidString.prefix(8)
        // Killed at a random point of the leader's renewal period, since where it falls decides the failover's length.
        let killAfter = steadyPeriod + .milliseconds(Int.random(in: 0..<(retryPeriod * 1_000)))
        let killedAt = Mutex<ContinuousClock.Instant?>(nil)
        var handedOverAt: ContinuousClock.Instant?
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var index = 0
            while true {
                let now = ContinuousClock.now
                if killedAt.withLock({ $0 }) == nil, now - start >= killAfter {
                    kill(replicas[leader].serve.process.pid, SIGKILL)
                    killedAt.withLock { $0 = now }
                }
                // Enough: alerts kept arriving for a while after the new leader took the first one.
                if let killed = killedAt.withLock({ $0 }),
                   let firstAfter = senders.acknowledged.withLock({ $0.values.map(\.at).filter { $0 > killed }.min() }),
                   now - firstAfter >= steadyPeriod {
                    break
                }
                guard now - start < .seconds(120) else { break }
                // When another replica holds the Lease: the election's share of the failover.
                if killedAt.withLock({ $0 }) != nil, handedOverAt == nil,
                   let current = await currentHolder(emulator), current != holder {
                    handedOverAt = ContinuousClock.now
                }
                let number = index
                group.addTask {
                    let body = ByteBuffer(string: Alerts.firing(alertname: "BenchFailover", instance: "\(prefix)-\(number)"))
                    let deadline = ContinuousClock.now + .seconds(60)
                    var attempt = 0
                    while ContinuousClock.now < deadline {
                        let url = urls[(number + attempt) % urls.count]
                        if let uuid = await Self.acknowledgement(client, url, body) {
                            senders.acknowledged.withLock { $0[number] = (uuid, ContinuousClock.now) }
                            return
                        }
                        attempt += 1
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    senders.given.withLock { $0.append(number) }
                }
                index += 1
                try await Task.sleep(until: start + .seconds(1) / alertsPerSecond * index, clock: .continuous)
            }
            try await group.waitForAll()
        }
        guard let killed = killedAt.withLock({ $0 }) else { throw BenchError("the leader was never killed") }
        let acknowledged = senders.acknowledged.withLock { $0 }
        let givenUp = senders.given.withLock { $0 }
        guard let firstAcknowledged = acknowledged.values.map(\.at).filter({ $0 > killed }).min() else {
            throw BenchError("no alert was acknowledged after the leader was killed")
        }

        // Every acknowledged group analysed, at the bot, exactly once in the store.
        let uuids = Set(acknowledged.values.map(\.uuid))
        try await waitFor("every acknowledged incident's analysis at the bot", timeout: .seconds(120), every: .milliseconds(50)) {
            Set(peer.analysisTimes.keys).isSuperset(of: uuids)
        }
        let incidents = try await allIncidents(client, apiPort: survivor.apiPort ?? 0)
        let byGroup = Dictionary(grouping: incidents) { $0["alert"]?["groupKey"]?.stringValue ?? "" }
        let doubled = byGroup.values.filter { $0.count > 1 }.count
        let stored = Set(incidents.compactMap { $0["uuid"]?.stringValue })
        let lost = uuids.subtracting(stored).count + givenUp.count
        let notAnalysed = incidents.filter { $0["state"]?.stringValue != "analysed" }.count
        let jobsCreated = await emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") && $0.status == 201 }.count
        let firstAnalysis = peer.analysisTimes.values.filter { $0 > killed }.min()

        let budget = Double(leaseDuration + retryPeriod)
        let toAcknowledgement = (firstAcknowledged - killed).asSeconds
        let toAnalysis = firstAnalysis.map { ($0 - killed).asSeconds }
        let before = acknowledged.values.filter { $0.at < killed }.count
        let met = toAcknowledgement < budget && (toAnalysis.map { $0 < budget } ?? false) && lost == 0 && doubled == 0
            && notAnalysed == 0 && jobsCreated == incidents.count
        return Row(
            name: "Failover: 3 replicas (Lease \(leaseDuration) s, retry \(retryPeriod) s), \(alertsPerSecond) new alert groups/s "
                + "round-robin; the leader killed with SIGKILL → first incident progressing on the new leader",
            ours: String(format: "Lease taken over after %@, first alert acknowledged after %.1f s, first analysis after %@; ",
                         handedOverAt.map { String(format: "%.1f s", ($0 - killed).asSeconds) } ?? "?", toAcknowledgement,
                         toAnalysis.map { String(format: "%.1f s", $0) } ?? "none")
                + "\(acknowledged.count) groups acknowledged (\(before) before the kill), \(lost) lost, \(doubled) doubled, "
                + "\(notAnalysed) not analysed, \(jobsCreated) Jobs for \(incidents.count) incidents",
            target: "< \(Int(budget)) s, 0 acknowledged alerts lost", met: met
        )
    }

    /// The incident an alert's `202` names, or nil for any other answer (or none).
    private static func acknowledgement(_ client: HTTPClient, _ url: String, _ body: ByteBuffer) async -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body)
        guard let response = try? await client.execute(request, timeout: .seconds(10)),
              let data = try? await response.body.collect(upTo: 1 << 16),
              (200..<300).contains(response.status.code)
        else { return nil }
        return (try? JSONValue.parseObject(Data(data.readableBytesView)))?["uuid"]?.stringValue
    }

    private func leaseHolder(_ emulator: KubernetesEmulator) async throws -> String {
        var holder: String?
        try await waitFor("a replica to hold the Lease", timeout: .seconds(30)) {
            holder = await currentHolder(emulator)
            return holder != nil
        }
        return holder ?? ""
    }

    private func currentHolder(_ emulator: KubernetesEmulator) async -> String? {
        await emulator.objects(.leases, namespace: namespace)
            .first { $0["metadata"]["name"].string == "euphrosyne-leader" }?["spec"]["holderIdentity"].string
    }

    private func allIncidents(_ client: HTTPClient, apiPort: Int) async throws -> [[String: JSONValue]] {
        var all: [[String: JSONValue]] = []
        var offset = 0
        while true {
            let (status, body) = try await get(client, "http://127.0.0.1:\(apiPort)/api/incidents?limit=500&offset=\(offset)")
            guard status == 200 else { throw BenchError("/api/incidents answered \(status)") }
            let page = try JSONValue.parseObject(body)
            all += (page["incidents"]?.arrayValue ?? []).compactMap(\.objectValue)
            guard let next = page["nextOffset"]?.integerValue else { return all }
            offset = Int(next)
        }
    }
}
