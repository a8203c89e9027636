import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation

// Taking back, at start or on becoming leader, the open incidents a previous process left in a durable store.
extension IncidentCoordinator {
    /// The pause before trying again to load the open incidents: from 1 s, doubling, at most 30 s, jittered.
    static let resumeBackoff = RetryPolicy(maxAttempts: .max, initialDelay: .seconds(1), maxDelay: .seconds(30))

    /// Picks up the incidents a previous process left open (a store that outlives the process holds some; one in
    /// memory starts empty): their results are awaited again, runs that were under way keep the rest of their
    /// timeout, runs that never started are launched where that cannot start them twice, what was saved but not
    /// delivered to chat is sent, and nothing that already ran is launched again.
    func resumeOpenIncidents() async {
        var incidents: [Incident] = []
        var attempt = 0
        while true {
            do {
                incidents = try await store.openIncidents()
                break
            } catch {
                // The store (Redis) may still be coming up: keep trying, as long as we run.
                attempt += 1
                logger.error("cannot load open incidents to resume them; retrying", metadata: [
                    "error": "\(error)", "attempt": "\(attempt)",
                ])
                do { try await clock.sleep(for: Self.resumeBackoff.delay(afterAttempt: attempt)) } catch { return }
            }
        }
        // Runs that never started are launched again only where that cannot start them twice.
        let catalog = launcher.findsRepeatedLaunches ? await registry.catalog() : nil
        let effects = table.withLock { $0.resume(incidents, catalog: catalog, at: now()) }
        // Saved but not recorded as delivered: sent now, and counted, since the previous process may have delivered
        // some of them just before it stopped (the chats get the same Idempotency-Key).
        let resent = effects.filter { effect in
            switch effect {
            case .notifyAnalysis, .notifyActionOutcome: true
            default: false
            }
        }.count
        if resent > 0 { metrics.increment("euphrosyne_notifications_resumed_total", by: resent) }
        await perform(effects)
        for incident in incidents where effects.contains(.watch(incident.id)) {
            // A card the previous leader had not delivered (the chats show an older state).
            offerCard(incident)
            logger(for: incident.id).notice("incident resumed", metadata: [
                "state": "\(incident.state.rawValue)", "unfinishedRuns": "\(incident.unfinishedRuns.count)",
            ])
        }
    }
}
