import ArgumentParser
import AsyncHTTPClient
import EuphrosyneBot
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneWebex
import Foundation
import Logging

/// The settings of the built-in Webex integration (`serve` with `WEBEX_TOKEN`): the notifier posts to `roomID`;
/// with `webhookURL`, card buttons come back as approvals from `approvers`.
struct WebexSettings {
    var token: String
    var roomID: String
    var apiURL: String
    var webhookURL: String?
    var webhookSecret: String
    var approvers: Set<String>
    var rooms: Set<String>

    /// Nil when no token is configured (the integration is off).
    init?(options: Serve, environment: [String: String]) throws {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            guard let text = environment[variable], !text.isEmpty else { return nil }
            return text
        }
        func secret(file flag: String?, fileVariable: String, variable: String) throws -> String? {
            if let path = value(flag, fileVariable) {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ValidationError("cannot read \(fileVariable) file \(path)")
                }
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { throw ValidationError("\(fileVariable) file \(path) is empty") }
                return trimmed
            }
            return value(nil, variable)
        }
        func list(_ flag: String?, _ variable: String) -> Set<String> {
            Set((value(flag, variable) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty })
        }

        guard let token = try secret(file: options.webexTokenFile, fileVariable: "WEBEX_TOKEN_FILE", variable: "WEBEX_TOKEN") else {
            if value(options.webexRoom, "WEBEX_ROOM_ID") != nil || value(options.webexWebhookUrl, "WEBEX_WEBHOOK_URL") != nil {
                throw ValidationError("the Webex integration needs the bot token: set WEBEX_TOKEN or WEBEX_TOKEN_FILE")
            }
            return nil
        }
        self.token = token
        guard let room = value(options.webexRoom, "WEBEX_ROOM_ID") else {
            throw ValidationError("the Webex integration needs the room to post in: --webex-room (WEBEX_ROOM_ID)")
        }
        roomID = room
        apiURL = value(options.webexApiUrl, "WEBEX_API_URL") ?? "https://webexapis.com/v1"
        webhookURL = value(options.webexWebhookUrl, "WEBEX_WEBHOOK_URL")
        for (name, url) in [("WEBEX_API_URL", apiURL), ("WEBEX_WEBHOOK_URL", webhookURL)] {
            guard let url else { continue }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ValidationError("\(name) must be an http(s) URL, not \"\(url)\"")
            }
        }
        // Random per start works: the webhook is updated with the current secret at every start.
        webhookSecret = try secret(file: options.webexWebhookSecretFile, fileVariable: "WEBEX_WEBHOOK_SECRET_FILE",
                                   variable: "WEBEX_WEBHOOK_SECRET") ?? IncidentCoordinator.makeSecret()
        approvers = list(options.webexApprovers, "WEBEX_APPROVERS")
        rooms = list(options.webexApproverRooms, "WEBEX_APPROVER_ROOMS")
    }
}

/// Builds the notifier `serve` uses: the built-in Webex one, the original bot, or the log.
struct NotifierChoice {
    var notifier: any Notifier
    var webex: WebexNotifier?
    var client: WebexClient?
    var name: String

    init(settings: ServeSettings, httpClient: HTTPClient, registry: any RecipeRegistry) {
        if let webex = settings.webex {
            let client = WebexClient(baseURL: webex.apiURL, token: webex.token, httpClient: httpClient)
            let notifier = WebexNotifier(client: client, roomID: webex.roomID, registry: registry)
            self.notifier = notifier
            self.webex = notifier
            self.client = client
            name = "webex"
        } else if let bot = settings.webexBotAddress {
            notifier = BotNotifier(baseURL: bot, httpClient: httpClient, logger: Logger(label: "euphrosyne.notifier.bot"))
            name = "bot"
        } else {
            notifier = LogNotifier()
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
                                 rooms: config.rooms)
        )
    }
}
