import EuphrosynePorts
import EuphrosyneServer
import Logging

/// The built-in Slack integration as one `ChatIntegration`: the notifier posts each analysis to the channel with
/// a button per action, and, with the app's signing secret, `SlackApprovals` takes the clicks that `SlackRoutes`
/// receives (`POST /api/slack/interactions`). The app builder makes one from the settings.
public struct SlackIntegration: ChatIntegration {
    public let name = "slack"
    public let client: SlackClient
    public let slack: SlackNotifier
    /// The buttons' callback; nil without a signing secret (messages are posted, their buttons reach nobody).
    public let approvalsConfiguration: SlackApprovals.Configuration?

    public init(client: SlackClient, notifier: SlackNotifier, approvals: SlackApprovals.Configuration?) {
        self.client = client
        self.slack = notifier
        self.approvalsConfiguration = approvals
    }

    public var notifier: any Notifier { slack }

    public func attachments(approvals: any ApprovalHandling, logger: Logger) -> ChatAttachments {
        guard let configuration = approvalsConfiguration else {
            logger.warning("SLACK_SIGNING_SECRET is not set: analyses are posted to Slack, but their buttons reach nobody")
            return ChatAttachments()
        }
        if configuration.approvers.isEmpty {
            logger.warning("SLACK_APPROVERS is empty: every Slack approval will be refused")
        }
        let service = SlackApprovals(client: client, notifier: slack, coordinator: approvals, configuration: configuration,
                                     logger: logger)
        return ChatAttachments(routes: [SlackRoutes(approvals: service)], services: [service])
    }
}
