import EuphrosyneKubernetes
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Logging
import ServiceLifecycle
import Testing

@testable import EuphrosyneCluster

/// Replicas competing for one Lease on the emulator (with the reconciler's Role), their time on a manual clock:
/// the tests drive the election round by round (`attempt()`), as `run()` does every retry period.
@Suite struct LeaderElectorTests {
    static let leaseName = "euphrosyne-leader"
    static let logger = Logger(label: "test.leader-election")

    static func withEmulator(
        permissions: Permissions = .reconciler(),
        _ body: @Sendable (KubernetesEmulator, KubernetesClient, ManualClock) async throws -> Void
    ) async throws {
        let emulator = try await KubernetesEmulator.start(namespaces: ["alerts"], permissions: permissions)
        let client = try KubernetesClient(
            configuration: KubernetesConfiguration(server: emulator.baseURL, caPEM: emulator.caPEM,
                                                   credentials: .bearer(TokenSource(token: await emulator.validToken()))),
            retries: 0)
        do {
            try await body(emulator, client, ManualClock())
            try await client.shutdown()
            await emulator.stop()
        } catch {
            try? await client.shutdown()
            await emulator.stop()
            throw error
        }
    }

    static func elector(_ identity: String, _ client: KubernetesClient, _ clock: ManualClock,
                        lease: String = leaseName) -> LeaderElector<ManualClock> {
        LeaderElector(client: client, namespace: "alerts", leaseName: lease,
                      settings: .init(identity: identity), clock: clock, wallClock: { clock.date }, logger: logger)
    }

    static func lease(_ client: KubernetesClient, _ name: String = leaseName) async throws -> Lease.Spec? {
        try await client.get(Lease.self, name: name, namespace: "alerts").spec
    }

    @Test func oneReplicaLeadsAndAnotherTakesOverOnlyOnceTheLeaseWentUnrenewedForItsDuration() async throws {
        try await Self.withEmulator { _, client, clock in
            let a = Self.elector("pod-a", client, clock)
            let b = Self.elector("pod-b", client, clock)
            await a.attempt()
            #expect(a.isLeading)
            #expect(try await Self.lease(client)?.holderIdentity == "pod-a")
            #expect(try await Self.lease(client)?.leaseTransitions == 0)
            await b.attempt()
            #expect(!b.isLeading)

            // a renews at 2 s; b sees the Lease change then, so its 15 s count from there.
            clock.advance(by: .seconds(2))
            await a.attempt()
            await b.attempt()
            #expect(a.isLeading && !b.isLeading)

            // a stops renewing (frozen, or gone). It stops acting at its renew deadline by itself, 10 s after its
            // last renewal, long before b may take over.
            for _ in 0..<4 {
                clock.advance(by: .seconds(2))
                await b.attempt()
            }
            #expect(a.isLeading, "9.99 s after its renewal a still leads")
            clock.advance(by: .seconds(2))
            #expect(!a.isLeading)
            await b.attempt()
            #expect(!b.isLeading, "12 s: the Lease b saw change at 2 s is not expired yet")
            clock.advance(by: .seconds(4))
            await b.attempt()
            #expect(!b.isLeading, "16 s: still 1 s to go")
            clock.advance(by: .seconds(1))
            await b.attempt()
            #expect(b.isLeading)
            let taken = try #require(try await Self.lease(client))
            #expect(taken.holderIdentity == "pod-b" && taken.leaseTransitions == 1)

            // a wakes up, believes nothing, and finds b holding the Lease.
            await a.attempt()
            #expect(!a.isLeading)
            #expect(try await Self.lease(client)?.holderIdentity == "pod-b")
        }
    }

    /// `lapse()` is what stops a leader's work: it returns at the renew deadline, later with each renewal, even
    /// when no round runs (a request to the API server hanging).
    @Test func aLeadershipLapsesAtItsRenewDeadlineAndEachRenewalPostponesIt() async throws {
        try await Self.withEmulator { _, client, clock in
            let a = Self.elector("pod-a", client, clock)
            await a.attempt()
            #expect(a.isLeading)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await a.lapse() }
                try await waitUntil("the watch to wait for the deadline at 10 s") {
                    clock.sleepers == 1 && clock.nextWake?.offset == .seconds(10)
                }
                clock.advance(by: .seconds(6))
                await a.attempt()
                // Renewed at 6 s: at 10 s the watch wakes, finds the leadership good until 16 s, and waits again.
                clock.advance(by: .seconds(4))
                try await waitUntil("the watch to wait for the deadline at 16 s") {
                    clock.sleepers == 1 && clock.nextWake?.offset == .seconds(16)
                }
                #expect(a.isLeading)
                clock.advance(by: .seconds(6))
                // Returns (the group ends) only now.
                try await group.waitForAll()
            }
            #expect(!a.isLeading)
        }
    }

    @Test func ofTwoReplicasStartingTogetherExactlyOneLeads() async throws {
        try await Self.withEmulator { _, client, clock in
            // A Lease of its own for each round (the reconciler's Role cannot delete one): each starts from none.
            for round in 0..<5 {
                let a = Self.elector("pod-a", client, clock, lease: "leader-\(round)")
                let b = Self.elector("pod-b", client, clock, lease: "leader-\(round)")
                async let first: Void = a.attempt()
                async let second: Void = b.attempt()
                _ = await (first, second)
                #expect(a.isLeading != b.isLeading, "round \(round): a \(a.isLeading), b \(b.isLeading)")
                let holder = try await Self.lease(client, "leader-\(round)")?.holderIdentity
                #expect(holder == (a.isLeading ? a.identity : b.identity))
            }
        }
    }

    @Test func aWriteOverAStaleVersionIsAConflictAndWinsNothing() async throws {
        try await Self.withEmulator { _, client, clock in
            let a = Self.elector("pod-a", client, clock)
            await a.attempt()
            let read = try await client.get(Lease.self, name: Self.leaseName, namespace: "alerts")
            clock.advance(by: .seconds(2))
            await a.attempt()
            var stale = read
            stale.spec?.holderIdentity = "pod-b"
            let error = await #expect(throws: KubernetesError.self) { _ = try await client.update(stale, namespace: "alerts") }
            #expect(error?.isConflict == true)
            #expect(try await Self.lease(client)?.holderIdentity == "pod-a")
        }
    }

    @Test func aLeaderShutDownGracefullyReleasesTheLeaseAndAnotherTakesItAtOnce() async throws {
        try await Self.withEmulator { _, client, clock in
            let a = Self.elector("pod-a", client, clock)
            let group = ServiceGroup(services: [a], logger: Self.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await waitUntil("pod-a to lead") { a.isLeading }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(!a.isLeading)
            let released = try #require(try await Self.lease(client))
            #expect(released.holderIdentity == nil && released.leaseDurationSeconds == 1 && released.leaseTransitions == 0)
            let b = Self.elector("pod-b", client, clock)
            await b.attempt()
            #expect(b.isLeading, "no need to wait out the lease duration")
            #expect(try await Self.lease(client)?.leaseTransitions == 1)
        }
    }

    @Test func withoutPermissionOnLeasesNobodyLeads() async throws {
        let denied = Permissions.reconciler().denying(verbs: ["create", "update"], group: "coordination.k8s.io",
                                                      resources: ["leases"])
        try await Self.withEmulator(permissions: denied) { emulator, client, clock in
            let a = Self.elector("pod-a", client, clock)
            await a.attempt()
            #expect(!a.isLeading)
            #expect(await emulator.objects(.leases, namespace: "alerts").isEmpty)
        }
    }
}
