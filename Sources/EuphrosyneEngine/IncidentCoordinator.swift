import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Drives every incident: takes notifications, results, run endings, approvals and timers to the incident table,
/// and carries out the effects the table decides — saving, launching runs, notifying, cleaning up.
///
/// The engine's centre. Decisions are the `IncidentTable`'s, taken under a lock on the caller's own task (a webhook
/// request answers without a hop to another executor); only I/O is awaited. Work that outlives the caller — recipe
/// runs, notifications, clean-ups — runs as children of `run()` (a `Service`), in two task groups, so a graceful
/// shutdown refuses new work, waits for the runs and then the rest with a deadline, and stops what is left.
/// It never knows the mode: launcher, result source, notifier, store and registry are ports.
public final class IncidentCoordinator: Service, Sendable {
    public typealias Work = @Sendable () async -> Void

    let registry: any RecipeRegistry
    let launcher: any RecipeLauncher
    let resultSource: any ResultSource
    let notifier: any Notifier
    let store: any IncidentStore
    public let configuration: CoordinatorConfiguration
    /// What the coordinator records for `/metrics`.
    public let metrics: ReconcilerMetrics
    let logger: Logger
    let now: @Sendable () -> Date
    let clock: any Clock<Duration>

    let table: Mutex<IncidentTable>
    /// The cap on recipe runs in flight across all incidents.
    let runSlots: RunSlots
    /// Stops runs the table cancelled (the alert resolved), by incident and run id.
    let runCancellations = Mutex<[UUID: [Int: RunCancellation]]>([:])
    /// Launches that have not created their run's Job (or process) yet; an incident's clean-ups wait for them.
    let launchesInFlight = LaunchesInFlight()
    /// Incident cards on their way to the chats that follow incidents, one sender per incident.
    let cards = CardMailbox()
    /// Every saved change, for watchers such as the dashboard.
    public let changes = IncidentChanges()
    /// Notifications of a group whose incident is being opened wait here for the opening to be decided.
    let openingWaiters = Mutex<[UUID: [CheckedContinuation<Void, Never>]]>([:])
    let deadlines = DeadlineScheduler()
    /// Notifications being taken in right now (the intake queue).
    let intakeDepth = Atomic<Int>(0)
    /// Set once the drain gave up waiting: runs ending from now on were stopped by the shutdown itself.
    let stopping = Atomic<Bool>(false)

    /// Recipe runs (and runs followed again after a restart): drained first.
    let runs: (stream: AsyncStream<Work>, continuation: AsyncStream<Work>.Continuation)
    /// Notifications and clean-ups: drained after the runs, whose endings add to them.
    let tasks: (stream: AsyncStream<Work>, continuation: AsyncStream<Work>.Continuation)

    public init(
        registry: any RecipeRegistry, launcher: any RecipeLauncher, resultSource: any ResultSource,
        notifier: any Notifier, store: any IncidentStore, configuration: CoordinatorConfiguration = .init(),
        metrics: ReconcilerMetrics = ReconcilerMetrics(),
        logger: Logger = Logger(label: "euphrosyne.coordinator"), now: @escaping @Sendable () -> Date = { Date() },
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.metrics = metrics
        self.registry = registry
        self.launcher = launcher
        self.resultSource = resultSource
        self.notifier = notifier
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.clock = clock
        self.table = Mutex(IncidentTable(settings: configuration.tableSettings))
        self.runSlots = RunSlots(capacity: configuration.maxRunsInFlight)
        runs = AsyncStream.makeStream(of: Work.self)
        tasks = AsyncStream.makeStream(of: Work.self)
    }

