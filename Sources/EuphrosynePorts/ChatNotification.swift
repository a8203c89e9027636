import EuphrosyneCore
import Foundation

/// A message for the humans in chat.
public enum ChatNotification: Sendable, Hashable {
    /// The diagnosis of an incident.
    case analysis(incident: UUID, Analysis)
    /// The outcome of the runs one approval started.
    case actionOutcome(incident: UUID, approvalID: Int, Analysis)
    /// The Job states of an incident's runs (answer to `/api/status`).
    case jobStatus(incident: UUID?, [JobStatus])
    /// The incident's alert resolved; `cancelledRuns` names the debugging recipes stopped because of it.
    case resolved(incident: UUID, alert: String, cancelledRuns: [String])
    /// The incident as its one message in chat shows it, sent whenever that changed; only chats that follow
    /// incidents (`Notifier.followsIncidents`) get it.
    case incident(IncidentCard)

    public var incidentID: UUID? {
        switch self {
        case .analysis(let id, _), .actionOutcome(let id, _, _): return id
        case .jobStatus(let id, _): return id
        case .resolved(let id, _, _): return id
        case .incident(let card): return card.incident
        }
    }

    /// The chat text for a resolved incident: what resolved and what was stopped because of it.
    public static func resolvedText(alert: String, cancelledRuns: [String]) -> String {
        var text = "Resolved: \(alert). Suggested actions can no longer be approved."
        if !cancelledRuns.isEmpty {
            text += " Stopped the recipes still diagnosing: \(cancelledRuns.joined(separator: ", "))."
        }
        return text
    }

    /// The notification's `NotificationKey`, which chats that take an `Idempotency-Key` get, so a notification sent
    /// twice shows once. Nil for Job states, which answer a request each time, and for incident cards, which
    /// replace what the chat shows and are recorded as `Incident.chatCard`.
    public var idempotencyKey: String? {
        switch self {
        case .analysis(let id, let analysis): return NotificationKey.analysis(id, analysis)
        case .actionOutcome(let id, let approval, let analysis): return NotificationKey.actionOutcome(id, approval: approval, analysis)
        case .resolved(let id, _, _): return NotificationKey.resolved(id)
        case .jobStatus, .incident: return nil
        }
    }

    public var kind: String {
        switch self {
        case .analysis: return "analysis"
        case .actionOutcome: return "action-outcome"
        case .jobStatus: return "job-status"
        case .resolved: return "resolved"
        case .incident: return "incident"
        }
    }
}
