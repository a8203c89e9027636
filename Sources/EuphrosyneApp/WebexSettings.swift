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
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            guard let text = environment[variable], !text.isEmpty else { return nil }
            return text
        }
        func secret(file flag: String?, fileVariable: String, variable: String) throws -> String? {
            if let path = value(flag, fileVariable) {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw SettingsError("cannot read \(fileVariable) file \(path)")
                }
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { throw SettingsError("\(fileVariable) file \(path) is empty") }
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
                throw SettingsError("the Webex integration needs the bot token: set WEBEX_TOKEN or WEBEX_TOKEN_FILE")
            }
            return nil
        }
        self.token = token
        guard let room = value(options.webexRoom, "WEBEX_ROOM_ID") else {
            throw SettingsError("the Webex integration needs the room to post in: --webex-room (WEBEX_ROOM_ID)")
        }
        roomID = room
        apiURL = value(options.webexApiUrl, "WEBEX_API_URL") ?? "https://webexapis.com/v1"
        webhookURL = value(options.webexWebhookUrl, "WEBEX_WEBHOOK_URL")
        for (name, url) in [("WEBEX_API_URL", apiURL), ("WEBEX_WEBHOOK_URL", webhookURL)] {
            guard let url else { continue }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw SettingsError("\(name) must be an http(s) URL, not \"\(url)\"")
            }
        }
        // Random per start works: the webhook is updated with the current secret at every start.
        webhookSecret = try secret(file: options.webexWebhookSecretFile, fileVariable: "WEBEX_WEBHOOK_SECRET_FILE",
                                   variable: "WEBEX_WEBHOOK_SECRET") ?? IncidentCoordinator.makeSecret()
        approvers = list(options.webexApprovers, "WEBEX_APPROVERS")
        rooms = list(options.webexApproverRooms, "WEBEX_APPROVER_ROOMS")
    }
}
