import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import EuphrosyneEngine

/// The Redis adapters against a real redis-server: the incident store, and results collected over one subscriber
/// connection with the durable copy closing pub/sub's gaps.
@Suite struct RedisIntegrationTests {
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

    // MARK: Store

    @Test func theStoreKeepsIncidentsNewestFirstAndNeverGoesBackARevision() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            let store = RedisIncidentStore(client: client, retentionSeconds: 3_600)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let base = Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970)))
                var incidents = (0..<3).map { index in
                    Incident(id: UUID(), payload: ["n": .integer(Int64(index))], callbackSecret: "s\(index)",
                             at: base.addingTimeInterval(Double(index)))
                }
                incidents[2].state = .failed
                for incident in incidents { try await store.save(incident) }

                #expect(try await store.incident(incidents[1].id) == incidents[1])
                #expect(try await store.incident(UUID()) == nil)
                let page = try await store.list(offset: 0, limit: 2)
                #expect(page.total == 3)
                #expect(page.incidents.map(\.id) == [incidents[2].id, incidents[1].id])
                #expect(try await store.list(offset: 2, limit: 2).incidents.map(\.id) == [incidents[0].id])
                #expect(Set(try await store.openIncidents().map(\.id)) == [incidents[0].id, incidents[1].id])

                var newer = incidents[0]
                newer.revision = 5
                newer.state = .analysed
                try await store.save(newer)
                var older = incidents[0]
                older.revision = 4
                try await store.save(older)
                #expect(try await store.incident(newer.id)?.state == .analysed)

                let ttl = try await client.execute(TTL(RedisIncidentStore.incidentKey(newer.id)))
                #expect(ttl > 3_500 && ttl <= 3_600)
            }
        }
    }

    @Test func anIncidentThatDoesNotDecodeIsSkippedCountedAndBreaksNoListOrResume() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            let store = RedisIncidentStore(client: client, retentionSeconds: 3_600, logger: Self.quiet)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let good = Incident(id: UUID(), payload: [:], callbackSecret: "s", at: Date())
                try await store.save(good)
                // Another program (or a damaged write) leaves an open incident that is not ours to decode.
                let bad = UUID()
                let id = bad.uuidString.lowercased()
                _ = try await client.execute(RedisRawCommand("HSET", RedisIncidentStore.incidentKey(bad), "revision", "1",
                                                             "data", #"{"id":"not what we wrote"}"#))
                _ = try await client.execute(RedisRawCommand("ZADD", RedisIncidentStore.indexKey,
                                                             String(Int(Date().timeIntervalSince1970 * 1000) - 1), id))
                _ = try await client.execute(RedisRawCommand("SADD", RedisIncidentStore.openKey, id))

                #expect(try await store.openIncidents().map(\.id) == [good.id])
                #expect(try await store.list(offset: 0, limit: 10).incidents.map(\.id) == [good.id])
                #expect(try await store.incident(bad) == nil)
                #expect(store.undecodableIncidents == 3)
            }
        }
    }

    @Test func theStoreKeepsAtMostItsCapacityDeletingTheOldestClosedIncidents() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            let store = RedisIncidentStore(client: client, retentionSeconds: 3_600, capacity: 3)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let base = Date(timeIntervalSince1970: Double(Int(Date().timeIntervalSince1970)))
                var incidents = (0..<6).map { index in
                    Incident(id: UUID(), payload: ["n": .integer(Int64(index))], callbackSecret: "s",
                             at: base.addingTimeInterval(Double(index)))
                }
                // The oldest is still open: it is never deleted to make room.
                for index in 1..<6 { incidents[index].state = .failed }
                for incident in incidents { try await store.save(incident) }
                let kept = try await store.list(offset: 0, limit: 10)
                #expect(kept.total == 3)
                #expect(kept.incidents.map(\.id) == [incidents[5].id, incidents[4].id, incidents[0].id])
                for index in 1...3 { #expect(try await store.incident(incidents[index].id) == nil) }
                #expect(try await store.openIncidents().map(\.id) == [incidents[0].id])
            }
        }
    }

    @Test func aNotificationGroupIsHeldByOneOpenIncidentAtATime() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            let store = RedisIncidentStore(client: client, retentionSeconds: 3_600)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let group: [String: JSONValue] = ["version": .string("4"), "groupKey": .string(#"{}:{alertname="A b/\"c"}"#),
                                                  "alerts": .array([])]
                func incident() -> Incident {
                    var incident = Incident(id: UUID(), payload: group, callbackSecret: "s", at: Date())
                    incident.state = .diagnosing
                    incident.revision = 1
                    return incident
                }
                var first = incident()
                let second = incident()
                #expect(try await store.create(first, replacing: nil) == nil)
                // Racing replicas: the second is refused and not saved.
                #expect(try await store.create(second, replacing: nil) == first.id)
                #expect(try await store.incident(second.id) == nil)
                let key = RedisIncidentStore.groupKey(first.identity)
                #expect(try await client.execute(TTL(key)) > 3_500)

                // Closing the holder frees the group.
                first.state = .resolved
                first.revision = 2
                try await store.save(first)
                #expect(try await client.execute(EXISTS(key)) == 0)
                #expect(try await store.create(second, replacing: nil) == nil)

                // A holder found dead can be replaced, but only while it still holds the group.
                let third = incident()
                #expect(try await store.create(third, replacing: UUID()) == second.id)
                #expect(try await store.create(third, replacing: second.id) == nil)
                #expect(try await store.incident(third.id)?.state == .diagnosing)
            }
        }
    }

    // MARK: Results

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
