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

/// Counts of what the coordinator took in, refused and queued: for logs, tests and the metrics endpoint. Every
/// refusal and every wait is counted.
public struct CoordinatorStatistics: Sendable, Equatable {
    /// Notifications handed to `receive`, refused ones included.
    public var notificationsReceived = 0
    public var incidentsOpened = 0
    /// Notifications that joined an open incident of their group.
    public var notificationsDeduplicated = 0
    public var incidentsResolved = 0
    /// Resolved notifications for a group with no open incident.
    public var resolvedWithoutIncident = 0
    /// Refused with 503 because the intake queue was full.
    public var refusedQueueFull = 0
    /// Refused with 429 by the per-alert-name limit.
    public var refusedRateLimited = 0
    /// Refused with 503 because `maxOpenIncidents` incidents were open.
    public var refusedTooManyOpen = 0
    /// Incidents open now (live in this coordinator).
    public var openIncidents = 0
    /// Debugging runs stopped because their alert resolved.
    public var runsCancelledOnResolve = 0
    /// Debugging runs started for alerts that joined a group later.
    public var runsForNewAlerts = 0
    /// Notifications being taken in right now.
    public var intakeQueueDepth = 0
    /// The run cap: slots in use, runs waiting, the peak, and how many runs had to wait.
    public var runSlots: RunSlots.Statistics
}
