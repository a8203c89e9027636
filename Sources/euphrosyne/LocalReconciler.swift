import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneRedis
import EuphrosyneServer
import Foundation
import Logging
import ServiceLifecycle

/// Wires local mode: the registry file, local processes, the HTTP result callback, an in-memory store, and the
/// bot or log notifier; then runs both listeners and the coordinator until SIGTERM/SIGINT.
struct LocalReconciler {
    var settings: ServeSettings
    var logger: Logger

    func run() async throws {
        let catalog = try loadCatalog()
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await serve(catalog: catalog, httpClient: httpClient)
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    private func serve(catalog: RecipeCatalog, httpClient: HTTPClient) async throws {
        let notifier: any Notifier = settings.webexBotAddress.map {
            BotNotifier(baseURL: $0, httpClient: httpClient, logger: Logger(label: "euphrosyne.notifier.bot"))
        } ?? LogNotifier()
        let callback = HTTPCallbackResultSource(
            baseURL: settings.callbackURL ?? "http://127.0.0.1:\(settings.webhookPort)"
        )
        var launcher = LocalProcessLauncher(extraSearchPaths: Self.executableDirectory().map { [$0] } ?? [])

        // With Redis, results also come over pub/sub (recipes written for the original system publish there) and
        // incidents live in Redis, so a restart resumes them; recipes then keep running across the restart.
        let redis = try settings.redisAddress.isEmpty ? nil : RedisParts(settings: settings, logger: logger)
        let resultSource: any ResultSource = redis.map { CombinedResultSource([callback, $0.results]) } ?? callback
        let store: any IncidentStore = redis.map {
            RedisIncidentStore(client: $0.client, retentionSeconds: settings.retentionSeconds)
        } ?? InMemoryIncidentStore()
        launcher.leavesRunsRunningWhenCancelled = store.isDurable

        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(catalog), launcher: launcher, resultSource: resultSource,
            notifier: notifier, store: store,
            configuration: CoordinatorConfiguration(
                defaultRecipeTimeoutSeconds: settings.recipeTimeoutSeconds,
                approvalWindowSeconds: settings.approvalWindowSeconds,
                aggregatorAddress: settings.aggregatorAddress, redisAddress: settings.redisAddress,
                maxRunsInFlight: settings.maxRuns, intakeQueueCapacity: settings.intakeQueue,
                incidentsPerAlertNamePerHour: settings.maxIncidentsPerAlertname,
                approvesResolvedIncidents: settings.approveResolved
            )
        )
        var checks: [(name: String, check: Readiness.Check)] = [
            (name: "coordinator", check: { await coordinator.isAcceptingWork ? nil : "shutting down" }),
        ]
        if let redis {
            checks.append((name: "redis", check: { redis.client.isConnected ? nil : "Redis is unreachable" }))
        }
        let readiness = Readiness(checks)
        let callbackSource = callback
        let logger = self.logger
        let explicitCallback = settings.callbackURL != nil
        let webhook = Listeners.webhook(
            coordinator: coordinator, readiness: readiness, host: settings.host, port: settings.webhookPort,
            logger: Logger(label: "euphrosyne.webhook"),
            onServerRunning: { port in
                if !explicitCallback { callbackSource.setBaseURL("http://127.0.0.1:\(port)") }
                logger.notice("webhook listener ready", metadata: ["port": "\(port)"])
            }
        )
        let api = Listeners.api(
            coordinator: coordinator, readiness: readiness, host: settings.host, port: settings.apiPort,
            logger: Logger(label: "euphrosyne.api"),
            onServerRunning: { port in logger.notice("API listener ready", metadata: ["port": "\(port)"]) }
        )
        logger.notice("starting in local mode", metadata: [
            "recipes": "\(settings.recipesFile)",
            "debugging": "\(catalog.enabledDebugging.map(\.name).joined(separator: ","))",
            "actions": "\(catalog.enabledActions.map(\.name).joined(separator: ","))",
            "notifier": "\(settings.webexBotAddress == nil ? "log" : "bot")",
            "store": "\(redis == nil ? "memory" : "redis")",
        ])
        // Shutdown runs in reverse: the API stops first, the coordinator drains while the webhook listener (and
        // Redis) still bring the results of running recipes, then the webhook listener and Redis stop.
        let group = ServiceGroup(configuration: .init(
            services: (redis?.services ?? []) + [
                .init(service: webhook),
                .init(service: coordinator),
                .init(service: api),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    private func loadCatalog() throws -> RecipeCatalog {
        let text: String
        do {
            text = try String(contentsOfFile: settings.recipesFile, encoding: .utf8)
        } catch {
            throw ReconcilerStartError("cannot read the recipe registry \(settings.recipesFile): \(error.localizedDescription)")
        }
        let (catalog, problems) = RecipeCatalog.load(yaml: text)
        for problem in problems {
            logger.warning("recipe registry problem; skipping", metadata: ["problem": "\(problem)"])
        }
        if catalog.debugging.isEmpty && catalog.actions.isEmpty && !problems.isEmpty {
            throw ReconcilerStartError("the recipe registry \(settings.recipesFile) has no usable recipe")
        }
        if catalog.enabledDebugging.isEmpty {
            logger.warning("no enabled debugging recipe: every incident will close as failed")
        }
        return catalog
    }

    /// The directory of this executable, searched for recipe entrypoints after PATH so the bundled
    /// `euphrosyne-recipes` is found beside `euphrosyne`.
    static func executableDirectory() -> String? {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return Bundle.main.executableURL?.deletingLastPathComponent().path
        }
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }
}

/// The Redis side of local mode with `--redis-address`: one command client, one subscriber connection for every
/// result channel, and the result source on top of them.
struct RedisParts {
    let client: RedisClient
    let subscriber: RedisSubscriber
    let results: RedisResultSource

    init(settings: ServeSettings, logger: Logger) throws {
        var configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(address: settings.redisAddress)
        } catch {
            throw ReconcilerStartError("--redis-address \"\(settings.redisAddress)\" is not usable: \(error)")
        }
        if let password = settings.redisPassword {
            configuration.password = password
            configuration.username = settings.redisUsername
        }
        configuration.clientName = "euphrosyne"
        client = RedisClient(configuration: configuration, logger: Logger(label: "euphrosyne.redis"))
        var subscriberConfiguration = configuration
        subscriberConfiguration.clientName = "euphrosyne-subscriber"
        subscriber = RedisSubscriber(configuration: subscriberConfiguration, logger: Logger(label: "euphrosyne.redis.subscriber"))
        results = RedisResultSource(subscriber: subscriber, client: client)
    }

    /// In start order: the client and subscriber before the result source that uses them.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [.init(service: client), .init(service: subscriber), .init(service: results)]
    }
}

struct ReconcilerStartError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
