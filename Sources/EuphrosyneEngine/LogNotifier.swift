import EuphrosyneCore
import EuphrosynePorts
import Logging

/// Writes notifications to the log: the notifier when no bot is configured (local mode, a first try-out).
public struct LogNotifier: Notifier {
    public let logger: Logger

    public init(logger: Logger = Logger(label: "euphrosyne.notifier.log")) {
        self.logger = logger
    }

    public func send(_ notification: ChatNotification) async throws {
        // The incident in each line's metadata, not set on a copy of the logger (see `IncidentLogger`).
        let incident: Logger.Metadata = notification.incidentID.map { ["incident": "\($0.uuidString.lowercased())"] } ?? [:]
        switch notification {
        case .analysis(_, let analysis):
            logger.notice("analysis ready", metadata: incident.merging([
                "suggestedActions": "\(analysis.actions.joined(separator: ","))", "analysis": "\(analysis.text)",
            ]) { $1 })
        case .actionOutcome(_, let approvalID, let analysis):
            logger.notice("actions finished", metadata: incident.merging([
                "approval": "\(approvalID)", "outcome": "\(analysis.text)",
            ]) { $1 })
        case .jobStatus(_, let jobs):
            logger.info("job status", metadata: incident.merging([
                "jobs": "\(jobs.map { "\($0.name)=\($0.status.rawValue)" }.joined(separator: ","))",
            ]) { $1 })
        case .resolved(_, let alert, let cancelledRuns):
            logger.notice("alert resolved", metadata: incident.merging([
                "text": "\(ChatNotification.resolvedText(alert: alert, cancelledRuns: cancelledRuns))",
            ]) { $1 })
        case .incident(let card):
            // Not sent to the log (it does not follow incidents); the incident's own lines say as much.
            logger.debug("incident changed", metadata: incident.merging(["stage": "\(card.stage.rawValue)"]) { $1 })
        }
    }
}
