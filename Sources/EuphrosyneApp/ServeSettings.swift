import EuphrosyneCluster
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneKubernetes
import EuphrosyneServer
import EuphrosyneSupport
import Foundation
import Logging

/// The resolved configuration of `serve`: each flag (`ServeOptions`), else its environment variable, else the
/// default. What `ReconcilerApp.build` takes; the CLI builds it from its flags, tests from options of their own (and
/// may then change a setting, e.g. `drainTimeout`, that has no flag).
public struct ServeSettings: Sendable {
    public var local: Bool
    /// The registry file of local mode; cluster mode reads the ConfigMap.
    public var recipesFile: String?
    /// Cluster mode: where the reconciler runs (its registry ConfigMap is there) and how it reaches the API.
    public var reconcilerNamespace: String?
    public var kubernetes: KubernetesConfiguration?
    public var aggregatorAddress: String
    public var redisAddress: String
    public var webexBotAddress: String?
    /// The built-in Webex integration, when `WEBEX_TOKEN` is given.
    public var webex: WebexSettings?
    /// The built-in Slack integration, when `SLACK_BOT_TOKEN` is set.
    public var slack: SlackSettings?
    /// Where Slack and Webex post each incident (`CHAT_ROUTES_FILE`); no routes: their default channel and room.
    public var chatRoutes: ChatRoutes
    public var recipeTimeoutSeconds: Int
    public var recipeNamespace: String?
    /// The Secret recipe Jobs get `REDIS_PASSWORD` from, and their `REDIS_USERNAME`; nil: none.
    public var recipeRedisSecret: String?
    public var recipeRedisUsername: String?
    /// Whether results published on Redis must be signed.
    public var requireSignedResults: Bool
    public var host: String
    public var webhookPort: Int
    public var apiPort: Int
    public var callbackURL: String?
    public var approvalWindowSeconds: Int
    public var retentionSeconds: Int
    public var redisUsername: String?
    public var redisPassword: String?
    public var maxRuns: Int
    public var intakeQueue: Int
    public var maxIncidentsPerAlertname: Int?
    public var maxOpenIncidents: Int
    public var maxStoredIncidents: Int
    /// Read timeout and connection cap of both listeners.
    public var listenerLimits: ListenerLimits
    public var approveResolved: Bool
    public var approveAnyAction: Bool
    /// Who may call the API listener (open when empty).
    public var apiCredentials: APICredentials
    /// What /webhook asks of senders (nothing by default).
    public var webhookCredentials: WebhookCredentials
    public var logLevel: Logger.Level
    /// One JSON object per log line (cluster mode's default) rather than text.
    public var jsonLogs: Bool
    /// Cluster mode with several replicas: the election that decides which one acts, and the Lease it uses (in the
    /// reconciler's namespace); nil: this replica acts alone.
    public var leaderElection: LeaderElection.Settings?
    public var leaderElectionLease: String
    /// With leader election: the address the other replicas reach this one's listeners at (`POD_IP`, from the
    /// downward API). With it, a replica standing by forwards alerts and approvals to the leader and is ready
    /// itself; without it, only the leader is ready.
    public var advertisedHost: String?
    /// On graceful shutdown, how long running recipes and notifications get to finish. No flag: the coordinator's
    /// default (25 s); tests shorten it.
    public var drainTimeout: Duration = CoordinatorConfiguration().drainTimeout

