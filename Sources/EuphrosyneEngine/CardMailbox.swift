import EuphrosyneCore
import Foundation
import Synchronization

/// The incident cards waiting to be sent to the chats that follow incidents: at most one sender per incident at a
/// time, and only the newest card waits, so the edits of one message never overtake each other and a burst of
/// changes becomes one edit (Webex allows 10 edits per message; Slack's `chat.update` about 50 a minute).
///
/// The coordinator offers a card after each change it saves; an offer that finds no sender for the incident tells
/// the caller to start one, which takes cards with `next` until none waits. The last card offered is remembered
/// for the newest `idleCapacity` incidents without a sender, so a card offered again (a change the chats do not
/// show, a save that raced the record of the card) is not sent twice.
final class CardMailbox: Sendable {
    private struct Slot {
        /// The key of the last card offered: the same card again is not sent again.
        var lastOffered: String
        var waiting: (card: IncidentCard, key: String)?
        var sending: Bool
    }

    private struct State {
        var slots: [UUID: Slot] = [:]
        /// Incidents whose sender stopped, oldest first (some may have a sender again; those are skipped).
        var idle: [UUID] = []
    }

    private let state = Mutex(State())
    let idleCapacity: Int

    init(idleCapacity: Int = 10_000) {
        self.idleCapacity = idleCapacity
    }

    /// Leaves `card` for its incident's sender; true when there is none and the caller must start one.
    func offer(_ card: IncidentCard, key: String) -> Bool {
        state.withLock { state in
            guard var slot = state.slots[card.incident] else {
                state.slots[card.incident] = Slot(lastOffered: key, waiting: (card, key), sending: true)
                return true
            }
            guard slot.lastOffered != key else { return false }
            slot.lastOffered = key
            slot.waiting = (card, key)
            let start = !slot.sending
            slot.sending = true
            state.slots[card.incident] = slot
            return start
        }
    }

    /// The card the sender of `incident` sends next; nil when none waits, and the sender then stops.
    func next(_ incident: UUID) -> (card: IncidentCard, key: String)? {
        state.withLock { state in
            guard var slot = state.slots[incident] else { return nil }
            if let waiting = slot.waiting {
                slot.waiting = nil
                state.slots[incident] = slot
                return waiting
            }
            slot.sending = false
            state.slots[incident] = slot
            state.idle.append(incident)
            Self.forgetOldIdle(&state, capacity: idleCapacity)
            return nil
        }
    }

    /// Forgets the oldest incidents without a sender beyond `capacity`.
    private static func forgetOldIdle(_ state: inout State, capacity: Int) {
        guard state.idle.count > capacity * 2 else { return }
        // Each incident at its latest place, and only those still without a sender.
        var seen = Set<UUID>()
        let idle = Array(state.idle.reversed().filter { state.slots[$0]?.sending == false && seen.insert($0).inserted }.reversed())
        let excess = max(0, idle.count - capacity)
        for id in idle.prefix(excess) { state.slots[id] = nil }
        state.idle = Array(idle.dropFirst(excess))
    }

    /// Incidents with a sender now (for tests).
    var sending: Int { state.withLock { $0.slots.values.filter(\.sending).count } }
    /// Incidents remembered, with a sender or not (for tests).
    var remembered: Int { state.withLock { $0.slots.count } }
}
