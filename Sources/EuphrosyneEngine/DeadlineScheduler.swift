import Foundation
import Synchronization

/// The approval deadlines of every live incident on one timer: the coordinator schedules an incident's deadline
/// when its state machine asks for one, cancels it when the incident leaves, and `run` calls back as each passes.
///
/// One task sleeps until the earliest deadline (on the injected clock, so tests move time instead of waiting for
/// it) and wakes early when an earlier one is scheduled. Nothing is left sleeping for an incident that is gone.
final class DeadlineScheduler: Sendable {
    private let deadlines = Mutex<[UUID: Date]>([:])
    private let changes: AsyncStream<Void>
    private let changed: AsyncStream<Void>.Continuation

    init() {
        (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Sets the incident's deadline, replacing any earlier one.
    func schedule(_ id: UUID, at deadline: Date) {
        deadlines.withLock { $0[id] = deadline }
        changed.yield()
    }

    func cancel(_ id: UUID) {
        deadlines.withLock { $0[id] = nil }
    }

    /// Deadlines waiting to pass.
    var count: Int { deadlines.withLock { $0.count } }

    /// Calls `fire` for each deadline once `now()` has reached it, until the calling task is cancelled.
    func run(clock: any Clock<Duration>, now: @escaping @Sendable () -> Date,
             fire: @escaping @Sendable (UUID) async -> Void) async {
        while !Task.isCancelled {
            let (due, next) = deadlines.withLock { deadlines -> ([UUID], Date?) in
                let current = now()
                let due = deadlines.filter { $0.value <= current }.map(\.key)
                for id in due { deadlines[id] = nil }
                return (due, deadlines.values.min())
            }
            for id in due { await fire(id) }
            guard due.isEmpty else { continue }
            // Sleep until the next deadline, or until one is scheduled (it may be earlier).
            let changes = self.changes
            await withTaskGroup(of: Void.self) { group in
                if let next {
                    let wait = max(0, next.timeIntervalSince(now()))
                    group.addTask { try? await clock.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up)))) }
                }
                group.addTask {
                    for await _ in changes { return }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}
