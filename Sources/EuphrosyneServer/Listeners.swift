import EuphrosyneEngine
import EuphrosynePorts
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// How much a listener lets clients hold (`--read-timeout`, `--max-connections`).
public struct ListenerLimits: Sendable {
    /// How long a request head may take to arrive after the connection opened or the previous answer ended (so
    /// idle keep-alive connections close after it too), and its body after its head.
    public var readTimeout: Duration
    /// Connections held open at once; further ones wait in the accept backlog until one closes.
    public var maxConnections: Int

    public init(readTimeout: Duration = .seconds(30), maxConnections: Int = 1_024) {
        self.readTimeout = readTimeout
        self.maxConnections = maxConnections
    }
}

/// Builds the reconciler's two HTTP listeners as Hummingbird applications (each a `Service`).
///
/// The CLI puts both in its `ServiceGroup`; tests build them on port 0 and learn the bound port from
/// `onServerRunning`.
public enum Listeners {
    /// The webhook listener: `POST /webhook`, the local-mode result callback, health, `/openapi.yaml`.
    public static func webhookRouter(
        coordinator: IncidentCoordinator, readiness: Readiness, exporter: MetricsExporter? = nil,
        credentials: WebhookCredentials = WebhookCredentials(), forwarding: LeaderForwarding? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(listener: "webhook", metrics: coordinator.metrics))
        // Authentication belongs to the route, not to a path string: the group's middleware runs for whatever
        // spelling of the path the router matched to `/webhook` (`/webhook/`, `//webhook`).
        // A replica standing by passes alerts to the leader before authenticating anything: the leader does.
        let webhookGroup = router.group()
        if let forwarding { webhookGroup.add(middleware: LeaderForwardingMiddleware(forwarding: forwarding, listener: .webhook)) }
        WebhookRoutes.addWebhook(
            to: webhookGroup.add(middleware: WebhookAuthenticationMiddleware(credentials: credentials)),
            coordinator: coordinator
        )
        WebhookRoutes.addResultCallback(to: router, coordinator: coordinator)
        HealthRoutes.add(to: router, readiness: readiness)
        OpenAPIRoutes.add(to: router)
        if let exporter { MetricsRoutes.add(to: router, exporter: exporter) }
        return router
    }

    /// The API listener: approvals, status, incidents, health, `/openapi.yaml`, and the integrations' `routes`.
    public static func apiRouter(
        coordinator: IncidentCoordinator, readiness: Readiness, exporter: MetricsExporter? = nil,
        credentials: APICredentials = APICredentials(), replayCache: any ReplayCache = InMemoryReplayCache(),
        routes: [any ListenerRoutes] = [], protectedRoutes: [any ListenerRoutes] = [], forwarding: LeaderForwarding? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(listener: "api", metrics: coordinator.metrics))
        // Every route of APIRoutes is behind authentication, whatever spelling of its path matched; the routes
        // registered on `router` itself are the open ones: probes, metrics, the spec, and the integrations'
        // `routes` (the Webex callback, which Webex signs instead).
        // Approvals and /api/status go to the leader, unauthenticated here (the leader checks them, once); reads
        // are answered by any replica.
        let apiGroup = router.group()
        if let forwarding { apiGroup.add(middleware: LeaderForwardingMiddleware(forwarding: forwarding, listener: .api)) }
        let authenticated = apiGroup.add(middleware: APIAuthenticationMiddleware(credentials: credentials, replayCache: replayCache))
        APIRoutes.add(to: authenticated, coordinator: coordinator)
        // Routes of others that read or change what the API does (the dashboard's data): the same authentication.
        let others = router.group()
        if let forwarding { others.add(middleware: LeaderForwardingMiddleware(forwarding: forwarding, listener: .api)) }
        let authenticatedOthers = others.add(middleware: APIAuthenticationMiddleware(credentials: credentials, replayCache: replayCache))
        for extra in protectedRoutes { extra.add(to: authenticatedOthers) }
        // The integrations' callbacks (a chat's button presses) change things too: the leader takes them.
        let integrations = router.group()
        if let forwarding { integrations.add(middleware: LeaderForwardingMiddleware(forwarding: forwarding, listener: .api)) }
        for extra in routes { extra.add(to: integrations) }
        HealthRoutes.add(to: router, readiness: readiness)
        OpenAPIRoutes.add(to: router)
        if let exporter { MetricsRoutes.add(to: router, exporter: exporter) }
        return router
    }

    public static func webhook(
        coordinator: IncidentCoordinator, readiness: Readiness, host: String, port: Int, logger: Logger,
        exporter: MetricsExporter? = nil, credentials: WebhookCredentials = WebhookCredentials(),
        limits: ListenerLimits = ListenerLimits(), forwarding: LeaderForwarding? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        application(webhookRouter(coordinator: coordinator, readiness: readiness, exporter: exporter,
                                  credentials: credentials, forwarding: forwarding),
                    name: "webhook", host: host, port: port, limits: limits, metrics: coordinator.metrics,
                    logger: logger, onServerRunning: onServerRunning)
    }

    public static func api(
        coordinator: IncidentCoordinator, readiness: Readiness, host: String, port: Int, logger: Logger,
        exporter: MetricsExporter? = nil, credentials: APICredentials = APICredentials(),
        replayCache: any ReplayCache = InMemoryReplayCache(), routes: [any ListenerRoutes] = [],
        protectedRoutes: [any ListenerRoutes] = [],
        limits: ListenerLimits = ListenerLimits(), forwarding: LeaderForwarding? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        application(apiRouter(coordinator: coordinator, readiness: readiness, exporter: exporter,
                              credentials: credentials, replayCache: replayCache, routes: routes,
                              protectedRoutes: protectedRoutes, forwarding: forwarding),
                    name: "api", host: host, port: port, limits: limits, metrics: coordinator.metrics,
                    logger: logger, onServerRunning: onServerRunning)
    }

    /// One listener: the router behind a `ConnectionGuardHandler` per connection (read deadlines, the
    /// announced-body limit, JSON refusals of malformed HTTP) and a cap on connections held at once.
    static func application(
        _ router: Router<BasicRequestContext>, name: String, host: String, port: Int, limits: ListenerLimits,
        metrics: ReconcilerMetrics, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let readTimeout = TimeAmount.nanoseconds(
            limits.readTimeout.components.seconds * 1_000_000_000 + limits.readTimeout.components.attoseconds / 1_000_000_000
        )
        let guardLogger = logger
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [
            ConnectionGuardHandler(readTimeout: readTimeout, maxBodyBytes: RequestBody.limit, logger: guardLogger) { refusal in
                metrics.increment("euphrosyne_http_refused_total", [("listener", name), ("reason", refusal.reason)])
            },
        ])
        return Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "euphrosyne-\(name)",
                availableConnectionsDelegate: ConnectionLimit(maximum: limits.maxConnections, listener: name,
                                                              metrics: metrics)
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
