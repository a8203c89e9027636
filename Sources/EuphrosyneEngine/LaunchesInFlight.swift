import Foundation
import Synchronization

/// The launches under way per incident, from the moment a launch looks up its run in the incident table until the
/// launcher has created (or found) what runs it. The coordinator's clean-ups wait for them.
///
/// Why: a run can finish before its launch has created anything. After a failover, the new leader launches a run
/// the old leader created a Job for but never recorded as started; the Job's result, read from Redis, may finish the
/// run while that launch is still on its way to the API server. Without waiting, the clean-up of the finished phase
/// could delete the Job just before the launch's create, which would then start the run a second time. A launch
/// begins before it reads the table and the clean-up is spawned after the table finished the run, so either the
/// launch sees the run finished and creates nothing, or the clean-up waits until the launch created or found its
/// Job, which it then deletes.
final class LaunchesInFlight: Sendable {
    private struct State {
        var counts: [UUID: Int] = [:]
        var waiters: [UUID: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    /// One launch for `incident` began; it must end exactly once (`Launch.end()` sees to that).
    func begin(_ incident: UUID) -> Launch {
        state.withLock { $0.counts[incident, default: 0] += 1 }
        return Launch(incident: incident, launches: self)
    }

    /// Returns once no launch of `incident` is under way (at once if none is).
    func settled(_ incident: UUID) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let settled = state.withLock { state in
                guard state.counts[incident] != nil else { return true }
                state.waiters[incident, default: []].append(continuation)
                return false
            }
            if settled { continuation.resume() }
        }
    }

    /// Launches of `incident` under way now.
    func count(_ incident: UUID) -> Int { state.withLock { $0.counts[incident] ?? 0 } }

    /// Clean-ups of `incident` waiting for its launches now.
    func waiting(_ incident: UUID) -> Int { state.withLock { $0.waiters[incident]?.count ?? 0 } }

    private func ended(_ incident: UUID) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let remaining = (state.counts[incident] ?? 1) - 1
            guard remaining <= 0 else {
                state.counts[incident] = remaining
                return []
            }
            state.counts[incident] = nil
            return state.waiters.removeValue(forKey: incident) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// One launch under way; ending it more than once counts once.
    final class Launch: Sendable {
        let incident: UUID
        private let launches: LaunchesInFlight
        private let hasEnded = Atomic<Bool>(false)

        fileprivate init(incident: UUID, launches: LaunchesInFlight) {
            self.incident = incident
            self.launches = launches
        }

        func end() {
            guard !hasEnded.exchange(true, ordering: .acquiringAndReleasing) else { return }
            launches.ended(incident)
        }
    }
}
