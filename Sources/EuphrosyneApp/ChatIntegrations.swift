import AsyncHTTPClient
import EuphrosyneBot
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneSlack
import EuphrosyneWebex
import Logging

/// The chats `serve` talks to, from the settings: the built-in Webex and Slack integrations and the original bot,
/// each when configured, all of them when all are; the log when none is. Every incident goes to each of them.
struct ChatIntegrations {
    var integrations: [any ChatIntegration]

    init(settings: ServeSettings, httpClient: HTTPClient, registry: any RecipeRegistry) {
        var integrations: [any ChatIntegration] = []
        if let webex = settings.webex {
            let client = WebexClient(baseURL: webex.apiURL, token: webex.token, httpClient: httpClient,
                                     logger: settings.logger("euphrosyne.webex"))
            let notifier = WebexNotifier(client: client, roomID: webex.roomID, routes: settings.chatRoutes, registry: registry,
                                         logger: settings.logger("euphrosyne.notifier.webex"))
            let approvals = webex.webhookURL.map { url in
                WebexApprovals.Configuration(targetURL: url, secret: webex.webhookSecret, approvers: webex.approvers,
                                             rooms: webex.rooms)
            }
            integrations.append(WebexIntegration(client: client, notifier: notifier, approvals: approvals))
        }
        if let slack = settings.slack {
            let client = SlackClient(baseURL: slack.apiURL, token: slack.token, httpClient: httpClient,
                                     logger: settings.logger("euphrosyne.slack"))
            let notifier = SlackNotifier(client: client, channel: slack.channel, routes: settings.chatRoutes, registry: registry,
                                         logger: settings.logger("euphrosyne.notifier.slack"))
            let approvals = slack.signingSecret.map { secret in
                SlackApprovals.Configuration(signingSecret: secret, approvers: slack.approvers, channels: slack.channels)
            }
            integrations.append(SlackIntegration(client: client, notifier: notifier, approvals: approvals))
        }
        if let bot = settings.webexBotAddress {
            integrations.append(NotificationOnlyChat(name: "bot", notifier: BotNotifier(
                baseURL: bot, httpClient: httpClient, logger: settings.logger("euphrosyne.notifier.bot"))))
        }
        if integrations.isEmpty {
            integrations.append(NotificationOnlyChat(
                name: "log", notifier: LogNotifier(logger: settings.logger("euphrosyne.notifier.log"))))
        }
        self.integrations = integrations
    }

    /// The coordinator's notifier: the one chat's, or all of them at once.
    var notifier: any Notifier {
        integrations.count == 1
            ? integrations[0].notifier
            : FanOutNotifier(integrations.map { (name: $0.name, notifier: $0.notifier) })
    }

    /// The chats' names, for the start-up log.
    var names: String { integrations.map(\.name).joined(separator: ",") }
}
