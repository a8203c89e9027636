import EuphrosyneCore
import Foundation

/// One page of incidents, newest first.
public struct IncidentPage: Sendable {
    public var incidents: [Incident]
    /// How many incidents the store holds in all.
    public var total: Int

    public init(incidents: [Incident], total: Int) {
        self.incidents = incidents
        self.total = total
    }
}

/// Keeps incidents: in memory (`InMemoryIncidentStore`) or in Redis.
///
/// The coordinator saves every new version of an incident; the API reads from here. The methods run on the
/// caller's executor (`nonisolated(nonsending)`): an in-memory store then costs the coordinator no actor hop.
public protocol IncidentStore: Sendable {
    /// Saves the incident unless the store already holds a newer revision of it. Saving it closed (or resolved)
    /// ends its claim on its notification group.
    nonisolated(nonsending) func save(_ incident: Incident) async throws
    /// Saves the first version of a new incident and makes it the holder of its notification group
    /// (`Incident.identity`), in one atomic step, so two replicas or a restart never open two incidents for one
    /// group. When another incident holds the group it saves nothing and returns that incident's id. `stale`
    /// names a holder found dead (its incident gone or closed) that may be replaced if it still holds the group.
    nonisolated(nonsending) func create(_ incident: Incident, replacing stale: UUID?) async throws -> UUID?
    nonisolated(nonsending) func incident(_ id: UUID) async throws -> Incident?
    /// Newest first.
    nonisolated(nonsending) func list(offset: Int, limit: Int) async throws -> IncidentPage
    /// Incidents that are not closed (not failed, expired or resolved), for resuming them after a restart.
    nonisolated(nonsending) func openIncidents() async throws -> [Incident]
    /// Whether incidents outlive the process, so a restarted reconciler can resume them.
    var isDurable: Bool { get }
}
