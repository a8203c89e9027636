import AsyncHTTPClient
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOCore

/// Row 2: a storm — `alerts` distinct alert groups posted within one second to the real `euphrosyne serve`, each
/// diagnosed by one real recipe process (the built `euphrosyne-recipes dummy`), with the defaults (run cap 32,
/// intake queue 512). Timed from the first post until the fake bot holds every incident's analysis.
///
/// - Local mode: recipes are local processes reporting over the HTTP callback; incidents in memory, no Redis. The
///   reference is the floor: the same recipe processes (same argv, data file and callback) run 32 at a time by this
///   program with no reconciler, so the ratio says how much longer the reconciler takes than the processes alone.
/// - Cluster mode: against the Kubernetes API emulator (in this process; its kubelet runs each Job's pod as a local
///   process) and a real `redis-server`; recipes report over Redis. Counted from the emulator's request log: the
///   Kubernetes requests per incident (target: no registry GETs, one data ConfigMap and one Job per recipe); from
///   Redis: the connections the reconciler holds, and those the recipes open. No reference: the emulator's own work
///   shares the two cores, so its time is reported, not compared.
///
/// Peak RSS is the `serve` process's VmHWM (the kernel's high-water mark) read after the storm.
struct StormRows {
    var localAlerts: Int
    var clusterAlerts: Int
    let runCap = 32

    // MARK: Local mode

    func localRow(directory: URL) async throws -> Row {
        let client = Self.makeClient()
        do {
            let row = try await localStorm(client: client, directory: directory)
            try await client.shutdown()
            return row
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func localStorm(client: HTTPClient, directory: URL) async throws -> Row {
        let peer = Peer()
        return try await RunningServer.with([peer.router]) { ports in
            let peerPort = ports[0]
            let registry = directory.appendingPathComponent("storm-recipes.yaml")
            try Alerts.registry(debuggingFor: "BenchStorm").write(to: registry, atomically: true, encoding: .utf8)
            let log = directory.appendingPathComponent("serve-local-storm.log").path
            let serve = try await ServerProcess.serve(
                ["--local", "--recipes", registry.path, "--webex-bot-address", "http://127.0.0.1:\(peerPort)"],
                environment: childEnvironment(home: directory), log: log
            )
            do {
                try await serve.waitUntilReady()
                let idle = serve.memory
                let stormResult = try await Self.storm(client: client, serve: serve, peer: peer, alerts: localAlerts, log: log)
                let peak = serve.memory
                await serve.stop()
                // The floor, after the reconciler has stopped so the two never share the cores.
                let floor = try await recipesAlone(count: localAlerts, peer: peer, peerPort: peerPort, directory: directory)
                let ratio = stormResult.elapsed.asSeconds / floor.asSeconds
                return Row(
                    name: "Storm, local mode: \(localAlerts.formatted()) alerts in 1 s → every incident analysed "
                        + "(\(localAlerts.formatted()) recipe processes, run cap \(runCap); no Redis in local mode)",
                    ours: String(format: "%.1f s", stormResult.elapsed.asSeconds)
                        + ", peak RSS \(peak.map { formatMegabytes(kB: $0.peakKB) } ?? "?")"
                        + " (idle \(idle.map { formatMegabytes(kB: $0.residentKB) } ?? "?"))"
                        + stormResult.notes,
                    reference: String(format: "the same processes alone, %d at a time: %.1f s", runCap, floor.asSeconds),
                    ratio: ratio
                )
            } catch {
                await serve.stop()
                throw error
            }
        }
    }

    /// Runs `count` `euphrosyne-recipes dummy` processes `runCap` at a time, each with its data file and a callback
    /// URL on `peer`, as `LocalProcessLauncher` would start them; the time until every one has exited and reported.
    private func recipesAlone(count: Int, peer: Peer, peerPort: Int, directory: URL) async throws -> Duration {
        let recipes = try product("euphrosyne-recipes")
        let runs = directory.appendingPathComponent("floor")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let resultsBefore = peer.results
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                if index >= runCap { _ = try await group.next() }
                group.addTask {
                    let uuid = UUID().uuidString.lowercased()
                    let runDirectory = runs.appendingPathComponent(uuid)
                    try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
                    let data = runDirectory.appendingPathComponent("data.json")
                    let payload = Alerts.firing(alertname: "BenchStorm", instance: "floor-\(index)")
                    try Data(("{\"uuid\":\"\(uuid)\"," + payload.dropFirst()).utf8).write(to: data)
                    let child = try await ChildProcess.spawn(
                        executable: recipes,
                        arguments: ["dummy", "--data-file-path", data.path, "--aggregator-address", "", "--redis-address", ""],
                        environment: childEnvironment(home: directory, extra: [
                            "EUPHROSYNE_RESULT_URL": "http://127.0.0.1:\(peerPort)/results/\(uuid)/secret",
                            "EUPHROSYNE_INCIDENT": uuid, "EUPHROSYNE_RECIPE": "dummy", "EUPHROSYNE_RUN": "dummy-\(index)",
                            "DUMMY_SUGGEST": "",
                        ]),
                        standardOutput: runDirectory.appendingPathComponent("stdout.log").path,
                        standardError: runDirectory.appendingPathComponent("stderr.log").path
                    )
                    guard await child.wait() == 0 else { throw BenchError("a recipe run alone failed") }
                    try? FileManager.default.removeItem(at: runDirectory)
                }
            }
            try await group.waitForAll()
        }
        guard peer.results - resultsBefore == count else {
            throw BenchError("\(peer.results - resultsBefore) of \(count) recipes run alone reported")
        }
        return ContinuousClock.now - start
    }

