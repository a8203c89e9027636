import EuphrosyneEngine
import Foundation

/// The settings of the built-in Webex integration (`serve` with `WEBEX_TOKEN`): the notifier posts to `roomID`;
/// with `webhookURL`, card buttons come back as approvals from `approvers`. Part of `ServeSettings`.
public struct WebexSettings: Sendable {
    public var token: String
    public var roomID: String
    public var apiURL: String
    public var webhookURL: String?
    public var webhookSecret: String
    public var approvers: Set<String>
    public var rooms: Set<String>

    /// Nil when no token is configured (the integration is off).
    init?(options: ServeOptions, environment: [String: String]) throws {
        let reader = SettingReader(environment: environment)

        guard let token = try reader.secret(file: options.webexTokenFile, fileVariable: "WEBEX_TOKEN_FILE", variable: "WEBEX_TOKEN") else {
            if reader.value(options.webexRoom, "WEBEX_ROOM_ID") != nil || reader.value(options.webexWebhookUrl, "WEBEX_WEBHOOK_URL") != nil {
                throw SettingsError("the Webex integration needs the bot token: set WEBEX_TOKEN or WEBEX_TOKEN_FILE")
            }
            return nil
        }
        self.token = token
        guard let room = reader.value(options.webexRoom, "WEBEX_ROOM_ID") else {
            throw SettingsError("the Webex integration needs the room to post in: --webex-room (WEBEX_ROOM_ID)")
        }
        roomID = room
        apiURL = reader.value(options.webexApiUrl, "WEBEX_API_URL") ?? "https://webexapis.com/v1"
        webhookURL = reader.value(options.webexWebhookUrl, "WEBEX_WEBHOOK_URL")
        for (name, url) in [("WEBEX_API_URL", apiURL), ("WEBEX_WEBHOOK_URL", webhookURL)] {
            guard let url else { continue }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw SettingsError("\(name) must be an http(s) URL, not \"\(url)\"")
            }
        }
        // Random per start works: the webhook is updated with the current secret at every start.
        webhookSecret = try reader.secret(file: options.webexWebhookSecretFile, fileVariable: "WEBEX_WEBHOOK_SECRET_FILE",
                                   variable: "WEBEX_WEBHOOK_SECRET") ?? IncidentCoordinator.makeSecret()
        approvers = reader.list(options.webexApprovers, "WEBEX_APPROVERS")
        rooms = reader.list(options.webexApproverRooms, "WEBEX_APPROVER_ROOMS")
    }
}
