import EuphrosyneTestSupport
import Synchronization
import Testing

@testable import EuphrosyneCluster

/// The diagnosis' shared ConfigMap, as `OncePerKey` keeps it: one creation per key, callers that come meanwhile
/// wait for it, a failure reaches them all and is forgotten. Gates stand where the API request would be.
@Suite struct OncePerKeyTests {
    struct CreationFailed: Error {}

    /// A `OncePerKey` whose creations are counted.
    final class Counted: Sendable {
        let shared = OncePerKey<String, Int>()
        private let count = Mutex(0)

        var creations: Int { count.withLock { $0 } }

        func value(for key: String, create: @Sendable () async throws -> Int) async throws -> Int {
            try await shared.value(for: key) {
                count.withLock { $0 += 1 }
                return try await create()
            }
        }

        /// Starts the creation of `key` (`value` once `release` opens; nil: it fails), then `waiters` more callers,
        /// and returns once they all wait for that creation.
        func startCreation(
            of key: String, in group: inout ThrowingTaskGroup<Int, any Error>, release: Gate, value: Int?, waiters: Int
        ) async throws {
            let creating = Gate()
            group.addTask {
                try await self.value(for: key) {
                    creating.open()
                    await release.wait()
                    guard let value else { throw CreationFailed() }
                    return value
                }
            }
            await creating.wait()
            for _ in 0..<waiters {
                group.addTask { try await self.value(for: key) { -1 } }
            }
            try await waitUntil("\(waiters) callers to wait for the creation") { shared.waiting(for: key) == waiters }
        }
    }

    @Test func callersDuringACreationWaitForItAndLaterOnesGetItsValueAtOnce() async throws {
        let counted = Counted()
        let release = Gate()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            try await counted.startCreation(of: "incident", in: &group, release: release, value: 7, waiters: 2)
            release.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values == [7, 7, 7])
        #expect(try await counted.value(for: "incident") { 8 } == 7)
        #expect(counted.creations == 1)
        // Another key has its own.
        #expect(try await counted.value(for: "other") { 9 } == 9)
    }

    @Test func aFailedCreationFailsItsWaitersAndTheNextCallerTriesAgain() async throws {
        let counted = Counted()
        let release = Gate()
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            try await counted.startCreation(of: "incident", in: &group, release: release, value: nil, waiters: 2)
            release.open()
            var failures = 0
            while let result = await group.nextResult() {
                if case .failure(let error) = result, error is CreationFailed { failures += 1 }
            }
            return failures
        }
        #expect(failures == 3)
        #expect(counted.creations == 1)
        #expect(try await counted.value(for: "incident") { 5 } == 5)
        #expect(counted.creations == 2)
    }

    @Test func forgettingAKeyMidCreationStillAnswersItsWaitersAndTheNextCallerCreatesAnew() async throws {
        let counted = Counted()
        let release = Gate()
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            try await counted.startCreation(of: "incident", in: &group, release: release, value: 7, waiters: 1)
            // The clean-up: the creation under way is forgotten, not its callers.
            counted.shared.forget("incident")
            #expect(counted.shared.waiting(for: "incident") == 0)
            #expect(try await counted.value(for: "incident") { 5 } == 5)
            release.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values == [7, 7])
        // The forgotten creation did not replace the newer value.
        #expect(try await counted.value(for: "incident") { 6 } == 5)
        #expect(counted.creations == 2)
    }
}
