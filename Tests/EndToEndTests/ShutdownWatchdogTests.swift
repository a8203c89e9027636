import EuphrosyneTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import EuphrosyneApp

/// The backstop of `serve`'s shutdown: once a graceful shutdown begins, the process is ended after the limit if it
/// is still there, from a thread of its own; a shutdown that finishes in time ends nothing.
@Suite struct ShutdownWatchdogTests {
    /// A service whose graceful shutdown does not end until `release()`, as a stuck one's would.
    final class StuckService: Service, Sendable {
        private let released = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let isReleased = Atomic<Bool>(false)

        func run() async throws {
            try? await gracefulShutdown()
            await withCheckedContinuation { continuation in
                let already = released.withLock { slot in
                    if isReleased.load(ordering: .relaxed) { return true }
                    slot = continuation
                    return false
                }
                if already { continuation.resume() }
            }
        }

        func release() {
            isReleased.store(true, ordering: .relaxed)
            released.withLock { $0.take() }?.resume()
        }
    }

    /// The watchdog's thread outlives a test that passed; what it would log then is not for the test's output.
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func group(_ services: [any Service]) -> ServiceGroup {
        ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: quiet))
    }

    @Test func aShutdownThatHangsEndsTheProcessAfterTheLimit() async throws {
        let ended = Mutex<[String]>([])
        let stuck = StuckService()
        let watchdog = ShutdownWatchdog(limit: .milliseconds(200), logger: Self.quiet) { reason in
            ended.withLock { $0.append(reason) }
        }
        let group = Self.group([stuck, watchdog])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(50))
            #expect(ended.withLock { $0.isEmpty }, "nothing before a shutdown")
            await group.triggerGracefulShutdown()
            try await waitUntil("the watchdog to end the process") { !ended.withLock { $0.isEmpty } }
            #expect(ended.withLock { $0 } == ["the graceful shutdown did not finish within 0.2 s"])
            stuck.release()
            try await tasks.waitForAll()
        }
    }

    @Test func aShutdownThatFinishesInTimeEndsNothing() async throws {
        let ended = Mutex<[String]>([])
        let stuck = StuckService()
        let watchdog = ShutdownWatchdog(limit: .seconds(60), logger: Self.quiet) { reason in
            ended.withLock { $0.append(reason) }
        }
        let group = Self.group([stuck, watchdog])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            stuck.release()
            try await tasks.waitForAll()
        }
        #expect(ended.withLock { $0.isEmpty })
    }
}
