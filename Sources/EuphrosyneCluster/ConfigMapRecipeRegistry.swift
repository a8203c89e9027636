import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The recipe registry of cluster mode: the ConfigMap `orpheus-operator-recipes` in the reconciler's namespace,
/// watched through an informer so an alert costs no API request, and an edit takes effect for the next incident.
///
/// An edit with problems keeps the recipes that are valid and logs the others (as a file registry does); an edit
/// that leaves no recipe at all while the last good registry had some (a broken YAML string, the ConfigMap
/// deleted) keeps the last good registry and logs why.
public final class ConfigMapRecipeRegistry: RecipeRegistry, Service {
    public let name: String
    public let namespace: String
    private let informer: Informer<ConfigMap>
    private let logger: Logger
    private let state = Mutex<(catalog: RecipeCatalog, version: String?)>((RecipeCatalog(debugging: [], actions: []), nil))
    /// Whether the first list has been loaded, and who waits for it.
    private let firstLoad = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init(client: KubernetesClient, namespace: String, name: String = RecipeCatalog.configMapName,
                logger: Logger = Logger(label: "euphrosyne.registry")) {
        self.name = name
        self.namespace = namespace
        self.logger = logger
        informer = Informer(client: client, namespace: namespace, fieldSelector: "metadata.name=\(name)", logger: logger)
    }

    public func run() async throws {
        let changes = await informer.follow(name)
        // The change stream never ends by itself: the whole group stops on graceful shutdown.
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await self.informer.run() }
                group.addTask {
                    await self.informer.waitUntilSynced()
                    self.load(await self.informer.object(named: self.name))
                    self.finishFirstLoad()
                    for await configMap in changes { self.load(configMap) }
                }
            }
        }
    }

    /// Whether the first list of the ConfigMap has been loaded.
    public var isLoaded: Bool { firstLoad.withLock { $0.done } }

    /// The current catalog. Before the first list it waits for it, so the first alert sees the real registry.
    public nonisolated(nonsending) func catalog() async -> RecipeCatalog {
        await withCheckedContinuation { continuation in
            let done = firstLoad.withLock { state in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
        return state.withLock { $0.catalog }
    }

    private func finishFirstLoad() {
        let waiters = firstLoad.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func load(_ configMap: ConfigMap?) {
        guard let configMap else {
            let kept = state.withLock { $0.catalog }
            logger.error("the recipe ConfigMap is missing; keeping the last registry", metadata: [
                "configMap": "\(namespace)/\(name)",
                "recipes": "\(kept.debugging.count + kept.actions.count)",
            ])
            return
        }
        let version = configMap.metadata.resourceVersion
        guard state.withLock({ $0.version }) != version || version == nil else { return }
        let (catalog, problems) = RecipeCatalog.load(data: configMap.data ?? [:])
        for problem in problems {
            logger.error("recipe registry problem", metadata: [
                "recipe": "\(problem.recipe ?? "-")", "problem": "\(problem.message)",
            ])
        }
        let empty = catalog.debugging.isEmpty && catalog.actions.isEmpty
        let applied: Bool = state.withLock { current in
            let hadRecipes = !current.catalog.debugging.isEmpty || !current.catalog.actions.isEmpty
            if empty && hadRecipes && !problems.isEmpty { return false }
            current = (catalog, version)
            return true
        }
        if applied {
            logger.info("recipe registry loaded", metadata: [
                "debugging": "\(catalog.debugging.map(\.name).joined(separator: ","))",
                "actions": "\(catalog.actions.map(\.name).joined(separator: ","))",
                "resourceVersion": "\(version ?? "")",
            ])
        } else {
            logger.error("the edited recipe registry has no valid recipe; keeping the last good one",
                         metadata: ["resourceVersion": "\(version ?? "")"])
        }
    }
}
