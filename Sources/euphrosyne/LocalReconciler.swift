import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
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
        let resultSource = HTTPCallbackResultSource(
            baseURL: settings.callbackURL ?? "http://127.0.0.1:\(settings.webhookPort)"
        )
        let launcher = LocalProcessLauncher(extraSearchPaths: Self.executableDirectory().map { [$0] } ?? [])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(catalog), launcher: launcher, resultSource: resultSource,
            notifier: notifier, store: InMemoryIncidentStore(),
            configuration: CoordinatorConfiguration(
                defaultRecipeTimeoutSeconds: settings.recipeTimeoutSeconds,
                approvalWindowSeconds: settings.approvalWindowSeconds,
                aggregatorAddress: settings.aggregatorAddress, redisAddress: settings.redisAddress
            )
        )
        let readiness = Readiness([
            (name: "coordinator", check: { await coordinator.isAcceptingWork ? nil : "shutting down" }),
        ])
        let logger = self.logger
        let explicitCallback = settings.callbackURL != nil
        let webhook = Listeners.webhook(
            coordinator: coordinator, readiness: readiness, host: settings.host, port: settings.webhookPort,
            logger: Logger(label: "euphrosyne.webhook"),
            onServerRunning: { port in
                if !explicitCallback { resultSource.setBaseURL("http://127.0.0.1:\(port)") }
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
        ])
        // Shutdown runs in reverse: the API stops first, the coordinator drains while the webhook listener still
        // takes the results of running recipes, and the webhook listener stops last.
        let group = ServiceGroup(configuration: .init(
            services: [
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

struct ReconcilerStartError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
