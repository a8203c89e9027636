import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// An alert storm over real HTTP: many distinct alerts at once against a small intake queue and a run cap.
@Suite struct StormTests {
    static let quiet: Logger = {
        var logger = Logger(label: "storm")
        logger.logLevel = .critical
        return logger
    }()

    @Test func aThousandAlertsWithARunCapOfTwentyAndASmallQueueAreAllDiagnosed() async throws {
        let gate = Gate()
        let catalog = RecipeCatalog(debugging: [.fake("dummy"), .fake("check")], actions: [])
        let launcher = ScriptedLauncher([
            "dummy": .report(analysis: "looked", actions: [], delay: .milliseconds(5)),
            "check": .report(analysis: "checked", actions: [], delay: .milliseconds(1)),
        ])
        let notifier = RecordingNotifier()
        let exporter = MetricsExporter()
        // The registry is held shut until the queue has refused something, so the 503 path is certain to run.
        let coordinator = IncidentCoordinator(
            registry: GatedRegistry(catalog, gate: gate), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier,
            store: InMemoryIncidentStore(),
            configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .milliseconds(200),
                                 maxRunsInFlight: 20, intakeQueueCapacity: 8),
            metrics: exporter.metrics, logger: Self.quiet
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        let ports = PortCollector(count: 1)
        let services: [any Service] = [
            coordinator,
            Listeners.webhook(coordinator: coordinator, readiness: Readiness(), host: "127.0.0.1", port: 0,
                              logger: Self.quiet, onServerRunning: { await ports.set(0, $0) }),
        ]
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // 1,000 requests share 64 connections: on a loaded machine a request may queue for a connection longer than
        // the default 10 s (which AsyncHTTPClient reports as getConnectionFromPoolTimeout). Wait, do not fail.
        configuration.timeout.connect = .seconds(120)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let refusals = Tally()

        // Shut down whatever happens below: a client freed without it stops the whole test process.
        do {
            try await storm(client: client, services: services, ports: ports, coordinator: coordinator, gate: gate,
                            launcher: launcher, notifier: notifier, refusals: refusals, exporter: exporter)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func storm(
        client: HTTPClient, services: [any Service], ports: PortCollector, coordinator: IncidentCoordinator,
        gate: Gate, launcher: ScriptedLauncher, notifier: RecordingNotifier, refusals: Tally, exporter: MetricsExporter
    ) async throws {
        try await RunningServer.with(services: services, ports: ports, logger: Self.quiet) { ports in
            let opener = Task {
                try await waitUntil("the full queue to refuse a notification") {
                    let scrape = CommandLineTests.Scrape(text: await exporter.render())
                    return (scrape.value("euphrosyne_intake_refused_total", ["reason": "queue_full"]) ?? 0) > 0
                }
                gate.open()
            }
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<1_000 {
                    group.addTask {
                        let body = #"{"version":"4","groupKey":"{}:{alertname=\"Storm\", instance=\"\#(index)\"}","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Storm","instance":"\#(index)"}}]}"#
                        while true {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(ports[0])/webhook")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.body = .bytes(ByteBuffer(string: body))
                            let response = try await client.execute(request, timeout: .seconds(60))
                            let data = Data(try await response.body.collect(upTo: 1 << 16).readableBytesView)
                            if response.status.code == 202, let uuid = try JSONValue.parseObject(data)["uuid"]?.stringValue {
                                return uuid
                            }
                            // Refused: Alertmanager would retry after Retry-After; the test retries sooner.
                            try #require(response.status.code == 503)
                            try #require(response.headers.first(name: "Retry-After") == "5")
                            refusals.add()
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            try await opener.value
            #expect(ids.count == 1_000, "every alert became its own incident")
            try await waitUntil("every incident analysed", timeout: .seconds(120)) {
                Set(notifier.notifications.compactMap(\.incidentID)).count == 1_000
            }
            let statistics = coordinator.statistics
            #expect(launcher.maxRunning <= 20)
            #expect(statistics.runSlots.peakInUse <= 20)
            #expect(statistics.runSlots.waits > 0)
            #expect(launcher.requests.count == 2_000)
            let scrape = CommandLineTests.Scrape(text: await exporter.render())
            #expect(scrape.value("euphrosyne_incidents_opened_total") == 1_000)
            let refusedQueueFull = scrape.value("euphrosyne_intake_refused_total", ["reason": "queue_full"])
            #expect(refusedQueueFull == Double(refusals.value))
            #expect((refusedQueueFull ?? 0) > 0)
        }
    }
}

/// A count shared by many tasks.
final class Tally: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
