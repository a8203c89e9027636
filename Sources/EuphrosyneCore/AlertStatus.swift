/// Whether an alert (or a whole notification) is firing or resolved.
///
/// The two values Alertmanager and Grafana put in `status`; used by `Alert` and
/// `AlertNotification`, and by the reconciler to decide whether to open or close an incident.
public enum AlertStatus: String, Sendable, Codable, Hashable {
    case firing
    case resolved
}
