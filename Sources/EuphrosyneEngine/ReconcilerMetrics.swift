import CoreMetrics
import EuphrosyneCore
import Foundation
import Synchronization

/// The reconciler's metrics, recorded through swift-metrics with an explicit factory: swift-prometheus's in
/// `serve` (so `/metrics` renders them), a no-op one by default (tests, embedding).
///
/// Events are recorded where they happen (a run ending, a notification sent, an approval); totals the engine
/// already keeps (intake, refusals, the run cap, Redis) are exported when `/metrics` is scraped, through
/// `export(_:)`.
public final class ReconcilerMetrics: Sendable {
    public let factory: any MetricsFactory
    /// Last exported value of each total, so a scrape adds only what happened since the previous one.
    private let exported = Mutex<[String: Int]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    public func increment(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        Counter(label: label, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    public func gauge(_ label: String, _ value: Double, _ dimensions: [(String, String)] = []) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }

    public func seconds(_ label: String, _ duration: TimeInterval, _ dimensions: [(String, String)] = []) {
        Timer(label: label, dimensions: dimensions, factory: factory)
            .recordNanoseconds(Int64(max(0, duration) * 1_000_000_000))
    }

    /// Moves a counter up to `total`, a count kept elsewhere since the process started.
    public func exportTotal(_ label: String, _ dimensions: [(String, String)] = [], total: Int) {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = exported.withLock { last -> Int in
            let delta = total - (last[key] ?? 0)
            if delta > 0 { last[key] = total }
            return delta
        }
        if delta > 0 { increment(label, dimensions, by: delta) }
    }

    // MARK: - What the engine records

    /// A run reached its final state.
    func runFinished(_ run: RecipeRun) {
        let dimensions = [("recipe", run.recipe), ("kind", run.kind.rawValue), ("outcome", run.state.rawValue)]
        increment("euphrosyne_recipe_runs_total", dimensions)
        if let start = run.startedAt, let end = run.finishedAt {
            seconds("euphrosyne_recipe_run_duration_seconds", end.timeIntervalSince(start), [("recipe", run.recipe)])
        }
    }

    /// The coordinator's own totals and levels, at scrape time.
    public func export(_ statistics: CoordinatorStatistics) {
        exportTotal("euphrosyne_notifications_received_total", total: statistics.notificationsReceived)
        exportTotal("euphrosyne_incidents_opened_total", total: statistics.incidentsOpened)
        exportTotal("euphrosyne_notifications_deduplicated_total", total: statistics.notificationsDeduplicated)
        exportTotal("euphrosyne_incidents_resolved_total", total: statistics.incidentsResolved)
        exportTotal("euphrosyne_resolved_without_incident_total", total: statistics.resolvedWithoutIncident)
        exportTotal("euphrosyne_intake_refused_total", [("reason", "queue_full")], total: statistics.refusedQueueFull)
        exportTotal("euphrosyne_intake_refused_total", [("reason", "rate_limited")], total: statistics.refusedRateLimited)
        exportTotal("euphrosyne_intake_refused_total", [("reason", "max_open_incidents")],
                    total: statistics.refusedTooManyOpen)
        gauge("euphrosyne_open_incidents", Double(statistics.openIncidents))
        exportTotal("euphrosyne_runs_cancelled_on_resolve_total", total: statistics.runsCancelledOnResolve)
        exportTotal("euphrosyne_runs_for_new_alerts_total", total: statistics.runsForNewAlerts)
        exportTotal("euphrosyne_run_slot_waits_total", total: statistics.runSlots.waits)
        gauge("euphrosyne_intake_queue_depth", Double(statistics.intakeQueueDepth))
        gauge("euphrosyne_runs_in_flight", Double(statistics.runSlots.inUse))
        gauge("euphrosyne_runs_waiting", Double(statistics.runSlots.waiting))
        gauge("euphrosyne_runs_capacity", Double(statistics.runSlots.capacity))
    }
}
