import EuphrosyneCluster
import EuphrosyneEngine
import EuphrosyneRedisAdapters
import Logging
import ServiceLifecycle

/// The coordinator of a replica in a leader election (cluster mode with `--leader-election`): it stands by while
/// another replica leads, takes over when this one is elected (resuming every open incident, as at a start), and
/// stops the moment leadership lapses.
///
/// On taking over it draws a new fencing token (`RedisFence`), which every incident write then carries: a leader
/// that was paused past its Lease and wakes up finds its writes refused, and stops. A replica whose leadership lapsed
/// or was fenced does not try to become a follower again in the same process: its runs, timers and notifications are
/// cut short, and `run()` throws `LeadershipLost`, which ends the service group and the process; Kubernetes restarts
/// the pod, which comes back standing by. This is client-go's advice too: an elector is not restarted.
struct LeaderOnlyCoordinator: Service {
    /// Why a replica stops: it can no longer be sure it is the only one acting.
    struct LeadershipLost: Error, CustomStringConvertible {
        var description: String {
            "this replica stopped leading (its Lease was not renewed in time or another replica holds it); exiting so that it restarts standing by"
        }
    }

    let coordinator: IncidentCoordinator
    let elector: LeaderElector<ContinuousClock>
    let fence: RedisFence
    let logger: Logger

    init(coordinator: IncidentCoordinator, elector: LeaderElector<ContinuousClock>, fence: RedisFence, logger: Logger) {
        self.coordinator = coordinator
        self.elector = elector
        self.fence = fence
        self.logger = logger
        coordinator.standBy()
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await elector.waitUntilLeading() }
        } catch {
            // Shut down (or cancelled) while standing by: there is nothing to drain.
            return
        }
        // A token newer than any earlier leader's, before anything is written.
        while true {
            guard elector.isLeading else { throw LeadershipLost() }
            do {
                try await fence.acquire()
                break
            } catch {
                logger.error("cannot take a fencing token; trying again", metadata: ["error": "\(error)"])
                try await ContinuousClock().sleep(for: .seconds(1))
            }
        }
        logger.notice("this replica leads: taking over", metadata: [
            "identity": "\(elector.identity)", "fencingToken": "\(fence.token.map(String.init) ?? "")",
        ])
        coordinator.takeOver()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await coordinator.run()
                return true
            }
            group.addTask {
                try await elector.lapse()
                return false
            }
            group.addTask {
                try await fence.fenced()
                return false
            }
            // The coordinator ends after a graceful shutdown drained it; the others when leadership does.
            let drained = try await group.next() ?? true
            group.cancelAll()
            if !drained {
                coordinator.standBy()
                throw LeadershipLost()
            }
        }
    }
}
