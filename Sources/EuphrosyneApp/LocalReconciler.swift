import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneRedisAdapters
import EuphrosyneServer
import Foundation
import Logging
import ServiceLifecycle

/// Wires local mode: the registry file, local processes, the HTTP result callback, an in-memory store, and the
/// bot or log notifier; then runs both listeners and the coordinator until a graceful shutdown.
struct LocalReconciler {
    var settings: ServeSettings
    var logger: Logger
    var catalog: RecipeCatalog
    var hooks: ReconcilerApp.Hooks
    var shutsDownOnSignals: Bool

    func run() async throws {
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
        let registry = StaticRecipeRegistry(catalog)
        let chats = ChatIntegrations(settings: settings, httpClient: httpClient, registry: registry)
        let callback = HTTPCallbackResultSource(
            baseURL: settings.callbackURL ?? "http://127.0.0.1:\(settings.webhookPort)"
        )
        var launcher = LocalProcessLauncher(extraSearchPaths: Self.executableDirectory().map { [$0] } ?? [],
                                            logger: settings.logger("euphrosyne.launcher.local"))

        // With Redis, results also come over pub/sub (recipes written for the original system publish there) and
        // incidents live in Redis, so a restart resumes them; recipes then keep running across the restart.
        let redis = try settings.redisAddress.isEmpty ? nil : RedisParts(settings: settings, logger: logger)
        let resultSource: any ResultSource = redis.map { CombinedResultSource([callback, $0.results]) } ?? callback
        let store: any IncidentStore = redis?.store ?? InMemoryIncidentStore(capacity: settings.maxStoredIncidents)
        launcher.leavesRunsRunningWhenCancelled = store.isDurable

        let base = MetricsExporter()
        let exporter = base.sampling(redis.map { [$0.sampler(into: base.metrics)] } ?? [])
        let coordinator = IncidentCoordinator(
            registry: registry, launcher: launcher, resultSource: resultSource,
            notifier: chats.notifier, store: store, configuration: settings.coordinatorConfiguration,
            metrics: exporter.metrics, logger: settings.logger("euphrosyne.coordinator")
        )
        var checks: [(name: String, check: Readiness.Check)] = []
        if let redis {
            checks.append((name: "redis", check: { redis.client.isConnected ? nil : "Redis is unreachable" }))
        }
        let callbackSource = callback
        let explicitCallback = settings.callbackURL != nil
        let webhookListening = hooks.webhookListening
        logger.notice("starting in local mode", metadata: [
            "recipes": "\(settings.recipesFile ?? "")",
            "debugging": "\(catalog.enabledDebugging.map(\.name).joined(separator: ","))",
            "actions": "\(catalog.enabledActions.map(\.name).joined(separator: ","))",
            "chats": "\(chats.names)",
            "store": "\(redis == nil ? "memory" : "redis")",
        ])
        try await ReconcilerServices(
            settings: settings, logger: logger, coordinator: coordinator,
            chats: chats.integrations, readinessChecks: checks,
            servicesBefore: (redis?.services ?? []).map(\.service), exporter: exporter,
            replayCache: redis.map { RedisReplayCache(client: $0.client) } ?? InMemoryReplayCache(),
            onWebhookPort: { port in
                if !explicitCallback { callbackSource.setBaseURL("http://127.0.0.1:\(port)") }
                await webhookListening(port)
            },
            onAPIPort: hooks.apiListening, shutsDownOnSignals: shutsDownOnSignals
        ).run()
    }

    /// The registry file of `settings`, its problems logged; `ReconcilerStartError` when it cannot be read or has
    /// no usable recipe.
    static func loadCatalog(settings: ServeSettings, logger: Logger) throws -> RecipeCatalog {
        let text: String
        let path = settings.recipesFile ?? ""
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ReconcilerStartError("cannot read the recipe registry \(path): \(error.localizedDescription)")
        }
        let (catalog, problems) = RecipeCatalog.load(yaml: text)
        for problem in problems {
            logger.warning("recipe registry problem; skipping", metadata: ["problem": "\(problem)"])
        }
        if catalog.debugging.isEmpty && catalog.actions.isEmpty && !problems.isEmpty {
            throw ReconcilerStartError("the recipe registry \(path) has no usable recipe")
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
