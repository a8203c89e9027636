import EuphrosyneCore
import Foundation

/// Keeps incidents in memory, for local mode and tests. Holds at most `capacity` incidents; beyond that the
/// oldest closed ones are forgotten (open ones only when nothing else is left), so a long-running local
/// reconciler does not grow without bound and an incident still being worked on stays listed.
public actor InMemoryIncidentStore: IncidentStore {
    private var incidents: [UUID: Incident] = [:]
    /// Incident ids, oldest first (by creation).
    private var order: [UUID] = []
    /// Notification group → the incident holding it.
    private var claims: [String: UUID] = [:]
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    public func save(_ incident: Incident) {
        if let existing = incidents[incident.id] {
            guard existing.revision <= incident.revision else { return }
        } else {
            // Incidents are created in time order in practice; keep the order right even if they are not.
            let position = order.lastIndex { incidents[$0].map { $0.createdAt <= incident.createdAt } ?? true }
            order.insert(incident.id, at: position.map { $0 + 1 } ?? 0)
        }
        incidents[incident.id] = incident
        if incident.state.isClosed, claims[incident.identity] == incident.id { claims[incident.identity] = nil }
        if order.count > capacity { forgetOldest(order.count - capacity) }
    }

    /// Forgets `count` incidents, oldest closed ones first.
    private func forgetOldest(_ count: Int) {
        var victims: [Int] = []
        for (index, id) in order.enumerated() {
            if victims.count == count { break }
            if incidents[id]?.state.isClosed ?? true { victims.append(index) }
        }
        var index = 0
        while victims.count < count, index < order.count {
            if !victims.contains(index) { victims.append(index) }
            index += 1
        }
        for position in victims.sorted(by: >) {
            let forgotten = order.remove(at: position)
            if let identity = incidents[forgotten]?.identity, claims[identity] == forgotten { claims[identity] = nil }
            incidents[forgotten] = nil
        }
    }

    public func create(_ incident: Incident, replacing stale: UUID?) -> UUID? {
        if let holder = claims[incident.identity], holder != incident.id, holder != stale { return holder }
        if !incident.state.isClosed { claims[incident.identity] = incident.id }
        save(incident)
        return nil
    }

    public func incident(_ id: UUID) -> Incident? { incidents[id] }

    public func openIncidents() -> [Incident] {
        order.compactMap { incidents[$0] }.filter { !$0.state.isClosed }
    }

    public nonisolated var isDurable: Bool { false }

    public func list(offset: Int, limit: Int) -> IncidentPage {
        let newestFirst = order.reversed().dropFirst(max(0, offset)).prefix(max(0, limit))
        return IncidentPage(incidents: newestFirst.compactMap { incidents[$0] }, total: order.count)
    }
}