    /// Resolves `options` against `environment`. Throws `SettingsError` with the message the user sees when a
    /// setting cannot be used.
    public init(options: ServeOptions, environment: [String: String]) throws {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag { return flag }
            guard let text = environment[variable], !text.isEmpty else { return nil }
            return text
        }
        func integer(_ flag: Int?, _ variable: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
            let number: Int
            if let flag {
                number = flag
            } else if let text = value(nil, variable) {
                guard let parsed = Int(text) else {
                    throw SettingsError("\(variable)=\(text) is not a whole number")
                }
                number = parsed
            } else {
                number = fallback
            }
            guard range.contains(number) else {
                throw SettingsError("\(variable) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
            }
            return number
        }

        local = options.local == true || ["1", "true", "yes"].contains(environment["EUPHROSYNE_LOCAL"]?.lowercased() ?? "")
        if !local {
            // Cluster mode when this runs in a pod or a kubeconfig is there; otherwise local mode, which needs
            // nothing else.
            do {
                kubernetes = try KubernetesConfiguration.inCluster(environment: environment)
                if kubernetes == nil {
                    let paths = KubernetesConfiguration.kubeconfigPaths(environment: environment)
                    if !paths.isEmpty { kubernetes = try KubernetesConfiguration.kubeconfig(paths: paths) }
                }
            } catch {
                throw SettingsError("cluster mode: \(error.description) (start with --local to run recipes as local processes)")
            }
            local = kubernetes == nil
        }
        if local {
            guard let recipes = value(options.recipes, "RECIPES_FILE") else {
                throw SettingsError(
                    "local mode needs a recipe registry: --recipes FILE (ConfigMap format, e.g. examples/recipes.yaml)"
                )
            }
            recipesFile = recipes
        } else {
            let serviceAccountNamespace = (try? String(
                contentsOfFile: KubernetesConfiguration.serviceAccountDirectory + "/namespace", encoding: .utf8
            ))?.trimmingCharacters(in: .whitespacesAndNewlines)
            reconcilerNamespace = [serviceAccountNamespace, value(nil, "RECONCILER_NAMESPACE"), kubernetes?.namespace]
                .compactMap { $0 }.first { !$0.isEmpty } ?? "default"
        }
        aggregatorAddress = value(options.aggregatorAddress, "AGGREGATOR_ADDRESS") ?? ""
        redisAddress = value(options.redisAddress, "REDIS_ADDRESS") ?? ""
        webexBotAddress = value(options.webexBotAddress, "WEBEX_BOT_ADDRESS")
        if let bot = webexBotAddress {
            guard let url = URL(string: bot), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw SettingsError("the Webex bot address must be an http(s) URL, not \"\(bot)\"")
            }
        }
        webex = try WebexSettings(options: options, environment: environment)
        slack = try SlackSettings(options: options, environment: environment)
        chatRoutes = try Self.chatRoutes(file: value(options.chatRoutesFile, "CHAT_ROUTES_FILE"),
                                         slack: slack != nil, webex: webex != nil)
        recipeTimeoutSeconds = try integer(options.recipeTimeout, "RECIPE_TIMEOUT", default: 300, range: 1...86_400)
        recipeNamespace = value(options.recipeNamespace, "RECIPE_NAMESPACE") ?? reconcilerNamespace
        /// The flag, else the variable, else the default; given but empty means none.
        func disableable(_ flag: String?, _ variable: String, default fallback: String) -> String? {
            let text = flag ?? environment[variable] ?? fallback
            return text.isEmpty ? nil : text
        }
        recipeRedisSecret = disableable(options.recipeRedisSecret, "RECIPE_REDIS_SECRET", default: "euphrosyne-redis")
        if let secret = recipeRedisSecret, !RecipeResources.isDNSSubdomain(secret) {
            throw SettingsError("RECIPE_REDIS_SECRET must be a Secret name (a DNS-1123 subdomain), not \"\(secret)\"")
        }
        recipeRedisUsername = disableable(options.recipeRedisUsername, "RECIPE_REDIS_USERNAME", default: "euphrosyne-recipe")
        if let user = recipeRedisUsername, user.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw SettingsError("RECIPE_REDIS_USERNAME must not contain spaces, not \"\(user)\"")
        }
        requireSignedResults = options.requireSignedResults == true
            || ["1", "true", "yes"].contains(environment["REQUIRE_SIGNED_RESULTS"]?.lowercased() ?? "")
        // Local mode runs on a laptop, with the API open by default: only this machine may reach it unless the user
        // says otherwise. In a pod, the listeners must take traffic from the Service.
        host = value(options.host, "LISTEN_HOST") ?? (local ? "127.0.0.1" : "0.0.0.0")
        webhookPort = try integer(options.webhookPort, "WEBHOOK_PORT", default: 8080, range: 0...65_535)
        apiPort = try integer(options.apiPort, "API_PORT", default: 8081, range: 0...65_535)
        callbackURL = value(options.callbackURL, "CALLBACK_URL")
        approvalWindowSeconds = try integer(
            options.approvalWindow, "APPROVAL_WINDOW", default: 86_400, range: 1...(30 * 86_400)
        )
        retentionSeconds = try integer(
            options.retention, "INCIDENT_RETENTION", default: 7 * 86_400, range: 60...(365 * 86_400)
        )
        maxRuns = try integer(options.maxRuns, "MAX_RUNS", default: 32, range: 1...10_000)
        intakeQueue = try integer(options.intakeQueue, "INTAKE_QUEUE", default: 512, range: 1...1_000_000)
        if options.maxIncidentsPerAlertname != nil || value(nil, "MAX_INCIDENTS_PER_ALERTNAME") != nil {
            maxIncidentsPerAlertname = try integer(
                options.maxIncidentsPerAlertname, "MAX_INCIDENTS_PER_ALERTNAME", default: 0, range: 1...1_000_000
            )
        }
        maxOpenIncidents = try integer(options.maxOpenIncidents, "MAX_OPEN_INCIDENTS", default: 1_000, range: 1...1_000_000)
        maxStoredIncidents = try integer(options.maxStoredIncidents, "MAX_STORED_INCIDENTS", default: 10_000,
                                         range: 1...10_000_000)
        guard maxStoredIncidents >= maxOpenIncidents else {
            throw SettingsError("MAX_STORED_INCIDENTS (\(maxStoredIncidents)) must be at least MAX_OPEN_INCIDENTS (\(maxOpenIncidents)): open incidents are never deleted to make room")
        }
        listenerLimits = ListenerLimits(
            readTimeout: .seconds(try integer(options.readTimeout, "READ_TIMEOUT", default: 30, range: 1...3_600)),
            maxConnections: try integer(options.maxConnections, "MAX_CONNECTIONS", default: 1_024, range: 1...1_000_000)
        )
        approveResolved = options.approveResolved == true
            || ["1", "true", "yes"].contains(environment["APPROVE_RESOLVED"]?.lowercased() ?? "")
        redisUsername = value(nil, "REDIS_USERNAME")
        approveAnyAction = options.approveAnyAction == true
            || ["1", "true", "yes"].contains(environment["APPROVE_ANY_ACTION"]?.lowercased() ?? "")
        /// name:secret entries from a file flag, its `*_FILE` variable, or the inline variable.
        func credentials(file flag: String?, fileVariable: String, inlineVariable: String?) throws -> [(name: String, secret: String)] {
            do {
                if let path = value(flag, fileVariable) {
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw SettingsError("cannot read \(fileVariable) file \(path)")
                    }
                    let entries = try CredentialList.parse(text, source: path)
                    // A file that is there but empty (a Secret mounted without its key's content) would leave the
                    // listener open without anyone having asked for that.
                    guard !entries.isEmpty else {
                        throw SettingsError("\(fileVariable) file \(path) holds no name:secret entry; refusing to run with the listener open")
                    }
                    return entries
                }
                if let inlineVariable, let text = value(nil, inlineVariable) {
                    let entries = try CredentialList.parse(text, source: inlineVariable)
                    guard !entries.isEmpty else {
                        throw SettingsError("\(inlineVariable) holds no name:secret entry; refusing to run with the listener open")
                    }
                    return entries
                }
                return []
            } catch let problem as CredentialList.Problem {
                throw SettingsError(problem.description)
            }
        }
        let tokens = try credentials(file: options.apiTokensFile, fileVariable: "API_TOKENS_FILE", inlineVariable: "API_TOKENS")
        let keys = try credentials(file: options.apiHmacKeysFile, fileVariable: "API_HMAC_KEYS_FILE", inlineVariable: "API_HMAC_KEYS")
        let window = try integer(options.signatureWindow, "SIGNATURE_WINDOW", default: 300, range: 1...86_400)
        apiCredentials = APICredentials(
            bearerTokens: Dictionary(uniqueKeysWithValues: tokens.map { ($0.name, $0.secret) }),
            hmacKeys: Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0.secret) }),
            replayWindow: .seconds(window)
        )
        let webhookTokens = try credentials(file: options.webhookTokensFile, fileVariable: "WEBHOOK_TOKENS_FILE", inlineVariable: nil)
        let webhookPairs = try credentials(file: options.webhookBasicAuthFile, fileVariable: "WEBHOOK_BASIC_AUTH_FILE", inlineVariable: nil)
        webhookCredentials = WebhookCredentials(bearerTokens: webhookTokens.map(\.secret),
                                                basicAuth: webhookPairs.map { (user: $0.name, password: $0.secret) })

        redisPassword = value(nil, "REDIS_PASSWORD")
        let levelText = value(options.logLevel, "LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw SettingsError("unknown log level \"\(levelText)\"")
        }
        logLevel = level
        switch value(options.logFormat, "LOG_FORMAT")?.lowercased() {
        case nil: jsonLogs = !local
        case "json": jsonLogs = true
        case "text": jsonLogs = false
        case let other?: throw SettingsError("unknown log format \"\(other)\": use json or text")
        }
        leaderElectionLease = value(options.leaderElectionLease, "LEADER_ELECTION_LEASE") ?? "euphrosyne-leader"
        if options.leaderElection == true || ["1", "true", "yes"].contains(environment["LEADER_ELECTION"]?.lowercased() ?? "") {
            guard !local else { throw SettingsError("leader election (LEADER_ELECTION) needs cluster mode: it keeps a Lease in the Kubernetes API") }
            guard RecipeResources.isDNSSubdomain(leaderElectionLease) else {
                throw SettingsError("LEADER_ELECTION_LEASE must be a Lease name (a DNS-1123 subdomain), not \"\(leaderElectionLease)\"")
            }
            let election = LeaderElection.Settings(
                identity: Self.replicaIdentity(environment: environment),
                leaseDuration: .seconds(try integer(options.leaseDuration, "LEASE_DURATION", default: 15, range: 1...3_600)),
                renewDeadline: .seconds(try integer(options.renewDeadline, "RENEW_DEADLINE", default: 10, range: 1...3_600)),
                retryPeriod: .seconds(try integer(options.retryPeriod, "RETRY_PERIOD", default: 2, range: 1...3_600))
            )
            if let problem = election.problem { throw SettingsError("LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD: \(problem)") }
            leaderElection = election
            advertisedHost = environment["POD_IP"].flatMap { $0.isEmpty ? nil : $0 }
        }
        if !local, redisAddress.isEmpty {
            throw SettingsError("cluster mode needs --redis-address (REDIS_ADDRESS): recipes in Jobs report over Redis, and incidents are kept there")
        }
    }

    /// This replica's name in the leader election's Lease: `<pod name>_<random>`, as client-go names candidates, so
    /// a pod restarted under the same name is a new candidate. The pod name comes from `POD_NAME` (the downward
    /// API), else the host name (a pod's host name is its name).
    static func replicaIdentity(environment: [String: String]) -> String {
        let pod = environment["POD_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.hostName
        return "\(pod)_\(Hex.lowercase(SecureRandom.bytes(4)))"
    }

    /// The routes file's routes; each chat a route names must be configured.
    static func chatRoutes(file: String?, slack: Bool, webex: Bool) throws -> ChatRoutes {
        guard let file else { return ChatRoutes() }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw SettingsError("cannot read the chat routes file \(file) (CHAT_ROUTES_FILE): \(error.localizedDescription)")
        }
        let routes: ChatRoutes
        do {
            routes = try ChatRoutes(yaml: text)
        } catch {
            throw SettingsError("the chat routes file \(file) (CHAT_ROUTES_FILE): \(error.message)")
        }
        for (index, route) in routes.routes.enumerated() {
            if route.destinations["slack"] != nil, !slack {
                throw SettingsError("the chat routes file \(file): route \(index + 1) names a Slack channel, but Slack is not configured (SLACK_BOT_TOKEN)")
            }
            if route.destinations["webex"] != nil, !webex {
                throw SettingsError("the chat routes file \(file): route \(index + 1) names a Webex room, but Webex is not configured (WEBEX_TOKEN)")
            }
        }
        return routes
    }

    /// The coordinator's settings, the same in both modes.
    var coordinatorConfiguration: CoordinatorConfiguration {
        var configuration = CoordinatorConfiguration(
            defaultRecipeTimeoutSeconds: recipeTimeoutSeconds, approvalWindowSeconds: approvalWindowSeconds,
            aggregatorAddress: aggregatorAddress, redisAddress: redisAddress, maxRunsInFlight: maxRuns,
            intakeQueueCapacity: intakeQueue, incidentsPerAlertNamePerHour: maxIncidentsPerAlertname,
            maxOpenIncidents: maxOpenIncidents,
            approvesResolvedIncidents: approveResolved, approvesUnsuggestedActions: approveAnyAction,
            requireSignedResults: requireSignedResults
        )
        configuration.drainTimeout = drainTimeout
        return configuration
    }
}

/// A setting of `serve` that cannot be used, with the message the user sees; the CLI shows it as a usage error.
public struct SettingsError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
