import EuphrosyneCluster
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneKubernetes
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneRedisAdapters
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Logging
import ServiceLifecycle
import Testing

@testable import EuphrosyneApp

/// The coordinator of a replica in a leader election, with its elector (on the emulator) and its fence (on a real
/// redis-server), in a service group as `serve` runs them: it stands by, takes over, and stops when fenced.
@Suite struct LeaderOnlyCoordinatorTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func aLeaderWhoseWriteIsFencedStopsActingAndEndsItsGroup() async throws {
        let emulator = try await KubernetesEmulator.start(namespaces: ["alerts"], permissions: .reconciler())
        let kubernetes = try KubernetesClient(
            configuration: KubernetesConfiguration(server: emulator.baseURL, caPEM: emulator.caPEM,
                                                   credentials: .bearer(TokenSource(token: await emulator.validToken()))),
            retries: 0)
        do {
            try await withRedisServer { server in
                let redis = RedisClient(configuration: server.configuration(), logger: Self.quiet)
                try await RunningServer.with(services: [redis], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                    try await Self.exercise(kubernetes: kubernetes, redis: redis)
                }
            }
        } catch {
            try? await kubernetes.shutdown()
            await emulator.stop()
            throw error
        }
        try await kubernetes.shutdown()
        await emulator.stop()
    }

    static func exercise(kubernetes: KubernetesClient, redis: RedisClient) async throws {
        let fence = RedisFence(client: redis)
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [])), launcher: ScriptedLauncher([:]),
            resultSource: PublishedResultSource(), notifier: RecordingNotifier(),
            store: RedisIncidentStore(client: redis, fence: fence, logger: quiet), logger: quiet)
        let elector = LeaderElector(client: kubernetes, namespace: "alerts", leaseName: "euphrosyne-leader",
                                    settings: .init(identity: "replica-a"), clock: ContinuousClock(), logger: quiet)
        let leaderOnly = LeaderOnlyCoordinator(coordinator: coordinator, elector: elector, fence: fence, logger: quiet)
        #expect(coordinator.isStandingBy, "standing by until elected")
        let group = ServiceGroup(services: [elector, leaderOnly], logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the replica to take over") { !coordinator.isStandingBy }
            #expect(fence.token == 1)

            // Another replica became leader meanwhile (this one was frozen): it took the next token.
            #expect(try await RedisFence(client: redis).acquire() == 2)
            // This one wakes up and takes an alert: the incident's first write is refused.
            await #expect(throws: CoordinatorError.self) {
                _ = try await coordinator.receive(payload: ["status": .string("firing"), "alerts": .array([
                    .object(["status": .string("firing"), "labels": .object(["alertname": .string("DiskFull")])]),
                ])])
            }
            // It stops acting, and its group ends with the reason.
            let error = await #expect(throws: LeaderOnlyCoordinator.LeadershipLost.self) { try await tasks.next() }
            #expect(error != nil)
            #expect(coordinator.isStandingBy)
        }
    }
}
