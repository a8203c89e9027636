import CoreMetrics
import EuphrosyneCore
import Foundation
import Synchronization

/// The reconciler's metrics, recorded through swift-metrics with an explicit factory: swift-prometheus's in
/// `serve` (so `/metrics` renders them), a no-op one by default (tests use swift-metrics' test backend).
///
/// Typed: every metric the engine records has a name here, and each counter is made once — the fixed ones when
/// this value is made, the labelled ones on their first use — then recorded where the event happens (a
/// notification taken in, an incident opened, a run ending, an approval). Levels (queue depth, runs in flight, open
/// incidents) are gauges set when `/metrics` is scraped. Counts that live in a client of ours without a metrics
/// dependency (Redis reconnects) are moved up to their total at scrape time (`exportTotal`).
public final class ReconcilerMetrics: Sendable {
    public let factory: any MetricsFactory

    /// Why `/webhook` refused a notification, as `euphrosyne_intake_refused_total{reason}` names it.
    public enum IntakeRefusal: String, Sendable, CaseIterable {
        case queueFull = "queue_full"
        case rateLimited = "rate_limited"
        case maxOpenIncidents = "max_open_incidents"
        /// Another replica leads (leader election).
        case notLeading = "not_leader"
    }

    public let notificationsReceived: Counter
    public let incidentsOpened: Counter
    public let notificationsDeduplicated: Counter
    public let incidentsResolved: Counter
    public let resolvedWithoutIncident: Counter
    public let runsCancelledOnResolve: Counter
    public let runsForNewAlerts: Counter
    private let intakeRefusals: [IntakeRefusal: Counter]

    private struct Key: Hashable {
        var label: String
        var dimensions: [String]
    }

    /// Labelled metrics, made on their first use and kept.
    private let counters = Mutex<[Key: Counter]>([:])
    private let gauges = Mutex<[Key: Gauge]>([:])
    private let timers = Mutex<[Key: CoreMetrics.Timer]>([:])
    /// Last exported value of each total kept elsewhere, so a scrape adds only what happened since the last one.
    private let exported = Mutex<[Key: Int]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        func counter(_ label: String) -> Counter { Counter(label: label, dimensions: [], factory: factory) }
        notificationsReceived = counter("euphrosyne_notifications_received_total")
        incidentsOpened = counter("euphrosyne_incidents_opened_total")
        notificationsDeduplicated = counter("euphrosyne_notifications_deduplicated_total")
        incidentsResolved = counter("euphrosyne_incidents_resolved_total")
        resolvedWithoutIncident = counter("euphrosyne_resolved_without_incident_total")
        runsCancelledOnResolve = counter("euphrosyne_runs_cancelled_on_resolve_total")
        runsForNewAlerts = counter("euphrosyne_runs_for_new_alerts_total")
        intakeRefusals = Dictionary(uniqueKeysWithValues: IntakeRefusal.allCases.map { reason in
            (reason, Counter(label: "euphrosyne_intake_refused_total", dimensions: [("reason", reason.rawValue)],
                             factory: factory))
        })
    }

    public func intakeRefused(_ reason: IntakeRefusal) {
        intakeRefusals[reason]?.increment()
    }

    /// The counter `label` with these dimensions, made once.
    public func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Counter {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    public func increment(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        counter(label, dimensions).increment(by: amount)
    }

    public func gauge(_ label: String, _ value: Double, _ dimensions: [(String, String)] = []) {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        gauges.withLock { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = Gauge(label: label, dimensions: dimensions, factory: factory)
            gauges[key] = gauge
            return gauge
        }.record(value)
    }

    public func seconds(_ label: String, _ duration: TimeInterval, _ dimensions: [(String, String)] = []) {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory)
            timers[key] = timer
            return timer
        }.recordNanoseconds(Int64(max(0, duration) * 1_000_000_000))
    }

    /// Moves a counter up to `total`, a count kept since the process started by something that records no metrics
    /// itself (the Redis client, the run cap).
    public func exportTotal(_ label: String, _ dimensions: [(String, String)] = [], total: Int) {
        let key = Key(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
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

    /// The coordinator's levels, at scrape time.
    public func export(_ levels: CoordinatorStatistics) {
        exportTotal("euphrosyne_run_slot_waits_total", total: levels.runSlots.waits)
        gauge("euphrosyne_open_incidents", Double(levels.openIncidents))
        gauge("euphrosyne_intake_queue_depth", Double(levels.intakeQueueDepth))
        gauge("euphrosyne_runs_in_flight", Double(levels.runSlots.inUse))
        gauge("euphrosyne_runs_waiting", Double(levels.runSlots.waiting))
        gauge("euphrosyne_runs_capacity", Double(levels.runSlots.capacity))
    }
}
