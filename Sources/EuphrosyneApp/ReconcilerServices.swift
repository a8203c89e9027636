import EuphrosyneDashboard
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneServer
import Logging
import ServiceLifecycle

/// What both modes run once their adapters are built: the two listeners around the coordinator, in one
/// `ServiceGroup` that SIGTERM/SIGINT shut down gracefully.
struct ReconcilerServices {
    var settings: ServeSettings
    var logger: Logger
    var coordinator: IncidentCoordinator
    /// What runs the coordinator in the group: the coordinator itself, or, with leader election, the service that
    /// runs it only while this replica leads.
    var coordinatorService: (any Service)?
    /// The chats incidents go to; their routes join the API listener and their services the group.
    var chats: [any ChatIntegration] = []
    /// Readiness checks beside the coordinator's own.
    var readinessChecks: [(name: String, check: Readiness.Check)]
    /// Services the coordinator depends on (Redis, informers), started before it and stopped after it.
    var servicesBefore: [any Service]
    /// Where `/metrics` comes from; the coordinator records into `exporter.metrics`.
    var exporter: MetricsExporter
    /// Where signed API requests are remembered: Redis when configured (shared by every replica), else memory.
    var replayCache: any ReplayCache = InMemoryReplayCache()
    /// Told the webhook listener's port once it listens.
    var onWebhookPort: @Sendable (Int) async -> Void = { _ in }
    /// Told the API listener's port once it listens.
    var onAPIPort: @Sendable (Int) async -> Void = { _ in }
    /// With leader election and an advertised address: how a replica standing by passes leader-only requests on.
    var forwarding: LeaderForwarding?
    /// Whether SIGTERM and SIGINT shut the group down gracefully (`serve`), rather than only the group it runs in.
    var shutsDownOnSignals = true

    /// How long a graceful shutdown may take beyond the coordinator's drain before the group is cancelled.
    static let shutdownMargin = Duration.seconds(10)
    /// How long after that the process is ended if it is still there (`ShutdownWatchdog`): within Kubernetes' 40 s
    /// grace period with the default 25 s drain.
    static let watchdogMargin = Duration.seconds(3)

    func run() async throws {
        let coordinator = self.coordinator
        let metrics = exporter.metrics
        let exporter = self.exporter.sampling([{ metrics.export(coordinator.statistics) }])
        let accepting: Readiness.Check = { coordinator.isAcceptingWork ? nil : "shutting down" }
        let readiness = Readiness([(name: "coordinator", check: accepting)] + readinessChecks)
        let logger = self.logger
        let onWebhookPort = self.onWebhookPort
        let onAPIPort = self.onAPIPort
        let host = settings.host
        let attachments = chats.map { chat in
            chat.attachments(approvals: coordinator, logger: settings.logger("euphrosyne.\(chat.name).approvals"))
        }
        // The web dashboard (/ui/): its pages open, its data behind the API's authentication.
        let dashboard = Dashboard(coordinator: coordinator, forwarding: forwarding)
        let webhook = Listeners.webhook(
            coordinator: coordinator, readiness: readiness, host: settings.host, port: settings.webhookPort,
            logger: settings.logger("euphrosyne.webhook"), exporter: exporter, credentials: settings.webhookCredentials,
            limits: settings.listenerLimits, forwarding: forwarding,
            onServerRunning: { port in
                await onWebhookPort(port)
                logger.notice("webhook listener ready", metadata: ["host": "\(host)", "port": "\(port)"])
            }
        )
        let api = Listeners.api(
            coordinator: coordinator, readiness: readiness, host: settings.host, port: settings.apiPort,
            logger: settings.logger("euphrosyne.api"), exporter: exporter, credentials: settings.apiCredentials,
            replayCache: replayCache, routes: attachments.flatMap(\.routes) + [dashboard.pages],
            protectedRoutes: [dashboard.data],
            limits: settings.listenerLimits, forwarding: forwarding,
            onServerRunning: { port in
                await onAPIPort(port)
                logger.notice("API listener ready", metadata: ["host": "\(host)", "port": "\(port)"])
            }
        )
        // Shutdown runs in reverse: the API stops first, the coordinator drains while the webhook listener (and
        // Redis) still bring the results of running recipes, then the webhook listener and the rest stop.
        if settings.apiCredentials.isOpen {
            logger.warning("the API listener is open: anyone who reaches it can approve actions; set API_TOKENS_FILE or API_HMAC_KEYS_FILE")
        } else {
            // Names only: never the secrets.
            logger.notice("API authentication on", metadata: [
                "tokens": "\(settings.apiCredentials.bearerTokens.keys.sorted().joined(separator: ","))",
                "hmacKeys": "\(settings.apiCredentials.hmacKeys.keys.sorted().joined(separator: ","))",
            ])
        }
        if settings.webhookCredentials.isOpen {
            logger.warning("the webhook listener is open: anyone who reaches it can open incidents and run debugging recipes; set WEBHOOK_TOKENS_FILE or WEBHOOK_BASIC_AUTH_FILE (and the same credentials in Alertmanager's http_config)")
        }
        // A service that fails (a replica whose leadership lapsed, say) shuts the group down gracefully rather than
        // cancelling it: the listeners then answer the connections they accepted already. Cancelled, a listener
        // would drop accepted connections it had not yet served, which SwiftNIO treats as a programming error and
        // traps on (swift-nio#2637).
        var services: [any Service] = servicesBefore + [webhook, coordinatorService ?? coordinator]
            + attachments.flatMap(\.services) + [api]
        if shutsDownOnSignals {
            // Last, so the first told of a shutdown: it arms at once.
            services.append(ShutdownWatchdog(limit: settings.drainTimeout + Self.shutdownMargin + Self.watchdogMargin,
                                             logger: logger))
        }
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: shutsDownOnSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
        // The coordinator's drain, plus a little for the listeners and the rest; then what is left is cancelled, so
        // a shutdown (or a replica that stopped leading) ends in bounded time, before Kubernetes' grace period.
        configuration.maximumGracefulShutdownDuration = settings.drainTimeout + Self.shutdownMargin
        try await ServiceGroup(configuration: configuration).run()
    }
}