    // MARK: Cluster mode

    func clusterRows(directory: URL) async throws -> [Row] {
        let client = Self.makeClient()
        do {
            let rows = try await clusterStorm(client: client, directory: directory)
            try await client.shutdown()
            return rows
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func clusterStorm(client: HTTPClient, directory: URL) async throws -> [Row] {
        let peer = Peer()
        let namespace = "euphrosyne"
        let emulator = try await KubernetesEmulator.start(
            namespaces: [namespace],
            kubelet: Kubelet.Configuration(
                images: ["euphrosyne/recipes:latest": .init(directory: productsDirectory)],
                environment: childEnvironment(home: directory, extra: ["DUMMY_SUGGEST": ""])
            ),
            // A real API server keeps minutes of watch history; the emulator's default (1,000 events) would make
            // the reconciler's watches relist mid-storm, which a real cluster would not.
            options: .init(historyLimit: 1_000_000)
        )
        do {
            let rows = try await withRedisServer { redis in
                try await RunningServer.with([peer.router]) { ports in
                    try await clusterStorm(emulator: emulator, namespace: namespace, redis: redis, peer: peer,
                                           peerPort: ports[0], client: client, directory: directory)
                }
            }
            await emulator.stop()
            return rows
        } catch {
            await emulator.stop()
            throw error
        }
    }

    private func clusterStorm(
        emulator: KubernetesEmulator, namespace: String, redis: RedisServerProcess, peer: Peer, peerPort: Int,
        client: HTTPClient, directory: URL
    ) async throws -> [Row] {
        let kubeconfig = directory.appendingPathComponent("kubeconfig").path
        try await emulator.writeKubeconfig(to: kubeconfig, namespace: namespace)
        _ = try await emulator.seed(.configMaps, namespace: namespace,
                                    JSON.parse(Self.registryConfigMap(Alerts.registry(debuggingFor: "BenchStorm"))))
        let log = directory.appendingPathComponent("serve-cluster-storm.log").path
        let serve = try await ServerProcess.serve(
            ["--redis-address", "127.0.0.1:\(redis.port)", "--webex-bot-address", "http://127.0.0.1:\(peerPort)"],
            environment: childEnvironment(home: directory, extra: ["KUBECONFIG": kubeconfig]), log: log
        )
        do {
            try await serve.waitUntilReady()
            let idle = serve.memory
            await emulator.clearRequestLog()
            let connectionsBefore = try await Self.totalConnections(redis)

            // Sample who is connected to Redis while the storm runs.
            let (stormResult, sampled) = try await whileSampling({
                var reconciler = 0
                var samples = 0
                while !Task.isCancelled {
                    let list = (try? await redis.cli(["CLIENT", "LIST"])) ?? ""
                    samples += 1
                    let names = list.split(separator: "\n").compactMap { line in
                        line.split(separator: " ").first { $0.hasPrefix("name=") }.map { String($0.dropFirst(5)) }
                    }
                    reconciler = max(reconciler, names.filter { $0 == "euphrosyne" || $0 == "euphrosyne-subscriber" }.count)
                    try? await Task.sleep(for: .seconds(1))
                }
                return (reconciler: reconciler, samples: samples)
            }, during: {
                try await Self.storm(client: client, serve: serve, peer: peer, alerts: clusterAlerts, log: log)
            })
            let peak = serve.memory
            // Clean-up follows each analysis: wait for it, so its requests are counted too.
            try await waitFor("the incidents' Jobs and ConfigMaps to be cleaned up", timeout: .seconds(120), every: .milliseconds(200)) {
                let jobs = await emulator.objects(.jobs, namespace: namespace)
                let configMaps = await emulator.objects(.configMaps, namespace: namespace)
                return jobs.isEmpty && configMaps.allSatisfy { $0["metadata"]["labels"]["uuid"].string == nil }
            }
            // The sampler's redis-cli connections and this last one are ours, not the storm's.
            let opened = try await Self.totalConnections(redis) - connectionsBefore - sampled.samples - 1
            let requests = await emulator.requestLog
            await serve.stop()

            let perIncident = { (count: Int) in Double(count) / Double(clusterAlerts) }
            let configMapCreates = requests.filter { $0.method == "POST" && $0.path.hasSuffix("/configmaps") }.count
            let jobCreates = requests.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") }.count
            let registryGets = requests.filter {
                $0.method == "GET" && !$0.isWatch && $0.path.hasSuffix("/configmaps/orpheus-operator-recipes")
            }.count
            let others = Dictionary(grouping: requests.filter {
                !$0.isWatch && !($0.method == "POST" && ($0.path.hasSuffix("/configmaps") || $0.path.hasSuffix("/jobs")))
            }) { "\($0.method) \($0.path.split(separator: "/").last ?? "")" }
                .sorted { $0.value.count > $1.value.count }
                .map { "\($0.key) \(String(format: "%.2f", perIncident($0.value.count)))" }
            let failed = requests.filter { $0.status >= 400 }
            let failures = Dictionary(grouping: failed) { "\($0.method) \($0.path.split(separator: "/").last ?? "") \($0.status)" }
                .map { "\($0.value.count)× \($0.key)" }.sorted().joined(separator: ", ")
            let recipesPerIncident = 1
            let met = registryGets == 0 && configMapCreates == clusterAlerts && jobCreates == clusterAlerts * recipesPerIncident
            return [
                Row(
                    name: "Storm, cluster mode (Kubernetes emulator + redis-server): \(clusterAlerts.formatted()) alerts in 1 s "
                        + "→ every incident analysed (one Job each, run cap \(runCap))",
                    ours: String(format: "%.1f s", stormResult.elapsed.asSeconds)
                        + ", peak RSS \(peak.map { formatMegabytes(kB: $0.peakKB) } ?? "?")"
                        + " (idle \(idle.map { formatMegabytes(kB: $0.residentKB) } ?? "?"))"
                        + "; Redis: \(sampled.reconciler) reconciler connections, \(opened.formatted()) opened by recipes"
                        + stormResult.notes
                ),
                Row(
                    name: "Storm, cluster mode: Kubernetes API requests per incident (watches excluded)",
                    ours: String(format: "%.2f ConfigMap + %.2f Job created, %d registry GETs; all: %.2f",
                                 perIncident(configMapCreates), perIncident(jobCreates), registryGets,
                                 perIncident(requests.filter { !$0.isWatch }.count))
                        + " (\(others.joined(separator: ", ")))" + (failed.isEmpty ? "" : "; answered ≥ 400: \(failures)"),
                    target: "0 registry GETs, 1 ConfigMap + N Jobs (N = \(recipesPerIncident))", met: met
                ),
            ]
        } catch {
            await serve.stop()
            throw error
        }
    }

    /// The registry manifest (YAML) as the JSON ConfigMap the emulator stores.
    static func registryConfigMap(_ manifest: String) -> String {
        // Only the two data sections matter; take them from the manifest's indented blocks.
        func section(_ key: String) -> String {
            let lines = manifest.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0 == "  \(key): |" }) else { return "" }
            return lines[(start + 1)...].prefix { $0.hasPrefix("    ") }.map { String($0.dropFirst(4)) }
                .joined(separator: "\n") + "\n"
        }
        let data = ["debugging": section("debugging"), "actions": section("actions")]
        let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
        return #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"orpheus-operator-recipes"},"data":"# + encoded + "}"
    }

