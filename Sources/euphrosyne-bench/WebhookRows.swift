import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore

/// Row 1: `/webhook` ingest — the real `euphrosyne serve --local` (its real route, coordinator, intake queue of 512
/// and run cap of 32, logging at its default level) against a Hummingbird 2 hello world, each in its own process,
/// loaded the same way in the same run.
///
/// Two kinds of traffic, because a storm mixes them and they cost differently:
/// - *a new group each*: every request is a new alert group. The registry's only recipe matches another alert
///   name, so each notification opens an incident that closes at once (no recipe matches) — the whole intake path
///   (parse, decode, dedup lookup, store, state machine, notification, release) without starting a process per
///   request, which at thousands per second would measure `posix_spawn`, not ingest;
/// - *one repeated group*: every request is the same group, which joins the one open (analysed) incident — what
///   Alertmanager's re-sends look like. Measured before the new-group runs, and again after them, once tens of
///   thousands of newer incidents have gone through the store (local mode's in-memory store keeps the newest 10,000).
///
/// Throughput comes from wrk (same threads, connections, duration and Lua script for both servers), in alternating
/// rounds (`PairedThroughput`); latency at a fixed 1,000 req/s from our open-loop generator (wrk cannot hold a rate),
/// measured from each request's due time.
struct WebhookRows {
    /// Seconds of wrk per server and kind of traffic, split over `rounds`.
    var wrkSeconds: Int
    /// How many alternating rounds each throughput comparison takes (see `PairedThroughput`).
    var rounds: Int
    var wrkThreads: Int
    var wrkConnections: Int
    /// Length of each fixed-rate run.
    var rateSeconds: Int
    let rate = 1_000

    func rows(directory: URL) async throws -> [Row] {
        let registry = directory.appendingPathComponent("webhook-recipes.yaml")
        try Alerts.registry(debuggingFor: "BenchRepeated", suggest: "record")
            .write(to: registry, atomically: true, encoding: .utf8)
        let environment = childEnvironment(home: directory)
        let hello = try await ServerProcess.hello(environment: environment)
        let serve: ServerProcess
        do {
            serve = try await ServerProcess.serve(["--local", "--recipes", registry.path], environment: environment)
        } catch {
            await hello.stop()
            throw error
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: {
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
            return configuration
        }())
        do {
            let rows = try await measure(hello: hello, serve: serve, client: client, directory: directory)
            await hello.stop()
            await serve.stop()
            try await client.shutdown()
            return rows
        } catch {
            await hello.stop()
            await serve.stop()
            try? await client.shutdown()
            throw error
        }
    }

    private func measure(hello: ServerProcess, serve: ServerProcess, client: HTTPClient, directory: URL) async throws -> [Row] {
        try await hello.waitUntilReady()
        try await serve.waitUntilReady()

        // The repeated group's incident: opened once, analysed by the real `dummy` recipe, then every request joins it.
        let repeated = Alerts.firing(alertname: "BenchRepeated", instance: "fixed")
        var request = HTTPClientRequest(url: serve.webhookURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: repeated))
        let response = try await client.execute(request, timeout: .seconds(10))
        let answer = try JSONValue.parseObject(Data(try await response.body.collect(upTo: 1 << 16).readableBytesView))
        guard response.status.code == 202, let uuid = answer["uuid"]?.stringValue else {
            throw BenchError("the repeated group's first notification was not accepted: \(response.status) \(answer)")
        }
        try await waitFor("the repeated group's incident to be analysed", timeout: .seconds(30)) {
            let (_, body) = try await get(client, "http://127.0.0.1:\(serve.apiPort!)/api/incidents/\(uuid)")
            return try JSONValue.parseObject(body)["state"]?.stringValue == "analysed"
        }

