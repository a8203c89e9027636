import AsyncHTTPClient
import EuphrosyneBot
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import Synchronization

/// Row 3: how long after an incident's last recipe result its analysis reaches the bot. One process, one clock:
/// a real `IncidentCoordinator` (in-memory store, the real `BotNotifier` over HTTP) whose launcher reports each
/// recipe's result straight into `deliver` — the instant before that call is the start — and a fake bot that notes
/// when the `POST /api/analysis` arrives. Each incident runs two recipes; the later result is the last.
///
/// Reference: the same client posting a body of the same size straight to the same bot, at the same pace, timed from
/// just before the request to its arrival — the transport alone.
struct NotifyLatencyRow {
    var samples: Int
    /// Incidents opened per second: enough to overlap, not a storm (row 2 is the storm).
    let rate = 200

    func row() async throws -> Row {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let row = try await measure(client: client)
            try await client.shutdown()
            return row
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func measure(client: HTTPClient) async throws -> Row {
        let peer = Peer()
        let samples = self.samples
        let interval = Duration.seconds(1) / rate
        return try await RunningServer.with([peer.router]) { ports in
            let botURL = "http://127.0.0.1:\(ports[0])"
            var quiet = Logger(label: "bench.coordinator")
            quiet.logLevel = .critical
            let launcher = ReportingLauncher()
            let coordinator = IncidentCoordinator(
                registry: StaticRecipeRegistry(RecipeCatalog(debugging: [.fake("first"), .fake("last")], actions: [])),
                launcher: launcher, resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"),
                notifier: BotNotifier(baseURL: botURL, httpClient: client, logger: quiet),
                store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .seconds(2)), logger: quiet
            )
            launcher.deliver = { await coordinator.deliver($0, via: .callback) }

            let ours = try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0), logger: quiet) { _ in
                let start = ContinuousClock.now
                for index in 0..<samples {
                    try await Task.sleep(until: start + interval * index, tolerance: .microseconds(100), clock: .continuous)
                    let body = Alerts.firing(alertname: "BenchNotify", instance: "\(index)")
                    _ = try await coordinator.receive(payload: JSONValue.parseObject(Data(body.utf8)))
                }
                try await waitFor("every analysis at the bot", timeout: .seconds(60), every: .milliseconds(5)) {
                    peer.analysisCount >= samples
                }
                let arrivals = peer.analysisTimes
                return launcher.lastResults.compactMap { uuid, delivered in arrivals[uuid].map { $0 - delivered } }
            }
            guard ours.count == samples else { throw BenchError("\(ours.count) of \(samples) analyses matched their results") }

            // The transport alone: a body like an analysis, posted to the same bot by the same client.
            let sent = Locked<[String: ContinuousClock.Instant]>([:])
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<samples {
                    try await Task.sleep(until: start + interval * index, tolerance: .microseconds(100), clock: .continuous)
                    group.addTask {
                        let uuid = UUID().uuidString.lowercased()
                        let body = #"{"actions":[],"analysis":"first: Dummy analysis of BenchNotify \#(index)\n\nlast: Dummy analysis of BenchNotify \#(index)","uuid":"\#(uuid)"}"#
                        sent.withLock { $0[uuid] = .now }
                        _ = try await post(client, botURL + "/api/analysis", ByteBuffer(string: body))
                    }
                }
                try await group.waitForAll()
            }
            let arrivals = peer.analysisTimes
            let reference = sent.withLock { $0 }.compactMap { uuid, at in arrivals[uuid].map { $0 - at } }

            let p99 = percentile(99, of: ours)
            let referenceP99 = percentile(99, of: reference)
            return Row(
                name: "Last recipe result → notifier request at the bot, \(samples.formatted()) incidents at \(rate)/s, 2 recipes each",
                ours: "p99 \(formatMilliseconds(p99)), p50 \(formatMilliseconds(percentile(50, of: ours)))",
                reference: "same POST, same client: p99 \(formatMilliseconds(referenceP99)), p50 \(formatMilliseconds(percentile(50, of: reference)))",
                ratio: p99 / referenceP99, target: "p99 < 10 ms", met: p99 < 10
            )
        }
    }
}

/// A launcher that runs nothing: each run reports its recipe's result at once through `deliver`, noting the
/// instant just before, then exits 0 — the order of a real recipe (report, then exit).
final class ReportingLauncher: RecipeLauncher {
    private let state = Mutex<(deliver: (@Sendable (RecipeResult) async -> IncidentCoordinator.DeliveryOutcome)?,
                              last: [String: ContinuousClock.Instant])>((nil, [:]))

    var deliver: (@Sendable (RecipeResult) async -> IncidentCoordinator.DeliveryOutcome)? {
        get { state.withLock { $0.deliver } }
        set { state.withLock { $0.deliver = newValue } }
    }

    /// Incident uuid → the instant its last result was handed over.
    var lastResults: [String: ContinuousClock.Instant] { state.withLock { $0.last } }

    func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
        await started()
        let uuid = request.incidentID.uuidString.lowercased()
        let result = RecipeResult(incident: uuid, name: request.recipe.name, status: .successful,
                                  results: .init(actions: [], analysis: "Dummy analysis of BenchNotify"))
        let deliver = state.withLock { state in
            let now = ContinuousClock.now
            state.last[uuid] = max(state.last[uuid] ?? now, now)
            return state.deliver
        }
        _ = await deliver?(result)
        return .exited(status: 0, stderrTail: "")
    }
}

/// A value behind a lock that escaping closures can share (a `Mutex` itself cannot be captured by them).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
