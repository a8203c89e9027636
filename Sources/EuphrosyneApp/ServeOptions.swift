/// `serve`'s options as given on the command line, before the environment and the defaults are applied: one
/// property per flag, with the flag's name, nil (or false) when the flag was not given.
///
/// The CLI's `Serve` command copies its parsed flags here; tests and embedders fill it directly. `ServeSettings`
/// resolves it against the environment.
public struct ServeOptions: Sendable {
    /// `--local`
    public var local: Bool?
    /// `--recipes`
    public var recipes: String?
    /// `--aggregator-address`
    public var aggregatorAddress: String?
    /// `--redis-address`
    public var redisAddress: String?
    /// `--webex-bot-address`
    public var webexBotAddress: String?
    /// `--webex-room`
    public var webexRoom: String?
    /// `--webex-token-file`
    public var webexTokenFile: String?
    /// `--webex-api-url`
    public var webexApiUrl: String?
    /// `--webex-webhook-url`
    public var webexWebhookUrl: String?
    /// `--webex-webhook-secret-file`
    public var webexWebhookSecretFile: String?
    /// `--webex-approvers`
    public var webexApprovers: String?
    /// `--webex-approver-rooms`
    public var webexApproverRooms: String?
    /// `--slack-channel`
    public var slackChannel: String?
    /// `--slack-bot-token-file`
    public var slackBotTokenFile: String?
    /// `--slack-signing-secret-file`
    public var slackSigningSecretFile: String?
    /// `--slack-api-url`
    public var slackApiUrl: String?
    /// `--slack-approvers`
    public var slackApprovers: String?
    /// `--slack-approver-channels`
    public var slackApproverChannels: String?
    /// `--chat-routes-file`
    public var chatRoutesFile: String?
    /// `--recipe-timeout`, in seconds.
    public var recipeTimeout: Int?
    /// `--recipe-namespace`
    public var recipeNamespace: String?
    /// `--recipe-redis-secret`
    public var recipeRedisSecret: String?
    /// `--recipe-redis-username`
    public var recipeRedisUsername: String?
    /// `--require-signed-results`
    public var requireSignedResults: Bool?
    /// `--host`
    public var host: String?
    /// `--webhook-port`
    public var webhookPort: Int?
    /// `--api-port`
    public var apiPort: Int?
    /// `--callback-url`
    public var callbackURL: String?
    /// `--approval-window`, in seconds.
    public var approvalWindow: Int?
    /// `--retention`, in seconds.
    public var retention: Int?
    /// `--max-runs`
    public var maxRuns: Int?
    /// `--intake-queue`
    public var intakeQueue: Int?
    /// `--max-incidents-per-alertname`
    public var maxIncidentsPerAlertname: Int?
    /// `--max-open-incidents`
    public var maxOpenIncidents: Int?
    /// `--max-stored-incidents`
    public var maxStoredIncidents: Int?
    /// `--read-timeout`, in seconds.
    public var readTimeout: Int?
    /// `--max-connections`
    public var maxConnections: Int?
    /// `--approve-resolved`
    public var approveResolved: Bool?
    /// `--approve-any-action`
    public var approveAnyAction: Bool?
    /// `--api-tokens-file`
    public var apiTokensFile: String?
    /// `--api-hmac-keys-file`
    public var apiHmacKeysFile: String?
    /// `--signature-window`, in seconds.
    public var signatureWindow: Int?
    /// `--webhook-tokens-file`
    public var webhookTokensFile: String?
    /// `--webhook-basic-auth-file`
    public var webhookBasicAuthFile: String?
    /// `--log-level`
    public var logLevel: String?
    /// `--log-format`
    public var logFormat: String?
    /// `--leader-election`
    public var leaderElection: Bool?
    /// `--leader-election-lease`
    public var leaderElectionLease: String?
    /// `--lease-duration`, `--renew-deadline`, `--retry-period` (seconds)
    public var leaseDuration: Int?
    public var renewDeadline: Int?
    public var retryPeriod: Int?

    /// No flag given.
    public init() {}
}
