import Foundation

/// The settings of the built-in Slack integration (`serve` with `SLACK_BOT_TOKEN`): the notifier posts to `channel`;
/// with the app's `signingSecret`, button clicks come back as approvals from `approvers`. Part of `ServeSettings`.
public struct SlackSettings: Sendable {
    public var token: String
    public var channel: String
    public var apiURL: String
    public var signingSecret: String?
    public var approvers: Set<String>
    public var channels: Set<String>

    /// Nil when no token is configured (the integration is off).
    init?(options: ServeOptions, environment: [String: String]) throws {
        let reader = SettingReader(environment: environment)

        guard let token = try reader.secret(file: options.slackBotTokenFile, fileVariable: "SLACK_BOT_TOKEN_FILE",
                                     variable: "SLACK_BOT_TOKEN") else {
            if reader.value(options.slackChannel, "SLACK_CHANNEL") != nil {
                throw SettingsError("the Slack integration needs the bot token: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE")
            }
            return nil
        }
        guard token.hasPrefix("xoxb-") else {
            throw SettingsError("SLACK_BOT_TOKEN must be the app's bot token (xoxb-…), not a user or app-level token")
        }
        self.token = token
        guard let channel = reader.value(options.slackChannel, "SLACK_CHANNEL") else {
            throw SettingsError("the Slack integration needs the channel to post in: --slack-channel (SLACK_CHANNEL), its id (C…)")
        }
        self.channel = channel
        apiURL = reader.value(options.slackApiUrl, "SLACK_API_URL") ?? "https://slack.com/api"
        guard let parsed = URL(string: apiURL), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw SettingsError("SLACK_API_URL must be an http(s) URL, not \"\(apiURL)\"")
        }
        signingSecret = try reader.secret(file: options.slackSigningSecretFile, fileVariable: "SLACK_SIGNING_SECRET_FILE",
                                   variable: "SLACK_SIGNING_SECRET")
        approvers = reader.list(options.slackApprovers, "SLACK_APPROVERS")
        channels = reader.list(options.slackApproverChannels, "SLACK_APPROVER_CHANNELS")
    }
}
