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
/// The coordinator saves every new version of an incident; the API reads from here.
public protocol IncidentStore: Sendable {
    /// Saves the incident unless the store already holds a newer revision of it.
    func save(_ incident: Incident) async throws
    func incident(_ id: UUID) async throws -> Incident?
    /// Newest first.
    func list(offset: Int, limit: Int) async throws -> IncidentPage
    /// Incidents that are not closed (not failed or expired), for resuming them after a restart.
    func openIncidents() async throws -> [Incident]
    /// Whether incidents outlive the process, so a restarted reconciler can resume them.
    var isDurable: Bool { get }
}
