import Synchronization

/// Lets the coordinator stop one recipe run, queued or running, because its incident no longer needs it (the
/// alert resolved). Launchers read `reason` when their task is cancelled: a requested stop always stops the run,
/// even where a shutdown would leave it running.
public final class RunCancellation: Sendable {
    private let requestedReason = Mutex<String?>(nil)
    private let signal: AsyncStream<Never>
    private let signalContinuation: AsyncStream<Never>.Continuation

    public init() {
        (signal, signalContinuation) = AsyncStream.makeStream(of: Never.self)
    }

    /// Asks for the run to stop. Only the first reason is kept.
    public func cancel(reason: String) {
        let first = requestedReason.withLock { current in
            guard current == nil else { return false }
            current = reason
            return true
        }
        if first { signalContinuation.finish() }
    }

    /// Why the run was asked to stop; nil if it was not.
    public var reason: String? { requestedReason.withLock { $0 } }

    /// Returns once a stop is requested, or when the calling task is cancelled.
    public func wait() async {
        for await _ in signal {}
    }
}
