import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Synchronization

/// Keeps incidents in memory, for local mode and tests. Holds about `capacity` incidents (at most a hundredth more,
/// forgotten in one batch); beyond that the oldest closed ones are forgotten (open ones only when nothing else is left), so a long-running local
/// reconciler does not grow without bound and an incident still being worked on stays listed.
public final class InMemoryIncidentStore: IncidentStore {
    /// What the store holds, behind one lock: every operation is short and never suspends, so callers (the
    /// coordinator actor above all) use it without hopping to another executor.
    private struct Contents {
        var incidents: [UUID: Incident] = [:]
        /// Incident ids, oldest first (by creation).
        var order: [UUID] = []
        /// Notification group → the incident holding it.
        var claims: [String: UUID] = [:]
    }

    private let contents = Mutex(Contents())
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    public nonisolated(nonsending) func save(_ incident: Incident) async {
        contents.withLock { save(incident, in: &$0) }
    }

    public nonisolated(nonsending) func create(_ incident: Incident, replacing stale: UUID?) async -> UUID? {
        contents.withLock { contents in
            if let holder = contents.claims[incident.identity], holder != incident.id, holder != stale { return holder }
            if !incident.state.isClosed { contents.claims[incident.identity] = incident.id }
            save(incident, in: &contents)
            return nil
        }
    }

    public nonisolated(nonsending) func incident(_ id: UUID) async -> Incident? {
        contents.withLock { $0.incidents[id] }
    }

    public nonisolated(nonsending) func openIncidents() async -> [Incident] {
        contents.withLock { contents in
            contents.order.compactMap { contents.incidents[$0] }.filter { !$0.state.isClosed }
        }
    }

    public var isDurable: Bool { false }

    public nonisolated(nonsending) func list(offset: Int, limit: Int) async -> IncidentPage {
        contents.withLock { contents in
            let newestFirst = contents.order.reversed().dropFirst(max(0, offset)).prefix(max(0, limit))
            return IncidentPage(incidents: newestFirst.compactMap { contents.incidents[$0] }, total: contents.order.count)
        }
    }

    private func save(_ incident: Incident, in contents: inout Contents) {
        if let existing = contents.incidents[incident.id] {
            guard existing.revision <= incident.revision else { return }
        } else {
            // Incidents are created in time order in practice; keep the order right even if they are not.
            let incidents = contents.incidents
            let position = contents.order.lastIndex { incidents[$0].map { $0.createdAt <= incident.createdAt } ?? true }
            contents.order.insert(incident.id, at: position.map { $0 + 1 } ?? 0)
        }
        contents.incidents[incident.id] = incident
        if incident.state.isClosed, contents.claims[incident.identity] == incident.id {
            contents.claims[incident.identity] = nil
        }
        // Forgotten in batches of a hundredth of the capacity, so a full store does not move its whole order
        // array on every save.
        let slack = max(1, capacity / 100)
        if contents.order.count >= capacity + slack { forgetOldest(contents.order.count - capacity, in: &contents) }
    }

    /// Forgets `count` incidents, oldest closed ones first (open ones only when nothing else is left), in one pass
    /// over the order that stops looking incidents up once it has enough.
    private func forgetOldest(_ count: Int, in contents: inout Contents) {
        var victims: [UUID] = []
        var kept: [UUID] = []
        kept.reserveCapacity(contents.order.count)
        for id in contents.order {
            if victims.count < count, contents.incidents[id]?.state.isClosed ?? true {
                victims.append(id)
            } else {
                kept.append(id)
            }
        }
        if victims.count < count {
            let open = kept.prefix(count - victims.count)
            victims += open
            kept.removeFirst(open.count)
        }
        contents.order = kept
        for forgotten in victims {
            if let identity = contents.incidents[forgotten]?.identity, contents.claims[identity] == forgotten {
                contents.claims[identity] = nil
            }
            contents.incidents[forgotten] = nil
        }
    }
}
