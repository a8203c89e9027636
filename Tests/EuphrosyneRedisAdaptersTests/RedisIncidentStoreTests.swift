import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import EuphrosyneRedisAdapters

/// The incident store against a real redis-server: revisions, ordering, undecodable entries, capacity, group claims.
@Suite struct RedisIncidentStoreTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

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
}
