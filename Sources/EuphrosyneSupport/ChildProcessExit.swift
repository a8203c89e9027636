import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The exit of one child process, learned without polling: a small thread of its own blocks in `waitpid` until the
/// child ends, records its wait status and resumes every task waiting for it.
///
/// One thread per child is what Go's os/exec does. The alternatives are a SIGCHLD handler (process-wide, and the
/// runtime's threads block signals) or pidfds with an event loop of our own; a blocked thread costs a small stack
/// and nothing else, and it reaps the child even when nobody waits (a run left running still gets reaped).
final class ChildProcessExit: Sendable {
    private enum Waiter {
        /// Registered, its continuation not stored yet: a cancellation or deadline arriving now is kept for it.
        case starting
        /// Cancelled, or out of time, before its continuation was stored.
        case abandoned
        case waiting(CheckedContinuation<Int32?, Never>)
    }

    private struct State {
        /// The raw wait status, once the child has been reaped.
        var status: Int32?
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private enum Registration {
        case exited(Int32)
        case registered(UInt64)
    }

    let pid: pid_t
    private let state = Mutex(State())

    /// Starts the thread that waits for `pid`, a child of ours nobody else reaps.
    init(watching pid: pid_t) {
        self.pid = pid
        let thread = Thread { [self] in reap() }
        // It only waits, records and resumes; the default 8 MiB would be address space for nothing.
        thread.stackSize = 128 * 1024
        thread.start()
    }

    /// Whether the child has been reaped.
    var hasExited: Bool { state.withLock { $0.status != nil } }

    /// How many tasks are suspended waiting for the exit now.
    var suspendedWaiters: Int {
        state.withLock { state in
            state.waiters.values.count(where: { if case .waiting = $0 { true } else { false } })
        }
    }

    /// The exit status (or the negated signal), or nil if the calling task is cancelled first.
    func wait() async -> Int32? {
        let id: UInt64
        switch register() {
        case .exited(let code): return code
        case .registered(let registered): id = registered
        }
        return await withTaskCancellationHandler {
            await suspend(id, limit: nil)
        } onCancel: {
            abandon(id)
        }
    }

    /// The exit status (or the negated signal), or nil if the child is still running after `limit`. Cancellation
    /// does not end it early.
    ///
    /// The limit is a wall-clock timer on a dispatch queue, not a `Clock` sleep: this serves the stopping of a run
    /// whose task is often already cancelled, and a cancelled task's sleep returns at once.
    func waitIgnoringCancellation(limit: Duration?) async -> Int32? {
        switch register() {
        case .exited(let code): return code
        case .registered(let id): return await suspend(id, limit: limit)
        }
    }

    private func register() -> Registration {
        state.withLock { state in
            if let status = state.status { return .exited(Self.exitCode(status)) }
            state.nextID += 1
            state.waiters[state.nextID] = .starting
            return .registered(state.nextID)
        }
    }

    /// Suspends until the exit, or until `abandon(id)` (cancellation, or the end of `limit`) comes first: nil then.
    private func suspend(_ id: UInt64, limit: Duration?) async -> Int32? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            let now: Int32?? = state.withLock { state in
                if let status = state.status {
                    state.waiters[id] = nil
                    return .some(Self.exitCode(status))
                }
                if case .abandoned = state.waiters[id] {
                    state.waiters[id] = nil
                    return .some(nil)
                }
                state.waiters[id] = .waiting(continuation)
                return nil
            }
            if let now {
                continuation.resume(returning: now)
            } else if let limit {
                DispatchQueue.global().asyncAfter(deadline: .now() + Self.dispatchInterval(limit)) { [self] in
                    abandon(id)
                }
            }
        }
    }

    /// Ends one wait with nil, if the exit has not ended it already.
    private func abandon(_ id: UInt64) {
        let continuation: CheckedContinuation<Int32?, Never>? = state.withLock { state in
            switch state.waiters[id] {
            case .starting:
                state.waiters[id] = .abandoned
                return nil
            case .waiting(let continuation):
                state.waiters[id] = nil
                return continuation
            case .abandoned, nil:
                return nil
            }
        }
        continuation?.resume(returning: nil)
    }

    /// The thread's body: blocks until the child ends, then records the status and wakes the waiters.
    private func reap() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) != pid {
            if errno == EINTR { continue }
            // ECHILD: reaped elsewhere; nothing more will be known about it.
            status = 0
            break
        }
        let waiting: [CheckedContinuation<Int32?, Never>] = state.withLock { state in
            state.status = status
            var waiting: [CheckedContinuation<Int32?, Never>] = []
            for (id, waiter) in state.waiters {
                if case .waiting(let continuation) = waiter {
                    waiting.append(continuation)
                    state.waiters[id] = nil
                }
            }
            return waiting
        }
        let code = Self.exitCode(status)
        for continuation in waiting { continuation.resume(returning: code) }
    }

    /// `WIFEXITED`/`WEXITSTATUS`/`WTERMSIG`, which are C macros Swift cannot call: the exit status, or the signal
    /// number negated.
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : -signal
    }

    /// `duration` for a dispatch deadline, capped at a day (longer makes no sense for a grace period, and keeps the
    /// nanoseconds far from overflowing).
    private static func dispatchInterval(_ duration: Duration) -> DispatchTimeInterval {
        .nanoseconds(Int(max(.zero, min(duration, .seconds(86_400))).wholeNanoseconds))
    }
}
