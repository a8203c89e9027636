import EuphrosyneCore
import EuphrosyneRedis
import EuphrosyneTestSupport
import Foundation
import Logging
import Testing

@testable import EuphrosyneRedisAdapters

/// Fencing against a real redis-server: a leader that was paused past its Lease writes with a stale token and is
/// refused, changing nothing, while the new leader's writes go through.
@Suite struct RedisFenceTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func aStaleLeadersWritesAreRefusedAndItLearnsIt() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let oldFence = RedisFence(client: client)
                let newFence = RedisFence(client: client)
                let oldLeader = RedisIncidentStore(client: client, retentionSeconds: 3_600, fence: oldFence, logger: Self.quiet)
                let newLeader = RedisIncidentStore(client: client, retentionSeconds: 3_600, fence: newFence, logger: Self.quiet)
                #expect(try await oldFence.acquire() == 1)
                var incident = Incident(id: UUID(), payload: ["alertname": .string("DiskFull")], callbackSecret: "s",
                                        at: Date(timeIntervalSince1970: 1_800_000_000))
                incident.revision = 1
                #expect(try await oldLeader.create(incident, replacing: nil) == nil)

                // A new leader takes over while the old one is frozen.
                #expect(try await newFence.acquire() == 2)
                var taken = incident
                taken.revision = 2
                taken.state = .analysed
                try await newLeader.save(taken)

                // The old leader wakes up and writes what it meant to write: refused, nothing changes.
                var stale = incident
                stale.revision = 3
                stale.state = .failed
                let error = await #expect(throws: RedisError.self) { try await oldLeader.save(stale) }
                #expect(error?.serverErrorPrefix == "FENCED", "\(String(describing: error))")
                #expect(error?.message.contains("a newer leader holds fencing token 2") == true)
                let creating = await #expect(throws: RedisError.self) {
                    _ = try await oldLeader.create(Incident(id: UUID(), payload: [:], callbackSecret: "t", at: Date()), replacing: nil)
                }
                #expect(creating?.serverErrorPrefix == "FENCED")
                #expect(try await newLeader.incident(incident.id)?.state == .analysed)
                #expect(try await newLeader.openIncidents().map(\.id) == [incident.id])
                #expect(oldFence.isFenced && !newFence.isFenced)
                try await oldFence.fenced()

                // The new leader goes on; a store without a fence (a single replica) is not checked at all.
                taken.revision = 4
                try await newLeader.save(taken)
                let unfenced = RedisIncidentStore(client: client, retentionSeconds: 3_600, logger: Self.quiet)
                taken.revision = 5
                try await unfenced.save(taken)
                #expect(try await unfenced.incident(incident.id)?.revision == 5)
            }
        }
    }

    @Test func tokensOnlyGrow() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: server.configuration(), logger: Self.quiet)
            try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let fence = RedisFence(client: client)
                #expect(fence.token == nil)
                var tokens: [Int] = []
                for _ in 0..<3 { tokens.append(try await fence.acquire()) }
                #expect(tokens == [1, 2, 3])
                #expect(fence.token == 3)
            }
        }
    }
}
