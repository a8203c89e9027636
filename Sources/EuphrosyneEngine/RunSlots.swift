import Synchronization

/// The cap on recipe runs in flight across all incidents (`--max-runs`): a first-come, first-served counting
/// semaphore.
///
/// The coordinator takes a slot before it launches a run and gives it back when the run has ended. A run waiting
/// for a slot stays `pending` and its timeout has not started: the launcher starts the clock when it starts the
/// run. Waiting respects task cancellation, so a queued run of a resolved incident leaves the queue at once.
public final class RunSlots: Sendable {
    /// Figures for logs and metrics.
    public struct Statistics: Sendable, Equatable {
        public var capacity: Int
        public var inUse: Int
        public var waiting: Int
        /// The most slots ever in use at once.
        public var peakInUse: Int
        /// How many acquisitions had to wait for a slot.
        public var waits: Int
    }

    private struct State {
        var inUse = 0
        var peakInUse = 0
        var waits = 0
        var nextTicket: UInt64 = 0
        /// Waiting acquisitions, oldest first.
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        /// Tickets handed out whose continuation is not registered yet, and those of them cancelled meanwhile.
        var registering: Set<UInt64> = []
        var cancelledBeforeRegistering: Set<UInt64> = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity > 0, "the run cap must be positive")
        self.capacity = capacity
    }

    /// Waits for a free slot and takes it. Returns false, holding nothing, when the task is cancelled first.
    public func acquire() async -> Bool {
        guard !Task.isCancelled else { return false }
        let ticket: UInt64? = state.withLock { state in
            if state.inUse < capacity {
                state.inUse += 1
                state.peakInUse = max(state.peakInUse, state.inUse)
                return nil
            }
            state.nextTicket += 1
            state.waits += 1
            state.registering.insert(state.nextTicket)
            return state.nextTicket
        }
        guard let ticket else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let cancelled = state.withLock { state in
                    state.registering.remove(ticket)
                    if state.cancelledBeforeRegistering.remove(ticket) != nil { return true }
                    state.waiters.append((ticket, continuation))
                    return false
                }
                if cancelled { continuation.resume(returning: false) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.ticket == ticket }) {
                    return state.waiters.remove(at: index).continuation
                }
                if state.registering.contains(ticket) { state.cancelledBeforeRegistering.insert(ticket) }
                // Otherwise the slot was already handed over: the caller holds it and must release it.
                return nil
            }
            waiter?.resume(returning: false)
        }
    }

    /// Gives a slot back: to the oldest waiter if there is one.
    public func release() {
        let next: CheckedContinuation<Bool, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                precondition(state.inUse > 0, "RunSlots.release() without a matching acquire()")
                state.inUse -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }

    public var statistics: Statistics {
        state.withLock { state in
            Statistics(capacity: capacity, inUse: state.inUse, waiting: state.waiters.count + state.registering.count,
                       peakInUse: state.peakInUse, waits: state.waits)
        }
    }
}
