import EuphrosynePorts
import EuphrosyneServer
import Logging

/// The built-in Webex integration as one `ChatIntegration`: the notifier posts analysis cards to the room, and,
/// when the cards' callback has a public URL, `WebexApprovals` registers it and `WebexRoutes` takes the card
/// submissions (`POST /api/webex/events`). The app builder makes one from the settings.
public struct WebexIntegration: ChatIntegration {
    public let name = "webex"
    public let client: WebexClient
    public let webex: WebexNotifier
    /// The card buttons' callback; nil without a public URL (cards are posted, their buttons reach nobody).
    public let approvalsConfiguration: WebexApprovals.Configuration?

    public init(client: WebexClient, notifier: WebexNotifier, approvals: WebexApprovals.Configuration?) {
        self.client = client
        self.webex = notifier
        self.approvalsConfiguration = approvals
    }

    public var notifier: any Notifier { webex }

    public func attachments(approvals: any ApprovalHandling, logger: Logger) -> ChatAttachments {
        guard let configuration = approvalsConfiguration else {
            logger.warning("WEBEX_WEBHOOK_URL is not set: analysis cards are posted, but their buttons reach nobody")
            return ChatAttachments()
        }
        if configuration.approvers.isEmpty {
            logger.warning("WEBEX_APPROVERS is empty: every card approval will be refused")
        }
        let service = WebexApprovals(client: client, notifier: webex, coordinator: approvals,
                                     configuration: configuration, logger: logger)
        return ChatAttachments(routes: [WebexRoutes(approvals: service)], services: [service])
    }
}