        let newGroup = Wrk.script(body: { Alerts.firing(alertname: "BenchNew", instance: $0) }, distinct: true)
        let sameGroup = Wrk.script(body: { _ in repeated }, distinct: false)
        func wrk(_ server: ServerProcess, _ script: String, seconds: Int, path: String = "/webhook") async throws -> Wrk.Result {
            try await Wrk.run(url: server.url(path), script: script, threads: wrkThreads,
                              connections: wrkConnections, seconds: seconds, in: directory)
        }
        // Warm both up (connections, allocator) before anything counts.
        _ = try await wrk(hello, sameGroup, seconds: 1)
        _ = try await wrk(serve, sameGroup, seconds: 1)
        let roundSeconds = max(1, wrkSeconds / rounds)
        /// `script` to `ours` (at `path`) and to the hello world's `/webhook`, in alternating rounds.
        func paired(_ script: String, to ours: ServerProcess, at path: String = "/webhook") async throws -> PairedThroughput {
            try await PairedThroughput.measure(rounds: rounds) {
                try await wrk(ours, script, seconds: roundSeconds, path: path)
            } reference: {
                try await wrk(hello, script, seconds: roundSeconds)
            }
        }

        // The repeated group first, while the store holds few incidents; then new groups (tens of thousands of
        // incidents); then the repeated group again, now that its incident is older than the store's newest 10,000.
        let same = try await paired(sameGroup, to: serve)
        // The floor of any alert intake on this stack: the hello world reading and parsing the same body.
        let parse = try await paired(sameGroup, to: hello, at: "/parse")
        let count = rate * rateSeconds
        let warmUp = rate / 2
        func fixedRate(_ server: ServerProcess, _ body: @escaping @Sendable (Int) -> ByteBuffer) async throws -> OpenLoop.Result {
            _ = try await OpenLoop.run(client: client, url: server.webhookURL, rate: rate, count: warmUp, body: body)
            return try await OpenLoop.run(client: client, url: server.webhookURL, rate: rate, count: count, body: body)
        }
        let repeatedBuffer = ByteBuffer(string: repeated)
        let oursRateSame = try await fixedRate(serve, { _ in repeatedBuffer })

        let new = try await paired(newGroup, to: serve)
        // Fixed rate, new groups to both (the instance label numbers them).
        let prefix = UUID().uuidString.prefix(8)
        let newBody: @Sendable (Int) -> ByteBuffer = {
            ByteBuffer(string: Alerts.firing(alertname: "BenchNew", instance: "\(prefix)-\($0)"))
        }
        let helloRate = try await fixedRate(hello, newBody)
        let oursRateNew = try await fixedRate(serve, { index in newBody(index + count + warmUp) })

        let sameLater = try await paired(sameGroup, to: serve)

        let wrkSettings = "wrk -t\(wrkThreads) -c\(wrkConnections), \(rounds) alternating rounds of \(roundSeconds) s each"
        /// `target`: a new group does more than a repeat (an incident made, stored, notified, closed): ≥ 0.5× of the
        /// hello world; a repeat ≥ 0.8×.
        func throughputRow(_ what: String, _ pair: PairedThroughput, target: Double) -> Row {
            Row(
                name: "/webhook requests/s, \(what) (\(wrkSettings))",
                ours: pair.oursText, reference: "Hummingbird hello world \(formatRate(pair.medianReference))",
                ratio: pair.medianRatio, target: "≥ \(target)×", met: pair.medianRatio >= target && pair.failures == 0
            )
        }
        func latencyRow(_ what: String, _ ours: OpenLoop.Result) -> Row {
            Row(
                name: "/webhook p99 ack at \(rate.formatted()) req/s open loop, \(what) (\(count.formatted()) requests)",
                ours: "p99 \(formatMilliseconds(ours.p99)), p50 \(formatMilliseconds(ours.p50))"
                    + (ours.failures > 0 ? " (\(ours.failures) failed)" : ""),
                reference: "hello world p99 \(formatMilliseconds(helloRate.p99)), p50 \(formatMilliseconds(helloRate.p50))",
                ratio: ours.p99 / helloRate.p99, target: "p99 < 5 ms", met: ours.p99 < 5 && ours.failures == 0
            )
        }
        return [
            throughputRow("a new group each", new, target: 0.5),
            throughputRow("one repeated group", same, target: 0.8),
            throughputRow("one repeated group, its incident older than 10,000 newer ones", sameLater, target: 0.8),
            Row(
                name: "for scale: the hello world's `/parse`, which only reads and parses the repeated group's body (\(wrkSettings))",
                ours: parse.oursText, reference: "Hummingbird hello world \(formatRate(parse.medianReference))",
                ratio: parse.medianRatio
            ),
            latencyRow("a new group each", oursRateNew),
            latencyRow("one repeated group", oursRateSame),
        ]
    }
}
