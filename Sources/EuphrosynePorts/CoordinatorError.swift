import EuphrosyneCore
import Foundation

/// Why the coordinator refused a request. The server maps each case to an HTTP status; integrations get it from
/// `ApprovalHandling`, which is why it lives with the ports.
public enum CoordinatorError: Error, Sendable, CustomStringConvertible {
    case incidentNotFound(UUID)
    case approvalRejected(ApprovalRejection)
    /// Draining for shutdown: no new incidents or approvals.
    case shuttingDown
    /// Another replica leads (leader election): it takes notifications and approvals; retry.
    case notLeading
    /// The incident store failed; the request can be retried.
    case storeUnavailable(String)
    /// Too many notifications are being taken in already; retry after the given number of seconds.
    case intakeQueueFull(retryAfterSeconds: Int)
    /// The alert name opened its quota of incidents this hour; retry after the given number of seconds.
    case rateLimited(alertName: String, retryAfterSeconds: Int)
    /// `maxOpenIncidents` incidents are open: no new group is taken until some close.
    case tooManyOpenIncidents(limit: Int, retryAfterSeconds: Int)
    /// The notification opened nothing (a resolved notification for a group with no open incident).
    case notificationIgnored(String)

    public var description: String {
        switch self {
        case .incidentNotFound(let id): return "no incident \(id.uuidString.lowercased())"
        case .approvalRejected(let rejection): return rejection.description
        case .shuttingDown: return "the reconciler is shutting down"
        case .notLeading: return "this replica is standing by: another replica leads and takes alerts and approvals"
        case .storeUnavailable(let reason): return "the incident store is unavailable: \(reason)"
        case .intakeQueueFull: return "too many alert notifications are being taken in; retry shortly"
        case .rateLimited(let name, _):
            return "alert \"\(name)\" reached its limit of new incidents for this hour"
        case .tooManyOpenIncidents(let limit, _):
            return "\(limit) incidents are open, the most this reconciler keeps; retry once some have closed"
        case .notificationIgnored(let reason): return reason
        }
    }
}
