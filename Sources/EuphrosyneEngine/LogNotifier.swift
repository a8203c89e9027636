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
        var logger = self.logger
        if let incident = notification.incidentID {
            logger[metadataKey: "incident"] = "\(incident.uuidString.lowercased())"
        }
        switch notification {
        case .analysis(_, let analysis):
            logger.notice("analysis ready", metadata: [
                "suggestedActions": "\(analysis.actions.joined(separator: ","))", "analysis": "\(analysis.text)",
            ])
        case .actionOutcome(_, let approvalID, let analysis):
            logger.notice("actions finished", metadata: [
                "approval": "\(approvalID)", "outcome": "\(analysis.text)",
            ])
        case .jobStatus(_, let jobs):
            logger.info("job status", metadata: [
                "jobs": "\(jobs.map { "\($0.name)=\($0.status.rawValue)" }.joined(separator: ","))",
            ])
        case .resolved(_, let alert, let cancelledRuns):
            logger.notice("alert resolved", metadata: [
                "text": "\(ChatNotification.resolvedText(alert: alert, cancelledRuns: cancelledRuns))",
            ])
        }
    }
}
