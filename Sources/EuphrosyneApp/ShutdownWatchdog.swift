import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle

/// Ends `serve` when its graceful shutdown outlasts what it may take: a replica that stopped leading, or a pod told to
/// stop, must be gone in bounded time whatever it waits for.
///
/// The service group already cancels what is left after its `maximumGracefulShutdownDuration`; this is the backstop
/// for a process where that cannot happen (work that ignores cancellation, or Swift concurrency's threads all
/// blocked). Once the shutdown begins it arms a thread of its own, outside Swift concurrency, which after `limit`
/// logs why and crashes the process on purpose: Swift's backtracer then prints every thread's stack
/// (`SWIFT_BACKTRACE=threads=all` for all of them), and Kubernetes restarts the pod. `ReconcilerServices` adds it
/// to `serve`'s own group only, never to a group a test runs in process.
struct ShutdownWatchdog: Service {
    let limit: Duration
    let logger: Logger
    /// What ends the process; tests pass something that records it instead.
    var end: @Sendable (String) -> Void = { reason in fatalError(reason) }

    func run() async throws {
        // Returns when the graceful shutdown begins; throws when the group is cancelled instead. Either way: arm.
        try? await gracefulShutdown()
        let seconds = Double(limit.wholeNanoseconds) / 1e9
        let logger = self.logger
        let end = self.end
        let thread = Thread {
            Thread.sleep(forTimeInterval: seconds)
            logger.critical("the graceful shutdown did not finish in time; ending the process", metadata: [
                "limit": "\(seconds)s",
            ])
            end("the graceful shutdown did not finish within \(seconds) s")
        }
        thread.name = "shutdown-watchdog"
        thread.start()
    }
}
