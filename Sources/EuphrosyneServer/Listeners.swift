import EuphrosyneEngine
import Hummingbird
import Logging
import NIOCore

/// Builds the reconciler's two HTTP listeners as Hummingbird applications (each a `Service`).
///
/// The CLI puts both in its `ServiceGroup`; tests build them on port 0 and learn the bound port from
/// `onServerRunning`.
public enum Listeners {
    /// The webhook listener: `POST /webhook`, the local-mode result callback, health, `/openapi.yaml`.
    public static func webhookRouter(
        coordinator: IncidentCoordinator, readiness: Readiness, exporter: MetricsExporter? = nil,
        credentials: WebhookCredentials = WebhookCredentials()
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(listener: "webhook", metrics: coordinator.metrics))
        router.add(middleware: WebhookAuthenticationMiddleware(credentials: credentials))
        WebhookRoutes.add(to: router, coordinator: coordinator)
        HealthRoutes.add(to: router, readiness: readiness)
        OpenAPIRoutes.add(to: router)
        if let exporter { MetricsRoutes.add(to: router, exporter: exporter) }
        return router
    }

    /// The API listener: approvals, status, incidents, health, `/openapi.yaml`.
    public static func apiRouter(
        coordinator: IncidentCoordinator, readiness: Readiness, exporter: MetricsExporter? = nil,
        credentials: APICredentials = APICredentials(), webex: WebexApprovals? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(listener: "api", metrics: coordinator.metrics))
        router.add(middleware: APIAuthenticationMiddleware(credentials: credentials))
        APIRoutes.add(to: router, coordinator: coordinator)
        if let webex { WebexRoutes.add(to: router, approvals: webex) }
        HealthRoutes.add(to: router, readiness: readiness)
        OpenAPIRoutes.add(to: router)
        if let exporter { MetricsRoutes.add(to: router, exporter: exporter) }
        return router
    }

    public static func webhook(
        coordinator: IncidentCoordinator, readiness: Readiness, host: String, port: Int, logger: Logger,
        exporter: MetricsExporter? = nil, credentials: WebhookCredentials = WebhookCredentials(),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        application(webhookRouter(coordinator: coordinator, readiness: readiness, exporter: exporter,
                                  credentials: credentials),
                    name: "euphrosyne-webhook",
                    host: host, port: port, logger: logger, onServerRunning: onServerRunning)
    }

    public static func api(
        coordinator: IncidentCoordinator, readiness: Readiness, host: String, port: Int, logger: Logger,
        exporter: MetricsExporter? = nil, credentials: APICredentials = APICredentials(), webex: WebexApprovals? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        application(apiRouter(coordinator: coordinator, readiness: readiness, exporter: exporter,
                              credentials: credentials, webex: webex),
                    name: "euphrosyne-api",
                    host: host, port: port, logger: logger, onServerRunning: onServerRunning)
    }

    private static func application(
        _ router: Router<BasicRequestContext>, name: String, host: String, port: Int, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: name),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
