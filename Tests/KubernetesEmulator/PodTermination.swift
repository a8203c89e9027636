import Synchronization

/// When a terminated pod's processes get their SIGKILL: set by `PodRun.terminate(grace:)` (the earliest deadline
/// asked for wins), awaited by the pod's kubelet task, which sends it, so no task of its own is needed.
final class PodTermination: Sendable {
    private struct State {
        var killAt: ContinuousClock.Instant?
        var waiter: CheckedContinuation<ContinuousClock.Instant?, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    /// Asks for the SIGKILL at `killAt`; an earlier deadline than one already asked for replaces it.
    func request(killAt deadline: ContinuousClock.Instant) {
        let waiter = state.withLock { state -> CheckedContinuation<ContinuousClock.Instant?, Never>? in
            state.killAt = min(state.killAt ?? deadline, deadline)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: deadline)
    }

    /// Whether a termination was asked for.
    var wasRequested: Bool { state.withLock { $0.killAt != nil } }

    /// Waits until a termination is asked for and returns when its SIGKILL is due; nil if the waiting task is
    /// cancelled first (every process ended by itself).
    func requested() async -> ContinuousClock.Instant? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ContinuousClock.Instant?, Never>) in
                let ready: ContinuousClock.Instant?? = state.withLock { state in
                    if let killAt = state.killAt { return .some(killAt) }
                    if state.cancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<ContinuousClock.Instant?, Never>? in
                state.cancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
