import ArgumentParser
import EuphrosyneApp
import EuphrosyneServer
import Foundation
import Logging

/// `euphrosyne serve`: runs the reconciler — both listeners and the coordinator in one `ServiceGroup` that drains
/// on SIGTERM/SIGINT. It only parses flags: `ServeSettings` resolves them and `ReconcilerApp` (EuphrosyneApp) wires
/// and runs the reconciler.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the reconciler.",
        discussion: """
            Every option can also come from the environment variable named in its help; a flag wins over the \
            variable. Local mode (--local) runs recipes as local processes and keeps incidents in memory.
            """
    )

    @Flag(help: "Run recipes as local processes; results come back over an HTTP callback. (EUPHROSYNE_LOCAL=1)")
    var local = false

    @Option(help: ArgumentHelp("Recipe registry in the ConfigMap format (local mode). (RECIPES_FILE)", valueName: "file"))
    var recipes: String?

    @Option(help: ArgumentHelp("Passed to recipes as --aggregator-address. (AGGREGATOR_ADDRESS)", valueName: "address"))
    var aggregatorAddress: String?

    @Option(help: ArgumentHelp("Redis for results and incidents, also passed to recipes as --redis-address; REDIS_USERNAME and REDIS_PASSWORD from the environment. (REDIS_ADDRESS)", valueName: "host:port"))
    var redisAddress: String?

    @Option(help: ArgumentHelp("Base URL of the Webex bot; without it notifications go to the log. (WEBEX_BOT_ADDRESS)", valueName: "url"))
    var webexBotAddress: String?

    @Option(help: ArgumentHelp("Webex room for the built-in Webex notifier; needs WEBEX_TOKEN (or --webex-token-file). (WEBEX_ROOM_ID)", valueName: "room id"))
    var webexRoom: String?

    @Option(help: ArgumentHelp("File holding the Webex bot token. (WEBEX_TOKEN_FILE, or WEBEX_TOKEN)", valueName: "file"))
    var webexTokenFile: String?

    @Option(help: ArgumentHelp("Webex API base URL (default https://webexapis.com/v1). (WEBEX_API_URL)", valueName: "url"))
    var webexApiUrl: String?

    @Option(help: ArgumentHelp("Public URL of POST /api/webex/events, registered as the card-button webhook; without it cards have no working buttons. (WEBEX_WEBHOOK_URL)", valueName: "url"))
    var webexWebhookUrl: String?

    @Option(help: ArgumentHelp("File holding the Webex webhook secret (default: a random one each start). (WEBEX_WEBHOOK_SECRET_FILE, or WEBEX_WEBHOOK_SECRET)", valueName: "file"))
    var webexWebhookSecretFile: String?

    @Option(help: ArgumentHelp("Who may approve from Webex: emails or person ids, comma-separated. (WEBEX_APPROVERS)", valueName: "list"))
    var webexApprovers: String?

    @Option(help: ArgumentHelp("Rooms whose cards may approve, comma-separated room ids (default: any). (WEBEX_APPROVER_ROOMS)", valueName: "list"))
    var webexApproverRooms: String?

    @Option(help: ArgumentHelp("Slack channel id (C…) for the built-in Slack notifier; needs SLACK_BOT_TOKEN (or --slack-bot-token-file). (SLACK_CHANNEL)", valueName: "channel id"))
    var slackChannel: String?

    @Option(help: ArgumentHelp("File holding the Slack bot token, xoxb-…. (SLACK_BOT_TOKEN_FILE, or SLACK_BOT_TOKEN)", valueName: "file"))
    var slackBotTokenFile: String?

    @Option(help: ArgumentHelp("File holding the Slack app's signing secret; without it the buttons reach nobody. (SLACK_SIGNING_SECRET_FILE, or SLACK_SIGNING_SECRET)", valueName: "file"))
    var slackSigningSecretFile: String?

    @Option(help: ArgumentHelp("Slack Web API base URL (default https://slack.com/api). (SLACK_API_URL)", valueName: "url"))
    var slackApiUrl: String?

    @Option(help: ArgumentHelp("Who may approve from Slack: user ids or emails, comma-separated. (SLACK_APPROVERS)", valueName: "list"))
    var slackApprovers: String?

    @Option(help: ArgumentHelp("Channels whose buttons may approve, comma-separated channel ids (default: any). (SLACK_APPROVER_CHANNELS)", valueName: "list"))
    var slackApproverChannels: String?

    @Option(help: ArgumentHelp("YAML file of routes that send incidents to other Slack channels or Webex rooms by alert labels or recipes (default: none, every incident to SLACK_CHANNEL and WEBEX_ROOM_ID). (CHAT_ROUTES_FILE)", valueName: "path"))
    var chatRoutesFile: String?

    @Option(help: ArgumentHelp("Default recipe timeout in seconds (default 300). (RECIPE_TIMEOUT)", valueName: "seconds"))
    var recipeTimeout: Int?

    @Option(help: ArgumentHelp("Namespace for recipe Jobs (cluster mode). (RECIPE_NAMESPACE)", valueName: "namespace"))
    var recipeNamespace: String?

    @Option(help: ArgumentHelp("Secret in the recipe namespace whose key recipe-password becomes every recipe Job's REDIS_PASSWORD (optional in the pod); empty: none (default euphrosyne-redis). (RECIPE_REDIS_SECRET)", valueName: "name"))
    var recipeRedisSecret: String?

    @Option(help: ArgumentHelp("REDIS_USERNAME of every recipe Job, the Redis ACL user recipes report as; empty: none (default euphrosyne-recipe). (RECIPE_REDIS_USERNAME)", valueName: "user"))
    var recipeRedisUsername: String?

    @Flag(help: "Refuse results from Redis that are not signed with their incident's key (recipes of the original SDK do not sign); a bad signature is refused either way. (REQUIRE_SIGNED_RESULTS=1)")
    var requireSignedResults = false

    @Option(help: ArgumentHelp("Address both listeners bind to (default 0.0.0.0; 127.0.0.1 in local mode, so only this machine can approve). (LISTEN_HOST)", valueName: "host"))
    var host: String?

    @Option(help: ArgumentHelp("Webhook listener port (default 8080). (WEBHOOK_PORT)", valueName: "port"))
    var webhookPort: Int?

    @Option(help: ArgumentHelp("API listener port (default 8081). (API_PORT)", valueName: "port"))
    var apiPort: Int?

    @Option(help: ArgumentHelp("How local recipes reach the webhook listener (default http://127.0.0.1:<webhook port>). (CALLBACK_URL)", valueName: "url"))
    var callbackURL: String?

    @Option(help: ArgumentHelp("How long an analysed incident accepts approvals, in seconds (default 86400). (APPROVAL_WINDOW)", valueName: "seconds"))
    var approvalWindow: Int?

    @Option(help: ArgumentHelp("How long Redis keeps incidents, in seconds (default 604800). (INCIDENT_RETENTION)", valueName: "seconds"))
    var retention: Int?

    @Option(help: ArgumentHelp("Recipe runs in flight at once across all incidents; more wait their turn (default 32). (MAX_RUNS)", valueName: "count"))
    var maxRuns: Int?

    @Option(help: ArgumentHelp("Alert notifications taken in at once; beyond that /webhook answers 503 with Retry-After (default 512). (INTAKE_QUEUE)", valueName: "count"))
    var intakeQueue: Int?

    @Option(help: ArgumentHelp("At most this many new incidents per alert name in any hour; more answer 429 (default: no limit). (MAX_INCIDENTS_PER_ALERTNAME)", valueName: "count"))
    var maxIncidentsPerAlertname: Int?

    @Option(help: ArgumentHelp("Open incidents at most; a notification of a new group beyond it answers 503 with Retry-After, notifications of open incidents still join (default 1000). (MAX_OPEN_INCIDENTS)", valueName: "count"))
    var maxOpenIncidents: Int?

    @Option(help: ArgumentHelp("Incidents kept in the store at most, open or closed; beyond it the oldest closed ones are deleted (default 10000). (MAX_STORED_INCIDENTS)", valueName: "count"))
    var maxStoredIncidents: Int?

    @Option(help: ArgumentHelp("Seconds a request head may take to arrive (also how long an idle keep-alive connection stays open), and its body after it; slower requests are cut (default 30). (READ_TIMEOUT)", valueName: "seconds"))
    var readTimeout: Int?

    @Option(help: ArgumentHelp("Connections each listener holds at once; more wait to be accepted (default 1024). (MAX_CONNECTIONS)", valueName: "count"))
    var maxConnections: Int?

    @Flag(help: "Let a resolved incident's suggested actions still be approved. (APPROVE_RESOLVED=1)")
    var approveResolved = false

    @Flag(help: "Let any registered, enabled action be approved, not only those the analysis suggested. (APPROVE_ANY_ACTION=1)")
    var approveAnyAction = false

    @Option(help: ArgumentHelp("API bearer tokens, one name:token per line; without tokens or HMAC keys the API is open. (API_TOKENS_FILE, or API_TOKENS=name:token,…)", valueName: "file"))
    var apiTokensFile: String?

    @Option(help: ArgumentHelp("HMAC-SHA256 keys for signed API requests, one keyid:secret per line. (API_HMAC_KEYS_FILE, or API_HMAC_KEYS=keyid:secret,…)", valueName: "file"))
    var apiHmacKeysFile: String?

    @Option(help: ArgumentHelp("How far a signed request's timestamp may be from now, in seconds (default 300). (SIGNATURE_WINDOW)", valueName: "seconds"))
    var signatureWindow: Int?

    @Option(help: ArgumentHelp("Bearer tokens /webhook requires (Alertmanager http_config authorization), one name:token per line; default: none required. (WEBHOOK_TOKENS_FILE)", valueName: "file"))
    var webhookTokensFile: String?

    @Option(help: ArgumentHelp("Basic-auth pairs /webhook accepts (Alertmanager http_config basic_auth), one user:password per line. (WEBHOOK_BASIC_AUTH_FILE)", valueName: "file"))
    var webhookBasicAuthFile: String?

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info). (LOG_LEVEL)", valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("json (one object per line; the default in cluster mode) or text (the default in local mode). (LOG_FORMAT)", valueName: "format"))
    var logFormat: String?

    @Flag(help: "Cluster mode with several replicas: act only while this replica holds the Lease; the others stand by (not ready, /webhook and approvals answer 503 not_leader) and one takes over when the leader stops. (LEADER_ELECTION=1)")
    var leaderElection = false

    @Option(help: ArgumentHelp("The Lease the replicas compete for, in the reconciler's namespace (default euphrosyne-leader). (LEADER_ELECTION_LEASE)", valueName: "name"))
    var leaderElectionLease: String?

    @Option(help: ArgumentHelp("Seconds a Lease counts after its last renewal before another replica may take it (default 15). (LEASE_DURATION)", valueName: "seconds"))
    var leaseDuration: Int?

    @Option(help: ArgumentHelp("Seconds a leader keeps acting without a successful renewal; shorter than the lease duration (default 10). (RENEW_DEADLINE)", valueName: "seconds"))
    var renewDeadline: Int?

    @Option(help: ArgumentHelp("Seconds between leader election attempts (default 2). (RETRY_PERIOD)", valueName: "seconds"))
    var retryPeriod: Int?

    /// The flags as given, for `ServeSettings`.
    var options: ServeOptions {
        var options = ServeOptions()
        options.local = local ? true : nil
        options.recipes = recipes
        options.aggregatorAddress = aggregatorAddress
        options.redisAddress = redisAddress
        options.webexBotAddress = webexBotAddress
        options.webexRoom = webexRoom
        options.webexTokenFile = webexTokenFile
        options.webexApiUrl = webexApiUrl
        options.webexWebhookUrl = webexWebhookUrl
        options.webexWebhookSecretFile = webexWebhookSecretFile
        options.webexApprovers = webexApprovers
        options.webexApproverRooms = webexApproverRooms
        options.slackChannel = slackChannel
        options.slackBotTokenFile = slackBotTokenFile
        options.slackSigningSecretFile = slackSigningSecretFile
        options.slackApiUrl = slackApiUrl
        options.slackApprovers = slackApprovers
        options.slackApproverChannels = slackApproverChannels
        options.chatRoutesFile = chatRoutesFile
        options.recipeTimeout = recipeTimeout
        options.recipeNamespace = recipeNamespace
        options.recipeRedisSecret = recipeRedisSecret
        options.recipeRedisUsername = recipeRedisUsername
        options.requireSignedResults = requireSignedResults ? true : nil
        options.host = host
        options.webhookPort = webhookPort
        options.apiPort = apiPort
        options.callbackURL = callbackURL
        options.approvalWindow = approvalWindow
        options.retention = retention
        options.maxRuns = maxRuns
        options.intakeQueue = intakeQueue
        options.maxIncidentsPerAlertname = maxIncidentsPerAlertname
        options.maxOpenIncidents = maxOpenIncidents
        options.maxStoredIncidents = maxStoredIncidents
        options.readTimeout = readTimeout
        options.maxConnections = maxConnections
        options.approveResolved = approveResolved ? true : nil
        options.approveAnyAction = approveAnyAction ? true : nil
        options.apiTokensFile = apiTokensFile
        options.apiHmacKeysFile = apiHmacKeysFile
        options.signatureWindow = signatureWindow
        options.webhookTokensFile = webhookTokensFile
        options.webhookBasicAuthFile = webhookBasicAuthFile
        options.logLevel = logLevel
        options.logFormat = logFormat
        options.leaderElection = leaderElection ? true : nil
        options.leaderElectionLease = leaderElectionLease
        options.leaseDuration = leaseDuration
        options.renewDeadline = renewDeadline
        options.retryPeriod = retryPeriod
        return options
    }

    func run() async throws {
        let settings: ServeSettings
        do {
            settings = try ServeSettings(options: options, environment: ProcessInfo.processInfo.environment)
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        LoggingSystem.bootstrap { label in
            if settings.jsonLogs { return JSONLogHandler(label: label, level: settings.logLevel) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "euphrosyne")
        do {
            try await ReconcilerApp.build(settings: settings, logger: logger).run()
        } catch let error as ReconcilerStartError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(1)
        }
    }
}
