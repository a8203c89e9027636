import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Logging

// The one message per incident that chats following incidents (Slack, Webex) keep up to date.
extension IncidentCoordinator {
    /// Sends the incident's card when the chats do not show it yet: after every saved change, when the claim of a
    /// new incident succeeded, and for incidents taken back from a previous leader. Cards of one incident are sent
    /// one at a time, newest first (`CardMailbox`).
    ///
    /// The card is made from the incident as the table holds it now (the version saved may already be behind a
    /// newer one), or as saved once it left the table.
    func offerCard(_ saved: Incident) {
        guard notifier.followsIncidents else { return }
        let incident = table.withLock { $0.incident(saved.id) } ?? saved
        let card = IncidentCard(incident)
        let key = card.key
        guard key != incident.chatCard, cards.offer(card, key: key) else { return }
        let id = incident.id
        spawnTask { await self.sendCards(of: id) }
    }

    /// Sends the incident's waiting cards until none waits. Each goes into the message the chats keep for the
    /// incident, as the incident (live, else stored) records it now, so an edit follows the post that made it.
    private func sendCards(of id: UUID) async {
        while let (card, key) = cards.next(id) {
            var threads = table.withLock { $0.incident(id)?.chatThreads }
            if threads == nil { threads = (try? await store.incident(id))?.chatThreads }
            do {
                let changed = try await notifier.send(.incident(card), threads: threads ?? [:])
                await keepChatThreads(changed, sent: nil, card: key, of: id)
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", "incident"), ("outcome", "delivered")])
            } catch {
                // The chats that took it keep their message; the card counts as shown only when every chat took it.
                if let partial = error as? FanOutNotifier.PartialFailure, !partial.started.isEmpty {
                    await keepChatThreads(partial.started, sent: nil, of: id)
                }
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", "incident"), ("outcome", "failed")])
                logger(for: id).error("incident message not updated", metadata: [
                    "stage": "\(card.stage.rawValue)", "error": "\(error)",
                ])
            }
        }
    }
}
