import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import EuphrosyneRedisAdapters

/// Results collected over one subscriber connection against a real redis-server, with the durable copy closing
/// pub/sub's gaps: `RedisResultSource` feeding a coordinator whose store is `RedisIncidentStore`.
@Suite struct RedisResultSourceTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static let catalog = RecipeCatalog(debugging: [.fake("dummy")], actions: [.fake("jira", .action)])

    /// A coordinator on Redis (store and results), with `launcher`, while `body` runs.
    static func withReconciler<T: Sendable>(
        _ server: RedisServerProcess, launcher: (RedisClient) -> any RecipeLauncher,
        _ body: @Sendable (IncidentCoordinator, RedisClient, RecordingNotifier) async throws -> T
    ) async throws -> T {
        let client = RedisClient(configuration: server.configuration(name: "euphrosyne"), logger: quiet)
        let subscriber = RedisSubscriber(configuration: server.configuration(name: "euphrosyne-subscriber"), logger: quiet)
        let results = RedisResultSource(subscriber: subscriber, client: client, logger: quiet)
        let notifier = RecordingNotifier()
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(catalog), launcher: launcher(client), resultSource: results,
            notifier: notifier, store: RedisIncidentStore(client: client),
            configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .milliseconds(500), intakeQueueCapacity: 2_000), logger: quiet
        )
        return try await RunningServer.with(
            services: [client, subscriber, results, coordinator], ports: PortCollector(count: 0), logger: quiet
        ) { _ in try await body(coordinator, client, notifier) }
    }


    @Test func aThousandIncidentsShareOneSubscriberConnection() async throws {
        try await withRedisServer { server in
            let gate = Gate()
            try await Self.withReconciler(server, launcher: { RedisPublishingLauncher(client: $0, gate: gate) }) {
                coordinator, client, notifier in
                let ids = try await withThrowingTaskGroup(of: UUID.self) { group in
                    for _ in 0..<1_000 { group.addTask { try await coordinator.openIncident(payload: .unique).id } }
                    return try await group.reduce(into: [UUID]()) { $0.append($1) }
                }
                try await waitUntil("1,000 channels subscribed", timeout: .seconds(60)) {
                    try await Self.subscriberConnections(server).map(\.subscriptions) == [1_000]
                }
                gate.open()
                try await waitUntil("1,000 analyses", timeout: .seconds(120)) {
                    notifier.notifications.count == 1_000
                }
                for id in ids.prefix(10) {
                    #expect(try await coordinator.incident(id)?.state == .analysed)
                }
                // Closed incidents give their channels back.
                _ = client
            }
        }
    }

    @Test func aPlainRedisCLIPublishInTheOriginalSchemaIsCollected() async throws {
        try await withRedisServer { server in
            try await Self.withReconciler(server, launcher: { _ in ScriptedLauncher(["dummy": .hang]) }) {
                coordinator, _, notifier in
                let incident = try await coordinator.openIncident(payload: .unique)
                let channel = incident.id.uuidString.lowercased()
                try await waitUntil("the result channel to be subscribed") {
                    try await server.cli(["PUBSUB", "NUMSUB", channel]).contains("\n1")
                }
                let original = #"{"incident": "\#(channel)", "name": "dummy", "status": "successful", "results": {"actions": ["jira"], "analysis": "from redis-cli", "json": "{}", "links": []}}"#
                #expect(try await server.cli(["PUBLISH", channel, original]).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
                try await waitUntil("the analysis") { !notifier.analyses(for: incident.id).isEmpty }
                #expect(notifier.analyses(for: incident.id).first?.text == "dummy: from redis-cli")
            }
        }
    }

    @Test func aResultWhoseMessageWasLostIsFoundInItsDurableCopyAfterAReconnect() async throws {
        try await withRedisServer { server in
            try await Self.withReconciler(server, launcher: { RedisPublishingLauncher(client: $0, mode: .durableOnly) }) {
                coordinator, _, notifier in
                let incident = try await coordinator.openIncident(payload: .unique)
                try await waitUntil("the durable copy") {
                    try await server.cli(["LLEN", ResultDelivery.durableKey(incident: incident.id.uuidString)])
                        .hasPrefix("1")
                }
                // The message never went out; a dropped subscriber connection re-subscribes and catches up.
                _ = try await server.cli(["CLIENT", "KILL", "TYPE", "pubsub"])
                try await waitUntil("the analysis") { !notifier.analyses(for: incident.id).isEmpty }
                #expect(notifier.analyses(for: incident.id).first?.text == "dummy: seen by dummy")
            }
        }
    }

    @Test func noResultIsLostWhenRedisRestartsMidIncident() async throws {
        try await withRedisServer(arguments: ["--appendonly", "yes"]) { server in
            let gate = Gate()
            try await Self.withReconciler(server, launcher: { RedisPublishingLauncher(client: $0, gate: gate) }) {
                coordinator, _, notifier in
                let incident = try await coordinator.openIncident(payload: .unique)
                try await waitUntil("the run to start") {
                    try await coordinator.incident(incident.id)?.runs.first?.state == .running
                }
                await server.kill()
                try await server.restart()
                // The recipe reports while the reconciler's connections are still coming back.
                gate.open()
                try await waitUntil("the analysis", timeout: .seconds(60)) {
                    !notifier.analyses(for: incident.id).isEmpty
                }
                #expect(notifier.analyses(for: incident.id).first?.text == "dummy: seen by dummy")
                #expect(try await coordinator.incident(incident.id)?.state == .analysed)
            }
        }
    }

    struct ClientInfo: Equatable {
        var name: String
        var subscriptions: Int
    }

    /// The subscriber's connections as `CLIENT LIST` shows them.
    static func subscriberConnections(_ server: RedisServerProcess) async throws -> [ClientInfo] {
        try await server.cli(["CLIENT", "LIST"]).split(separator: "\n").compactMap { line in
            let fields = Dictionary(line.split(separator: " ").compactMap { field -> (String, String)? in
                let parts = field.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            }, uniquingKeysWith: { first, _ in first })
            guard fields["name"] == "euphrosyne-subscriber" else { return nil }
            return ClientInfo(name: "euphrosyne-subscriber", subscriptions: Int(fields["sub"] ?? "") ?? -1)
        }
    }
}