    private static func totalConnections(_ redis: RedisServerProcess) async throws -> Int {
        let info = try await redis.cli(["INFO", "stats"])
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("total_connections_received:") }),
              let value = Int(line.split(separator: ":").last ?? "")
        else { throw BenchError("cannot read total_connections_received from INFO stats") }
        return value
    }

    // MARK: The storm itself

    struct StormResult {
        var elapsed: Duration
        /// Anything a reader should know: refusals, recipes that did not report.
        var notes: String
    }

    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Posts `alerts` distinct groups spread evenly over one second; a 503 (intake queue full) is sent again after
    /// 100 ms, as Alertmanager would after Retry-After. Then waits for every incident's analysis at the bot.
    static func storm(client: HTTPClient, serve: ServerProcess, peer: Peer, alerts: Int, log: String) async throws -> StormResult {
        let analysedBefore = peer.analysisCount
        let prefix = UUID().uuidString.prefix(8)
        let interval = Duration.seconds(1) / alerts
        let start = ContinuousClock.now
        let refusals = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<alerts {
                try await Task.sleep(until: start + interval * index, tolerance: .microseconds(100), clock: .continuous)
                group.addTask {
                    let body = ByteBuffer(string: Alerts.firing(alertname: "BenchStorm", instance: "\(prefix)-\(index)"))
                    var refused = 0
                    while true {
                        let status = try await post(client, serve.webhookURL, body, timeout: .seconds(60))
                        if status == 202 { return refused }
                        guard status == 503 else { throw BenchError("/webhook answered \(status) during the storm") }
                        refused += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let posted = ContinuousClock.now - start
        try await waitFor("every incident's analysis at the bot (see \(log))", timeout: .seconds(400), every: .milliseconds(10)) {
            if serve.process.hasExited { throw BenchError("serve exited during the storm (see \(log))") }
            return peer.analysisCount - analysedBefore >= alerts
        }
        let last = peer.analysisTimes.values.max() ?? .now
        let unreported = alerts - peer.analysesContaining("Dummy analysis")
        var notes: [String] = [String(format: "posted in %.2f s", posted.asSeconds)]
        if refusals > 0 { notes.append("\(refusals) refused with 503 and re-sent") }
        if unreported > 0 { notes.append("\(unreported) analyses without the recipe's result") }
        return StormResult(elapsed: last - start, notes: " (" + notes.joined(separator: "; ") + ")")
    }
}
