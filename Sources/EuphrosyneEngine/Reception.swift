import EuphrosyneCore
import Foundation

/// What became of an alert notification handed to `IncidentCoordinator.receive(payload:)`; the webhook answers
/// with it.
public enum Reception: Sendable {
    /// A new incident opened for the notification's group.
    case opened(Incident)
    /// The group already has an open incident: it was refreshed, and `started` names the recipes that started for
    /// alerts new to it (those with `runForNewAlerts`).
    case joined(Incident, started: [String])
    /// The notification said the group resolved: its incident is now resolved.
    case resolved(Incident)
    /// Nothing to do, e.g. a resolved notification for a group without an open incident. The text says why.
    case ignored(String)

    public var incident: Incident? {
        switch self {
        case .opened(let incident), .joined(let incident, _), .resolved(let incident): return incident
        case .ignored: return nil
        }
    }

    /// The recipes this notification started.
    public var startedRecipes: [String] {
        switch self {
        case .opened(let incident): return incident.runs.filter { $0.kind == .debugging }.map(\.recipe)
        case .joined(_, let started): return started
        case .resolved, .ignored: return []
        }
    }

    /// `opened`, `joined`, `resolved` or `ignored`, as the webhook reports it.
    public var outcome: String {
        switch self {
        case .opened: return "opened"
        case .joined: return "joined"
        case .resolved: return "resolved"
        case .ignored: return "ignored"
        }
    }

    public var isNew: Bool {
        if case .opened = self { return true }
        return false
    }
}

/// The coordinator's levels now: for logs, tests, and the gauges of `/metrics`. (What happened, as opposed to what
/// is, is counted in `ReconcilerMetrics` where it happens.)
public struct CoordinatorStatistics: Sendable, Equatable {
    /// Incidents open now (live in this coordinator).
    public var openIncidents = 0
    /// Notifications being taken in right now.
    public var intakeQueueDepth = 0
    /// The run cap: slots in use, runs waiting, the peak, and how many runs had to wait.
    public var runSlots: RunSlots.Statistics
}
