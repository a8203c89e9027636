import EuphrosyneEngine
import Foundation
import Hummingbird
import Prometheus

/// What `GET /metrics` serves: the Prometheus registry the reconciler's metrics are recorded into, refreshed by
/// the samplers (the coordinator's totals, Redis' reconnects…) just before each scrape.
///
/// Built by the CLI; `metrics` is what the coordinator, the listeners and the Kubernetes client record into.
public final class MetricsExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let metrics: ReconcilerMetrics
    private let samplers: [@Sendable () async -> Void]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                samplers: [@Sendable () async -> Void] = []) {
        self.registry = registry
        self.metrics = ReconcilerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        self.samplers = samplers
    }

    /// A copy with more samplers, sharing the registry.
    public func sampling(_ more: [@Sendable () async -> Void]) -> MetricsExporter {
        MetricsExporter(registry: registry, metrics: metrics, samplers: samplers + more)
    }

    private init(registry: PrometheusCollectorRegistry, metrics: ReconcilerMetrics,
                 samplers: [@Sendable () async -> Void]) {
        self.registry = registry
        self.metrics = metrics
        self.samplers = samplers
    }

    /// The exposition text (Prometheus text format 0.0.4).
    public func render() async -> String {
        for sample in samplers { await sample() }
        return registry.emitToString()
    }
}

enum MetricsRoutes {
    static func add<Context: RequestContext>(to router: Router<Context>, exporter: MetricsExporter) {
        router.get("/metrics") { _, _ in
            let text = await exporter.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
    }
}