    // MARK: - Service

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.resumeOpenIncidents() }
            group.addTask {
                await self.deadlines.run(clock: self.clock, now: self.now) { id in await self.deadlinePassed(id) }
            }
            if let results = resultSource.incomingResults {
                group.addTask {
                    for await result in results { _ = await self.deliver(result, via: .published) }
                }
            }
            await runUntilDrained()
            // Drained (or out of time): stop the timers, the resume, the result stream.
            group.cancelAll()
        }
    }

    /// Hosts the runs and the tasks until a graceful shutdown has drained them (or the drain timeout passed, and
    /// what was left is cancelled).
    private func runUntilDrained() async {
        let (runsDone, runsFinished) = AsyncStream.makeStream(of: Never.self)
        let (tasksDone, tasksFinished) = AsyncStream.makeStream(of: Never.self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await Self.consume(self.runs.stream)
                runsFinished.finish()
            }
            group.addTask {
                await Self.consume(self.tasks.stream)
                tasksFinished.finish()
            }
            do {
                try await gracefulShutdown()
            } catch {
                // Cancelled without a graceful shutdown: stop everything now.
                stopping.store(true, ordering: .relaxed)
                group.cancelAll()
                return
            }
            table.withLock { $0.stopAccepting() }
            logger.info("draining", metadata: ["runs": "\(runSlots.statistics.inUse)"])
            // No run can start any more; the ones under way finish, and their endings may still notify. Then no
            // task can start either; the ones under way finish. All within one drain timeout, on the clock.
            runs.continuation.finish()
            let tasks = self.tasks
            let drained = await Self.finishes(within: configuration.drainTimeout, on: clock) {
                for await _ in runsDone {}
                tasks.continuation.finish()
                for await _ in tasksDone {}
            }
            tasks.continuation.finish()
            if !drained {
                logger.warning(store.isDurable
                    ? "drain timeout reached; leaving the remaining runs to the next start"
                    : "drain timeout reached; stopping what is still running")
            }
            stopping.store(true, ordering: .relaxed)
            group.cancelAll()
        }
    }

    /// Runs each piece of work as a child task until the stream ends, then waits for the children.
    private static func consume(_ stream: AsyncStream<Work>) async {
        await withDiscardingTaskGroup { group in
            for await work in stream { group.addTask { await work() } }
        }
    }

    /// Whether `work` finished within `timeout` on `clock` (it is cancelled if not).
    private static func finishes(
        within timeout: Duration, on clock: any Clock<Duration>, _ work: @escaping @Sendable () async -> Void
    ) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await work()
                return !Task.isCancelled
            }
            group.addTask {
                do { try await clock.sleep(for: timeout) } catch { return true }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    func spawnRun(_ work: @escaping Work) {
        runs.continuation.yield(work)
    }

    func spawnTask(_ work: @escaping Work) {
        tasks.continuation.yield(work)
    }

    // MARK: - Intake

    /// Opens an incident for an alert notification (or returns the open one it joined) and starts its debugging
    /// recipes.
    public func openIncident(payload: [String: JSONValue]) async throws(CoordinatorError) -> Incident {
        let reception = try await receive(payload: payload)
        guard let incident = reception.incident else {
            if case .ignored(let reason) = reception { throw .notificationIgnored(reason) }
            throw .notificationIgnored("the notification opened no incident")
        }
        return incident
    }

    /// Takes an alert notification, through the bounded intake queue.
    ///
    /// - A notification of a group with an open incident (same `identityKey`, e.g. Alertmanager re-sending it)
    ///   refreshes that incident; alerts new to it start the recipes that ask for it (`runForNewAlerts`).
    /// - One saying the group resolved resolves the incident: its debugging runs stop, approvals are refused.
    /// - Any other opens a new incident, unless its alert name used up its hourly quota (`.rateLimited`) or
    ///   `maxOpenIncidents` are open (`.tooManyOpenIncidents`).
    /// - When `intakeQueueCapacity` notifications are being taken in already, it is refused (`.intakeQueueFull`)
    ///   so the sender retries.
    public func receive(payload: [String: JSONValue]) async throws(CoordinatorError) -> Reception {
        metrics.notificationsReceived.increment()
        // A place in the queue, taken with compare-and-exchange: no lock on the hottest path.
        var depth = intakeDepth.load(ordering: .relaxed)
        while true {
            guard depth < configuration.intakeQueueCapacity else {
                metrics.intakeRefused(.queueFull)
                throw .intakeQueueFull(retryAfterSeconds: 5)
            }
            let (taken, current) = intakeDepth.compareExchange(
                expected: depth, desired: depth + 1, ordering: .acquiringAndReleasing)
            if taken { break }
            depth = current
        }
        defer { intakeDepth.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        // Decoded once here; the incident, the recipe selection and the log all use it.
        let alert = AlertNotification(raw: payload)
        let identity = alert.identityKey
        while true {
            let catalog = await registry.catalog()
            let decision = table.withLock { table in
                table.receive(alert: alert, identity: identity, catalog: catalog, at: now()) {
                    Self.makeIdentity()
                }
            }
            switch decision {
            case .waitForOpening(let opening):
                await waitForOpening(opening)
            case .opening(let incident, let effects):
                return try await open(incident, alert: alert, effects: effects)
            case .joined(let incident, let started, let effects):
                metrics.notificationsDeduplicated.increment()
                if !started.isEmpty { metrics.runsForNewAlerts.increment(by: started.count) }
                await perform(effects)
                // Debug, not info: Alertmanager re-sends every group at each repeat_interval, and a storm of
                // re-sends would otherwise be a storm of log lines. (Checked first: this is the hottest path.)
                if logger.logLevel <= .debug {
                    logger(for: incident.id).debug("notification joined its open incident", metadata: [
                        "notifications": "\(incident.notificationCount)", "startedForNewAlerts": "\(started.joined(separator: ","))",
                    ])
                }
                return .joined(incident, started: started)
            case .resolved(let incident, let effects):
                metrics.incidentsResolved.increment()
                await perform(effects)
                logger(for: incident.id).info("alert resolved; incident resolved", metadata: [
                    "cancelledRuns": "\(effects.filter { if case .cancelRun = $0 { true } else { false } }.count)",
                ])
                return .resolved(incident)
            case .ignored(let reason):
                metrics.resolvedWithoutIncident.increment()
                logger.info("resolved notification for a group with no open incident", metadata: ["alert": "\(alert.summary)"])
                return .ignored(reason)
            case .refused(let refusal):
                throw refused(refusal, alert: alert)
            }
        }
    }

    private func refused(_ refusal: IncidentTable.IntakeRefusal, alert: AlertNotification) -> CoordinatorError {
        switch refusal {
        case .shuttingDown:
            return .shuttingDown
        case .standingBy:
            metrics.intakeRefused(.notLeading)
            return .notLeading
        case .rateLimited(let name, let retryAfter):
            metrics.intakeRefused(.rateLimited)
            logger.warning("alert name over its hourly incident limit; notification refused", metadata: [
                "alertname": "\(name)", "retryAfter": "\(retryAfter)s",
            ])
            return .rateLimited(alertName: name, retryAfterSeconds: retryAfter)
        case .tooManyOpenIncidents(let limit, let retryAfter):
            metrics.intakeRefused(.maxOpenIncidents)
            logger.warning("too many open incidents; notification of a new group refused", metadata: [
                "limit": "\(limit)", "alert": "\(alert.summary)",
            ])
            return .tooManyOpenIncidents(limit: limit, retryAfterSeconds: retryAfter)
        }
    }

    /// Opens a new incident: watches it, claims its group in the store, then lets its first actions go. Another
    /// process may hold the group already; the notification then joins that incident.
    private func open(_ incident: Incident, alert: AlertNotification, effects: [IncidentTable.Effect]) async throws(CoordinatorError) -> Reception {
        defer { finishOpening(incident.id) }
        let id = incident.id
        let holder: Incident?
        do {
            for effect in effects where effect != .claim(incident) { await perform([effect]) }
            holder = try await claim(incident)
        } catch {
            let abandoned = table.withLock { $0.claimRefused(id) }
            await perform(abandoned)
            logger(for: id).error("could not save the new incident", metadata: ["error": "\(error)"])
            throw .storeUnavailable("\(error)")
        }
        if let holder {
            metrics.notificationsDeduplicated.increment()
            let abandoned = table.withLock { $0.claimRefused(id) }
            await perform(abandoned)
            logger(for: holder.id).info("notification belongs to an incident another reconciler holds", metadata: [
                "state": "\(holder.state.rawValue)",
            ])
            return .joined(holder, started: [])
        }
        let (opened, held) = table.withLock { $0.claimed(id) }
        metrics.incidentsOpened.increment()
        if incident.runs.isEmpty {
            // It closes at once (its release logs nothing more): one line says both.
            logger(for: id).info("incident opened and closed", metadata: [
                "alert": "\(alert.summary)", "state": "\((opened ?? incident).state.rawValue)",
                "reason": "\((opened ?? incident).closedReason ?? "")",
            ])
        } else {
            logger(for: id).info("incident opened", metadata: [
                "alert": "\(alert.summary)", "recipes": "\(incident.runs.map(\.recipe).joined(separator: ","))",
            ])
        }
        await perform(held)
        // Its first card: the chats show the incident while it is being diagnosed.
        offerCard(opened ?? incident)
        return .opened(opened ?? incident)
    }

    /// Saves a new incident as the holder of its notification group. Returns the open incident that holds the
    /// group already (another replica's, or one of ours not resumed yet), saving nothing; a holder whose incident
    /// is gone or closed is taken over.
    private func claim(_ incident: Incident) async throws -> Incident? {
        guard let holderID = try await store.create(incident, replacing: nil) else { return nil }
        if let holder = try await store.incident(holderID), !holder.state.isClosed { return holder }
        guard let newHolderID = try await store.create(incident, replacing: holderID) else { return nil }
        guard let newHolder = try await store.incident(newHolderID) else {
            throw CoordinatorError.storeUnavailable("another reconciler is opening an incident for the same group")
        }
        return newHolder
    }

    private func waitForOpening(_ id: UUID) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stillOpening = table.withLock { $0.isOpening(id) }
            let registered = stillOpening && openingWaiters.withLock { waiters in
                // Checked again under this lock: `finishOpening` takes it after the table says the opening ended.
                guard table.withLock({ $0.isOpening(id) }) else { return false }
                waiters[id, default: []].append(continuation)
                return true
            }
            if !registered { continuation.resume() }
        }
    }

    /// Lets the notifications that waited for this opening go on.
    private func finishOpening(_ id: UUID) {
        for waiter in openingWaiters.withLock({ $0.removeValue(forKey: id) }) ?? [] { waiter.resume() }
    }

    /// The coordinator's levels now (the run cap's figures included).
    public var statistics: CoordinatorStatistics {
        var statistics = CoordinatorStatistics(runSlots: runSlots.statistics)
        statistics.intakeQueueDepth = intakeDepth.load(ordering: .relaxed)
        statistics.openIncidents = table.withLock { $0.live.count }
        return statistics
    }

    // MARK: - Queries

    public func incident(_ id: UUID) async throws(CoordinatorError) -> Incident? {
        if let incident = table.withLock({ $0.incident(id) }) { return incident }
        do { return try await store.incident(id) } catch { throw .storeUnavailable("\(error)") }
    }

    public func incidents(offset: Int, limit: Int) async throws(CoordinatorError) -> IncidentPage {
        do { return try await store.list(offset: offset, limit: limit) } catch { throw .storeUnavailable("\(error)") }
    }

    /// The Job states of one incident's runs, or of every open incident's runs; also pushed to the notifier.
    public func jobStatuses(incident id: UUID?) async throws(CoordinatorError) -> [JobStatus] {
        // Pushing them to chat is the leader's to do.
        guard !isStandingBy else { throw .notLeading }
        let incidents: [Incident]
        if let id {
            guard let incident = try await incident(id) else { throw .incidentNotFound(id) }
            incidents = [incident]
        } else {
            incidents = table.withLock { $0.liveIncidents }
        }
        var statuses: [JobStatus] = []
        for incident in incidents {
            // The cluster's view where there is one (the Jobs); runs whose Job is gone (cleaned up) as the
            // incident remembers them.
            let jobs = await launcher.jobStatuses(incident: incident.id) ?? []
            let withJobs = Set(jobs.compactMap(\.runID))
            statuses += jobs
            statuses += incident.runs.filter { !withJobs.contains($0.id) }.map { JobStatus(run: $0, incident: incident.id) }
        }
        notify(.jobStatus(incident: id, statuses))
        return statuses
    }

    /// Whether the coordinator accepts new incidents.
    public var isAcceptingWork: Bool { table.withLock { $0.isAccepting } }

    /// Whether the coordinator stands by for another replica (leader election): it refuses notifications and
    /// approvals (`.notLeading`) until `takeOver()`.
    public var isStandingBy: Bool { table.withLock { $0.isStandingBy } }

    /// Another replica leads: refuse notifications and approvals until `takeOver()`. Called before `run()`.
    public func standBy() { table.withLock { $0.standBy() } }

    /// This replica leads now: take notifications and approvals. `run()` then resumes the open incidents.
    public func takeOver() { table.withLock { $0.takeOver() } }

    /// The callback secret of an open incident, to authenticate results posted for it.
    public func callbackSecret(for id: UUID) -> String? { table.withLock { $0.callbackSecret(of: id) } }

    func logger(for id: UUID) -> IncidentLogger {
        IncidentLogger(logger: logger, id: id)
    }

    /// 32 random bytes as hex, from the system's cryptographically secure generator.
    public static func makeSecret() -> String {
        Hex.lowercase(SecureRandom.bytes(32))
    }

    /// A new incident's id and callback secret, from one draw of the system's secure generator.
    static func makeIdentity() -> (id: UUID, secret: String) {
        let bytes = SecureRandom.bytes(48)
        return (SecureRandom.uuid(from: bytes[0..<16]), Hex.lowercase(bytes[16..<48]))
    }
}
