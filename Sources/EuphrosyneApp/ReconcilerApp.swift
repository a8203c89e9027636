import EuphrosyneCore
import EuphrosyneKubernetes
import Logging
import ServiceLifecycle

/// The reconciler as `euphrosyne serve` runs it, built from `ServeSettings`: local or cluster mode, its adapters, the
/// coordinator and both listeners in one `ServiceGroup` that drains on graceful shutdown.
///
/// The one place the application is wired, in the manner of Hummingbird's template `buildApplication`: the CLI
/// calls `build` once it has parsed its flags, the end-to-end tests call it with settings of their own and learn
/// the listeners' ports from the `Hooks`.
public struct ReconcilerApp: Service {
    /// What the app tells whoever runs it as it comes up.
    public struct Hooks: Sendable {
        /// Called with the webhook listener's port once it listens (tests bind port 0).
        public var webhookListening: @Sendable (Int) async -> Void
        /// Called with the API listener's port once it listens.
        public var apiListening: @Sendable (Int) async -> Void

        public init(
            webhookListening: @escaping @Sendable (Int) async -> Void = { _ in },
            apiListening: @escaping @Sendable (Int) async -> Void = { _ in }
        ) {
            self.webhookListening = webhookListening
            self.apiListening = apiListening
        }
    }

    enum Mode {
        case local(RecipeCatalog)
        case cluster(KubernetesConfiguration, reconcilerNamespace: String, recipeNamespace: String)
    }

    let settings: ServeSettings
    let logger: Logger
    let hooks: Hooks
    let shutsDownOnSignals: Bool
    let mode: Mode

    /// Checks what can be checked before anything starts, and returns the reconciler to run. Local mode reads the
    /// recipe registry file here (its problems are logged; none usable is an error).
    ///
    /// - Parameters:
    ///   - logger: the reconciler's own log (start-up, listeners, shutdown); each part logs under a label of its own
    ///     (`euphrosyne.webhook`, `euphrosyne.coordinator`…) at `settings.logLevel`.
    ///   - shutsDownOnSignals: SIGTERM and SIGINT shut it down gracefully (`serve`); tests that run it inside a
    ///     group of their own pass false and shut that group down instead.
    /// - Throws: `ReconcilerStartError` saying why it cannot start.
    public static func build(
        settings: ServeSettings, logger: Logger, hooks: Hooks = Hooks(), shutsDownOnSignals: Bool = true
    ) throws -> ReconcilerApp {
        let mode: Mode
        if settings.local {
            mode = .local(try LocalReconciler.loadCatalog(settings: settings, logger: logger))
        } else {
            guard let configuration = settings.kubernetes, let reconcilerNamespace = settings.reconcilerNamespace,
                  let recipeNamespace = settings.recipeNamespace
            else { throw ReconcilerStartError("cluster mode without a Kubernetes configuration") }
            mode = .cluster(configuration, reconcilerNamespace: reconcilerNamespace, recipeNamespace: recipeNamespace)
        }
        return ReconcilerApp(settings: settings, logger: logger, hooks: hooks, shutsDownOnSignals: shutsDownOnSignals,
                             mode: mode)
    }

    /// Builds the clients, adapters, coordinator and listeners of the mode, runs them until a graceful shutdown,
    /// and shuts the clients down. Cluster mode first checks the reconciler's RBAC permissions and refuses to start
    /// (`ReconcilerStartError`) with one message naming every missing one.
    public func run() async throws {
        switch mode {
        case .local(let catalog):
            try await LocalReconciler(settings: settings, logger: logger, catalog: catalog, hooks: hooks,
                                      shutsDownOnSignals: shutsDownOnSignals).run()
        case .cluster(let configuration, let reconcilerNamespace, let recipeNamespace):
            try await ClusterReconciler(
                settings: settings, logger: logger, configuration: configuration,
                reconcilerNamespace: reconcilerNamespace, recipeNamespace: recipeNamespace, hooks: hooks,
                shutsDownOnSignals: shutsDownOnSignals
            ).run()
        }
    }
}
