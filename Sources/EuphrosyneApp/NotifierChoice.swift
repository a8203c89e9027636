import AsyncHTTPClient
import EuphrosyneBot
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneWebex
import Logging

/// Builds the notifier `serve` uses: the built-in Webex one, the original bot, or the log.
struct NotifierChoice {
    var notifier: any Notifier
    var webex: WebexNotifier?
    var client: WebexClient?
    var name: String

    init(settings: ServeSettings, httpClient: HTTPClient, registry: any RecipeRegistry) {
        if let webex = settings.webex {
            let client = WebexClient(baseURL: webex.apiURL, token: webex.token, httpClient: httpClient,
                                     logger: settings.logger("euphrosyne.webex"))
            let notifier = WebexNotifier(client: client, roomID: webex.roomID, registry: registry,
                                         logger: settings.logger("euphrosyne.notifier.webex"))
            self.notifier = notifier
            self.webex = notifier
            self.client = client
            name = "webex"
        } else if let bot = settings.webexBotAddress {
            notifier = BotNotifier(baseURL: bot, httpClient: httpClient, logger: settings.logger("euphrosyne.notifier.bot"))
            name = "bot"
        } else {
            notifier = LogNotifier(logger: settings.logger("euphrosyne.notifier.log"))
            name = "log"
        }
    }

    /// The card-button approvals, when the Webex integration has a webhook URL.
    func approvals(coordinator: IncidentCoordinator, settings: ServeSettings, logger: Logger) -> WebexApprovals? {
        guard let webex, let client, let config = settings.webex else { return nil }
        guard let url = config.webhookURL else {
            logger.warning("WEBEX_WEBHOOK_URL is not set: analysis cards are posted, but their buttons reach nobody")
            return nil
        }
        if config.approvers.isEmpty {
            logger.warning("WEBEX_APPROVERS is empty: every card approval will be refused")
        }
        return WebexApprovals(
            client: client, notifier: webex, coordinator: coordinator,
            configuration: .init(targetURL: url, secret: config.webhookSecret, approvers: config.approvers,
                                 rooms: config.rooms),
            logger: settings.logger("euphrosyne.webex.approvals")
        )
    }
}
