import AsyncHTTPClient
import EuphrosyneCluster
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneKubernetes
import EuphrosynePorts
import EuphrosyneRedisAdapters
import EuphrosyneServer
import Foundation
import Logging
import ServiceLifecycle

/// Wires cluster mode: the registry from the `orpheus-operator-recipes` ConfigMap (watched), recipes as Jobs in the
/// recipe namespace, results and incidents in Redis, and the bot or log notifier. Before serving, it checks the
/// reconciler's RBAC permissions and refuses to start with one message naming every missing one.
struct ClusterReconciler {
    var settings: ServeSettings
    var logger: Logger
    var configuration: KubernetesConfiguration
    var reconcilerNamespace: String
    var recipeNamespace: String
    var hooks: ReconcilerApp.Hooks
    var shutsDownOnSignals: Bool

    func run() async throws {
        let base = MetricsExporter()
        let client: KubernetesClient
        do {
            client = try KubernetesClient(configuration: configuration, metricsFactory: base.metrics.factory,
                                          logger: settings.logger("euphrosyne.kubernetes"))
        } catch {
            throw ReconcilerStartError("cannot set up the Kubernetes client: \(error)")
        }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await checkPermissions(client, recipeNamespace: recipeNamespace, reconcilerNamespace: reconcilerNamespace)
            try await serve(client: client, httpClient: httpClient, recipeNamespace: recipeNamespace,
                            reconcilerNamespace: reconcilerNamespace, exporter: base)
        } catch {
            try? await httpClient.shutdown()
            try? await client.shutdown()
            throw error
        }
        try await httpClient.shutdown()
        try await client.shutdown()
    }

    private func checkPermissions(
        _ client: KubernetesClient, recipeNamespace: String, reconcilerNamespace: String
    ) async throws {
        let required = PermissionCheck.required(recipeNamespace: recipeNamespace, reconcilerNamespace: reconcilerNamespace,
                                                leaderElection: settings.leaderElection != nil)
        let missing: [ResourceAttributes]
        do {
            missing = try await PermissionCheck.missing(required, client: client)
        } catch {
            throw ReconcilerStartError("cannot check permissions with the Kubernetes API at \(client.configuration.server): \(error)")
        }
        guard missing.isEmpty else { throw ReconcilerStartError(PermissionCheck.message(for: missing)) }
    }

    private func serve(
        client: KubernetesClient, httpClient: HTTPClient, recipeNamespace: String, reconcilerNamespace: String,
        exporter base: MetricsExporter
    ) async throws {
        let redis = try RedisParts(settings: settings, logger: logger)
        let exporter = base.sampling([redis.sampler(into: base.metrics)])
        let registry = ConfigMapRecipeRegistry(client: client, namespace: reconcilerNamespace,
                                               logger: settings.logger("euphrosyne.registry"))
        let launcher = KubernetesJobLauncher(
            client: client,
            settings: .init(namespace: recipeNamespace, redisUsername: settings.recipeRedisUsername,
                            redisPasswordSecret: settings.recipeRedisSecret),
            logger: settings.logger("euphrosyne.launcher.kubernetes")
        )
        let chats = ChatIntegrations(settings: settings, httpClient: httpClient, registry: registry)
        let coordinator = IncidentCoordinator(
            registry: registry, launcher: launcher, resultSource: redis.results, notifier: chats.notifier,
            store: redis.store,
            configuration: settings.coordinatorConfiguration, metrics: exporter.metrics,
            logger: settings.logger("euphrosyne.coordinator")
        )
        // With several replicas, the coordinator acts only while this one holds the Lease.
        let election = LeaderElectionParts(settings: settings, client: client, namespace: reconcilerNamespace,
                                           coordinator: coordinator, fence: redis.fence, httpClient: httpClient,
                                           metrics: exporter.metrics)
        logger.notice("starting in cluster mode", metadata: [
            "apiServer": "\(client.configuration.server)", "namespace": "\(reconcilerNamespace)",
            "recipeNamespace": "\(recipeNamespace)", "registry": "\(reconcilerNamespace)/\(registry.name)",
            "chats": "\(chats.names)",
            "leaderElection": "\(election.map { "\($0.elector.identity) on lease \(reconcilerNamespace)/\(settings.leaderElectionLease)" } ?? "off")",
        ])
        var readinessChecks: [(name: String, check: Readiness.Check)] = [
            (name: "redis", check: { redis.client.isConnected ? nil : "Redis is unreachable" }),
            (name: "registry", check: { registry.isLoaded ? nil : "the recipe registry is not loaded yet" }),
            (name: "kubernetes", check: { client.isReachable ? nil : "the Kubernetes API server does not answer" }),
        ]
        if let election { readinessChecks.append(election.readinessCheck) }
        let metrics = exporter.metrics
        let leaderGauge: @Sendable () async -> Void
        if let election {
            leaderGauge = election.sampler(into: metrics)
        } else {
            leaderGauge = { metrics.gauge("euphrosyne_leader", 1) }
        }
        try await ReconcilerServices(
            settings: settings, logger: logger, coordinator: coordinator, coordinatorService: election?.coordinatorService,
            chats: chats.integrations,
            readinessChecks: readinessChecks,
            // The elector before the coordinator: it is shut down after the coordinator drained, releasing the
            // Lease only once nothing acts any more.
            servicesBefore: redis.services.map(\.service) + [registry, launcher] + (election.map { [$0.elector] } ?? []),
            exporter: exporter.sampling([leaderGauge]),
            replayCache: RedisReplayCache(client: redis.client),
            onWebhookPort: { port in
                election?.advertise(LeaderForwardingClient.webhookURLKey, port: port)
                await hooks.webhookListening(port)
            },
            onAPIPort: { port in
                election?.advertise(LeaderForwardingClient.apiURLKey, port: port)
                await hooks.apiListening(port)
            },
            forwarding: election?.forwarding, shutsDownOnSignals: shutsDownOnSignals
        ).run()
    }
}
