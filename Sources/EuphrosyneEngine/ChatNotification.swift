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

    public var incidentID: UUID? {
        switch self {
        case .analysis(let id, _), .actionOutcome(let id, _, _): return id
        case .jobStatus(let id, _): return id
        }
    }

    public var kind: String {
        switch self {
        case .analysis: return "analysis"
        case .actionOutcome: return "action-outcome"
        case .jobStatus: return "job-status"
        }
    }
}
