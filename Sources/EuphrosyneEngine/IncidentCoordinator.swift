import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Drives every incident: opens it, launches its recipes, feeds results and run endings to its state machine,
/// sends notifications and runs approved actions.
///
/// The engine's centre. It never knows the mode: launcher, result source, notifier, store and registry are ports.
/// The HTTP server calls `openIncident`, `approve`, `deliver` and the queries; `run()` (a `Service`) executes the
/// work the state machines ask for — recipe runs, notifications, timers — as child tasks, and on graceful shutdown
/// refuses new work, lets running recipes finish for up to `drainTimeout`, then stops the rest.
public actor IncidentCoordinator: Service {
    public typealias Work = @Sendable () async -> Void

    private let registry: any RecipeRegistry
    private let launcher: any RecipeLauncher
    private let resultSource: any ResultSource
    private let notifier: any Notifier
    private let store: any IncidentStore
    public nonisolated let configuration: CoordinatorConfiguration
    /// What the coordinator records for `/metrics`.
    public nonisolated let metrics: ReconcilerMetrics
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// Incidents that can still change: not failed or expired.
    private var live: [UUID: Incident] = [:]
    /// The open incident of each notification identity, for deduplication.
    private var openByIdentity: [String: UUID] = [:]
    /// Incidents being opened (not yet stored, their group not yet claimed), with the notifications of the same
    /// group waiting to learn whether the opening succeeded.
    private var opening: [UUID: [CheckedContinuation<Void, Never>]] = [:]
    private var draining = false
    /// The per-alert-name limit on new incidents, when configured.
    private var rateLimit: IncidentRateLimit?
    /// The cap on recipe runs in flight across all incidents.
    private nonisolated let runSlots: RunSlots
    /// Stops runs the state machine cancelled (the alert resolved), by incident and run id.
    private var runCancellations: [UUID: [Int: RunCancellation]] = [:]
    private nonisolated let counters: Mutex<CoordinatorStatistics>
    /// Set once the work stream has ended: runs cancelled from now on were stopped by the shutdown itself.
    private var stopping = false
    /// Recipe runs and notifications under way; shutdown waits for them.
    private var inFlight = 0
    private let workStream: AsyncStream<Work>
    private let workContinuation: AsyncStream<Work>.Continuation

    public init(
        registry: any RecipeRegistry, launcher: any RecipeLauncher, resultSource: any ResultSource,
        notifier: any Notifier, store: any IncidentStore, configuration: CoordinatorConfiguration = .init(),
        metrics: ReconcilerMetrics = ReconcilerMetrics(),
        logger: Logger = Logger(label: "euphrosyne.coordinator"), now: @escaping @Sendable () -> Date = { Date() }
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
        self.rateLimit = configuration.incidentsPerAlertNamePerHour.map { IncidentRateLimit(limit: $0) }
        self.runSlots = RunSlots(capacity: configuration.maxRunsInFlight)
        self.counters = Mutex(CoordinatorStatistics(runSlots: runSlots.statistics))
        (workStream, workContinuation) = AsyncStream.makeStream(of: Work.self)
    }

    // MARK: - Service

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.drainOnGracefulShutdown() }
            group.addTask { await self.resumeOpenIncidents() }
            if let results = resultSource.incomingResults {
                group.addTask {
                    for await result in results { _ = await self.deliver(result, via: .published) }
                }
            }
            for await work in workStream {
                group.addTask { await work() }
            }
            // The work stream ends after draining (or when this task is cancelled): stop timers and what is left.
            stopping = true
            group.cancelAll()
        }
    }

    private func drainOnGracefulShutdown() async {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        draining = true
        logger.info("draining", metadata: ["inFlight": "\(inFlight)"])
        let deadline = ContinuousClock.now.advanced(by: configuration.drainTimeout)
        while inFlight > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if inFlight > 0 {
            logger.warning(
                store.isDurable
                    ? "drain timeout reached; leaving the remaining runs to the next start"
                    : "drain timeout reached; stopping what is still running",
                metadata: ["inFlight": "\(inFlight)"]
            )
        }
        workContinuation.finish()
    }

    /// Picks up the incidents a previous process left open (a durable store only): their results are awaited
    /// again, runs that were under way keep the rest of their timeout, and nothing that already ran is launched
    /// again.
    private func resumeOpenIncidents() async {
        guard store.isDurable else { return }
        var incidents: [Incident] = []
        var attempt = 0
        while true {
            do {
                incidents = try await store.openIncidents()
                break
            } catch {
                // The store (Redis) may still be coming up: keep trying, as long as we run.
                attempt += 1
                logger.error("cannot load open incidents to resume them; retrying", metadata: [
                    "error": "\(error)", "attempt": "\(attempt)",
                ])
                do { try await Task.sleep(for: .seconds(min(30, 1 << min(attempt, 5)))) } catch { return }
            }
        }
        for incident in incidents where live[incident.id] == nil {
            live[incident.id] = incident
            if openByIdentity[incident.identity] == nil { openByIdentity[incident.identity] = incident.id }
            await resultSource.watch(incident: incident.id)
            for run in incident.unfinishedRuns {
                let deadline = (run.startedAt ?? run.createdAt).addingTimeInterval(TimeInterval(run.timeoutSeconds))
                watchResumedRun(run, of: incident.id, until: deadline)
            }
            if let deadline = incident.approvalDeadline {
                execute([.scheduleApprovalDeadline(deadline)], for: incident)
            }
            logger(for: incident.id).notice("incident resumed", metadata: [
                "state": "\(incident.state.rawValue)", "unfinishedRuns": "\(incident.unfinishedRuns.count)",
            ])
        }
    }

    /// A run started by a previous process. The launcher follows it again where it can (a Job); otherwise the
    /// coordinator enforces its timeout. A resolve stops it like any other run.
    private func watchResumedRun(_ run: RecipeRun, of id: UUID, until deadline: Date) {
        let cancellation = RunCancellation()
        runCancellations[id, default: [:]][run.id] = cancellation
        inFlight += 1
        submit { [launcher, now] in
            let exit = await Self.run(until: cancellation) {
                if let exit = await launcher.reattach(incident: id, run: run, until: deadline, cancellation: cancellation) {
                    return exit
                }
                let wait = deadline.timeIntervalSince(now())
                if wait > 0 {
                    do { try await Task.sleep(for: .seconds(wait)) } catch {
                        return .cancelled(reason: cancellation.reason ?? "the reconciler stopped watching the run")
                    }
                }
                return .timedOut
            }
            await self.runFinished(run.id, of: id, exit: exit)
        }
    }

    private func submit(_ work: @escaping Work) {
        workContinuation.yield(work)
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
    /// - Any other opens a new incident, unless its alert name used up its hourly quota (`.rateLimited`).
    /// - When `intakeQueueCapacity` notifications are being taken in already, it is refused (`.intakeQueueFull`)
    ///   so the sender retries.
    public nonisolated func receive(payload: [String: JSONValue]) async throws(CoordinatorError) -> Reception {
        let admitted = counters.withLock { counters in
            counters.notificationsReceived += 1
            guard counters.intakeQueueDepth < configuration.intakeQueueCapacity else {
                counters.refusedQueueFull += 1
                return false
            }
            counters.intakeQueueDepth += 1
            return true
        }
        guard admitted else { throw .intakeQueueFull(retryAfterSeconds: 5) }
        defer { counters.withLock { $0.intakeQueueDepth -= 1 } }
        return try await take(payload)
    }

    /// What the coordinator took in, refused and queued so far.
    public nonisolated var statistics: CoordinatorStatistics {
        var statistics = counters.withLock { $0 }
        statistics.runSlots = runSlots.statistics
        return statistics
    }

    /// The statistics with the number of incidents open now, for a scrape.
    public func currentStatistics() -> CoordinatorStatistics {
        var statistics = self.statistics
        statistics.openIncidents = live.count
        return statistics
    }

    private func take(_ payload: [String: JSONValue]) async throws(CoordinatorError) -> Reception {
        guard !draining else { throw .shuttingDown }
        // Decoded once here; the incident, the recipe selection and the log all use it.
        let alert = AlertNotification(raw: payload)
        let identity = alert.identityKey
        let resolves = alert.aggregateStatus == .resolved
        if let existing = openByIdentity[identity], opening[existing] != nil {
            // Its group's incident is being opened: join it once it is, or take its place if that failed.
            await withCheckedContinuation { continuation in
                if opening[existing] != nil { opening[existing]!.append(continuation) } else { continuation.resume() }
            }
            return try await take(payload)
        }
        if let existing = openByIdentity[identity], live[existing] != nil {
            if let reception = await notifyOpenIncident(existing, payload: payload, resolves: resolves) {
                return reception
            }
        }
        if resolves {
            count { $0.resolvedWithoutIncident += 1 }
            logger.info("resolved notification for a group with no open incident", metadata: [
                "alert": "\(alert.summary)",
            ])
            return .ignored("the notification is resolved and its group has no open incident")
        }
        if var limit = rateLimit {
            let name = alert.alertName ?? ""
            let retryAfter = limit.admit(alertName: name, at: now())
            rateLimit = limit
            if let retryAfter {
                count { $0.refusedRateLimited += 1 }
                logger.warning("alert name over its hourly incident limit; notification refused", metadata: [
                    "alertname": "\(name)", "retryAfter": "\(retryAfter)s",
                ])
                throw .rateLimited(alertName: name, retryAfterSeconds: retryAfter)
            }
        }
        guard live.count < configuration.maxOpenIncidents else {
            count { $0.refusedTooManyOpen += 1 }
            logger.warning("too many open incidents; notification of a new group refused", metadata: [
                "open": "\(live.count)", "limit": "\(configuration.maxOpenIncidents)", "alert": "\(alert.summary)",
            ])
            throw .tooManyOpenIncidents(limit: configuration.maxOpenIncidents, retryAfterSeconds: 30)
        }
        return try await open(payload, alert: alert, identity: identity)
    }

    /// Hands a notification to the open incident of its group. Nil when that incident closed meanwhile.
    private func notifyOpenIncident(
        _ id: UUID, payload: [String: JSONValue], resolves: Bool
    ) async -> Reception? {
        let event: IncidentEvent
        if resolves {
            event = .resolved(payload: payload, at: now())
        } else {
            let catalog = await registry.catalog()
            event = .notifiedAgain(
                payload: payload, recipesForNewAlerts: catalog.enabledDebugging.filter(\.runsForNewAlerts),
                defaultTimeoutSeconds: configuration.defaultRecipeTimeoutSeconds, at: now()
            )
        }
        let (outcome, incident) = await handle(event, for: id)
        guard case .applied(let actions) = outcome, let incident else { return nil }
        let started = actions.compactMap { action -> String? in
            if case .launch(_, let recipe) = action { return recipe.name }
            return nil
        }
        if resolves {
            count { $0.incidentsResolved += 1 }
            logger(for: id).info("alert resolved; incident resolved", metadata: [
                "cancelledRuns": "\(actions.filter { if case .cancelRun = $0 { true } else { false } }.count)",
            ])
            return .resolved(incident)
        }
        count {
            $0.notificationsDeduplicated += 1
            $0.runsForNewAlerts += started.count
        }
        logger(for: id).info("notification joined its open incident", metadata: [
            "notifications": "\(incident.notificationCount)", "startedForNewAlerts": "\(started.joined(separator: ","))",
        ])
        return .joined(incident, started: started)
    }

    /// Opens a new incident for a notification whose group has none open here.
    private func open(
        _ payload: [String: JSONValue], alert: AlertNotification, identity: String
    ) async throws(CoordinatorError) -> Reception {
        let id = UUID()
        // Known before the first suspension, so a duplicate arriving meanwhile joins this incident.
        live[id] = Incident(
            id: id, payload: payload, callbackSecret: Self.makeSecret(),
            approvalWindowSeconds: configuration.approvalWindowSeconds, identity: identity, at: now()
        )
        openByIdentity[identity] = id
        opening[id] = []
        func abandon() {
            live[id] = nil
            if openByIdentity[identity] == id { openByIdentity[identity] = nil }
            finishOpening(id)
        }
        let catalog = await registry.catalog()
        await resultSource.watch(incident: id)
        // A duplicate may have refreshed it meanwhile: open the current version.
        var incident = live[id]!
        let outcome = incident.handle(.open(
            recipes: catalog.debuggingRecipes(for: alert),
            defaultTimeoutSeconds: configuration.defaultRecipeTimeoutSeconds, at: now()
        ))
        incident.revision += 1
        live[id] = incident
        // The store decides across restarts and replicas: another process may hold the group already.
        let holder: Incident?
        do {
            holder = try await create(incident)
        } catch {
            abandon()
            await resultSource.unwatch(incident: id)
            throw .storeUnavailable("\(error)")
        }
        if let holder {
            abandon()
            await resultSource.unwatch(incident: id)
            count { $0.notificationsDeduplicated += 1 }
            logger(for: holder.id).info("notification belongs to an incident another reconciler holds", metadata: [
                "state": "\(holder.state.rawValue)",
            ])
            return .joined(holder, started: [])
        }
        finishOpening(id)
        count { $0.incidentsOpened += 1 }
        logger(for: incident.id).info("incident opened", metadata: [
            "alert": "\(alert.summary)",
            "recipes": "\(incident.runs.map(\.recipe).joined(separator: ","))",
        ])
        if case .applied(let actions) = outcome { execute(actions, for: incident) }
        return .opened(live[incident.id] ?? incident)
    }

    /// Lets the notifications that waited for this opening go on.
    private func finishOpening(_ id: UUID) {
        for waiter in opening.removeValue(forKey: id) ?? [] { waiter.resume() }
    }

    /// Saves a new incident as the holder of its notification group. Returns the open incident that holds the
    /// group already (another replica's, or one of ours not resumed yet), saving nothing; a holder whose incident
    /// is gone or closed is taken over.
    private func create(_ incident: Incident) async throws -> Incident? {
        guard let holderID = try await store.create(incident, replacing: nil) else { return nil }
        if let holder = try await store.incident(holderID), !holder.state.isClosed { return holder }
        guard let newHolderID = try await store.create(incident, replacing: holderID) else { return nil }
        guard let newHolder = try await store.incident(newHolderID) else {
            throw CoordinatorError.storeUnavailable("another reconciler is opening an incident for the same group")
        }
        return newHolder
    }

    private nonisolated func count(_ change: (inout CoordinatorStatistics) -> Void) {
        counters.withLock { statistics in change(&statistics) }
    }

    /// Approves actions for an incident and starts one action run per action not already underway or done.
    ///
    /// Approvals of one incident are decided one at a time here, so the same approval sent twice, or two racing
    /// for one action, run it once: the later ones are answered with `.duplicate` of the first. Every attempt,
    /// refused ones included, is added to the incident's audit (`approvalAttempts`) when the incident is open.
    public func approve(
        incident id: UUID, _ request: ApprovalRequest
    ) async throws(CoordinatorError) -> (Incident, ApprovalDecision) {
        guard !draining else { throw .shuttingDown }
        let catalog = await registry.catalog()
        let policy = configuration.approvalPolicy
        var readmitted = false
        if live[id] == nil {
            let stored: Incident?
            do { stored = try await store.incident(id) } catch { throw .storeUnavailable("\(error)") }
            guard let stored else { throw .incidentNotFound(id) }
            if live[id] == nil {
                guard stored.state == .resolved, policy.allowsResolvedIncidents else {
                    throw .approvalRejected(.closed(stored.state, reason: stored.closedReason))
                }
                // A resolved incident may still be approved: it is live again until its actions have finished.
                live[id] = stored
                readmitted = true
            }
        }
        var incident = live[id]!
        let decision: ApprovalDecision
        do {
            decision = try incident.approve(request, catalog: catalog, policy: policy,
                                            defaultTimeoutSeconds: configuration.defaultRecipeTimeoutSeconds, at: now())
        } catch {
            metrics.increment("euphrosyne_approvals_total", [("outcome", "rejected")])
            logger(for: id).notice("approval refused", metadata: [
                "actions": "\(request.actions.map(\.name).joined(separator: ","))",
                "by": "\(request.approvedBy ?? "anonymous")", "reason": "\(error)",
            ])
            if readmitted {
                live[id] = nil
            } else {
                incident.recordRefusedApproval(request, reason: error.description, at: now())
                incident.revision += 1
                live[id] = incident
                await save(incident)
            }
            throw .approvalRejected(error)
        }
        incident.revision += 1
        live[id] = incident
        switch decision {
        case .duplicate(let earlier):
            if readmitted { live[id] = nil }
            metrics.increment("euphrosyne_approvals_total", [("outcome", "duplicate")])
            await save(incident)
            logger(for: id).info("approval repeated; nothing new to run", metadata: [
                "approval": "\(earlier.id)", "by": "\(request.approvedBy ?? "anonymous")",
            ])
        case .started(let approval, let launches):
            metrics.increment("euphrosyne_approvals_total", [("outcome", "accepted")])
            if readmitted { await resultSource.watch(incident: id) }
            await save(incident)
            logger(for: id).info("actions approved", metadata: [
                "approval": "\(approval.id)", "actions": "\(approval.actions.map(\.name).joined(separator: ","))",
                "by": "\(request.approvedBy ?? "anonymous")",
            ])
            execute(launches, for: incident)
        }
        return (live[id] ?? incident, decision)
    }

    /// What is wrong with an approval's action names whatever the incident: none named, or one that is not a
    /// registered action recipe, or is disabled. Nil when every name is registered and enabled. Lets the API refuse
    /// such an approval (422) before it looks the incident up; `approve` checks the same again.
    public func actionNameProblem(_ names: [String]) async -> ApprovalRejection? {
        guard !names.isEmpty else { return .noActions }
        let catalog = await registry.catalog()
        for name in names {
            guard let recipe = catalog.action(named: name) else { return .unknownAction(name) }
            guard recipe.enabled else { return .disabledAction(name) }
        }
        return nil
    }

    /// Records an approval refused before it reached the incident's rules (e.g. a Webex person not on the
    /// allow-list) in the incident's audit. Unknown or closed incidents are only logged.
    public func recordRefusedApproval(incident id: UUID, _ request: ApprovalRequest, reason: String) async {
        metrics.increment("euphrosyne_approvals_total", [("outcome", "rejected")])
        logger(for: id).notice("approval refused", metadata: [
            "actions": "\(request.actions.map(\.name).joined(separator: ","))",
            "by": "\(request.approvedBy ?? "anonymous")", "reason": "\(reason)",
        ])
        guard var incident = live[id] else { return }
        incident.recordRefusedApproval(request, reason: reason, at: now())
        incident.revision += 1
        live[id] = incident
        await save(incident)
    }

    /// What became of a delivered result.
    public enum DeliveryOutcome: Sendable, Equatable {
        case accepted
        case ignored(String)
        case unknownIncident
        /// It did not prove it belongs to its incident (`ResultRefusal`); the incident did not see it.
        case refused(ResultRefusal)
    }

    /// Hands a recipe's result to its incident, once it has shown what its origin asks (`ResultOrigin`): a signed
    /// result must verify with its incident's key, and a published one must be signed when `requireSignedResults`
    /// is on. A refused result changes nothing; it is logged and counted, never dropped silently.
    public func deliver(_ result: RecipeResult, via origin: ResultOrigin) async -> DeliveryOutcome {
        guard let id = UUID(uuidString: result.incident) else { return .unknownIncident }
        guard let key = live[id]?.callbackSecret else {
            let known = (try? await store.incident(id)) != nil
            if known {
                return .ignored("incident \(result.incident) is closed")
            }
            return .unknownIncident
        }
        if let refusal = origin.refusal(of: result, key: key, requiringSignatures: configuration.requireSignedResults) {
            metrics.increment("euphrosyne_results_refused_total", [("reason", refusal.label)])
            logger(for: id).warning("result refused", metadata: [
                "recipe": "\(result.name)", "reason": "\(refusal)", "via": "\(origin.rawValue)",
            ])
            return .refused(refusal)
        }
        // Verified (or not needed): the incident keeps the result in the original schema.
        var result = result
        result.signature = nil
        switch await handle(.resultReceived(result, at: now()), for: id).outcome {
        case .applied:
            logger(for: id).info("result received", metadata: [
                "recipe": "\(result.name)", "status": "\(result.status.rawValue)",
            ])
            return .accepted
        case .ignored(let reason):
            logger(for: id).notice("result ignored", metadata: ["recipe": "\(result.name)", "reason": "\(reason)"])
            return .ignored(reason)
        }
    }

    /// The callback secret of an open incident, to authenticate results posted for it.
    public func callbackSecret(for id: UUID) -> String? { live[id]?.callbackSecret }

    // MARK: - Queries

    public func incident(_ id: UUID) async throws(CoordinatorError) -> Incident? {
        if let incident = live[id] { return incident }
        do { return try await store.incident(id) } catch { throw .storeUnavailable("\(error)") }
    }

    public func incidents(offset: Int, limit: Int) async throws(CoordinatorError) -> IncidentPage {
        do { return try await store.list(offset: offset, limit: limit) } catch { throw .storeUnavailable("\(error)") }
    }

    /// The Job states of one incident's runs, or of every open incident's runs; also pushed to the notifier.
    public func jobStatuses(incident id: UUID?) async throws(CoordinatorError) -> [JobStatus] {
        let incidents: [Incident]
        if let id {
            guard let incident = try await incident(id) else { throw .incidentNotFound(id) }
            incidents = [incident]
        } else {
            incidents = live.values.sorted { $0.createdAt < $1.createdAt }
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
    public var isAcceptingWork: Bool { !draining }

    // MARK: - Events and actions

    /// Applies an event to a live incident, saves the new version and carries out the actions.
    /// Returns the outcome and the incident as the event left it.
    @discardableResult
    private func handle(_ event: IncidentEvent, for id: UUID) async -> (outcome: EventOutcome, incident: Incident?) {
        guard var incident = live[id] else { return (.ignored("incident is not open"), nil) }
        let before = incident
        let outcome = incident.handle(event)
        guard case .applied(let actions) = outcome else { return (outcome, incident) }
        for run in incident.runs where run.state.isFinished && before.run(run.id)?.state.isFinished == false {
            metrics.runFinished(run)
        }
        recordBoundsReached(event, before: before, after: incident)
        incident.revision += 1
        live[id] = incident
        // Persist before acting, as opening and approving do: a restart then knows of everything started.
        await save(incident)
        execute(actions, for: incident)
        return (outcome, incident)
    }

    /// Counts what the incident's bounds held back (`euphrosyne_incident_bounds_total{bound}`), so a flood of
    /// alert keys or oversized results shows in `/metrics` and not only in the incident.
    private func recordBoundsReached(_ event: IncidentEvent, before: Incident, after: Incident) {
        let forgotten = after.forgottenAlertCount - before.forgottenAlertCount
        if forgotten > 0 { metrics.increment("euphrosyne_incident_bounds_total", [("bound", "alert_keys")], by: forgotten) }
        if case .notifiedAgain(_, let recipes, _, _) = event, !recipes.isEmpty, before.runs.count < Incident.maxRuns,
           after.runs.count == Incident.maxRuns {
            metrics.increment("euphrosyne_incident_bounds_total", [("bound", "runs")])
        }
        if case .resultReceived(let result, _) = event, result.bounded() != result {
            metrics.increment("euphrosyne_incident_bounds_total", [("bound", "result_size")])
        }
    }

    private func execute(_ actions: [IncidentAction], for incident: Incident) {
        for action in actions {
            switch action {
            case .launch(let runID, let recipe):
                guard incident.run(runID) != nil else { continue }
                launch(runID, recipe: recipe, of: incident.id)
            case .cancelRun(let runID):
                runCancellations[incident.id]?[runID]?.cancel(reason: "the alert resolved")
                count { $0.runsCancelledOnResolve += 1 }
            case .notifyResolved(let cancelledRuns):
                notify(.resolved(incident: incident.id, alert: incident.alert.summary, cancelledRuns: cancelledRuns))
            case .endDeduplication:
                endDeduplication(of: incident)
            case .notifyAnalysis(let analysis):
                notify(.analysis(incident: incident.id, analysis))
                cleanUp(incident, .debugging)
            case .notifyActionOutcome(let approvalID, let analysis):
                notify(.actionOutcome(incident: incident.id, approvalID: approvalID, analysis))
                cleanUp(incident, .approval(approvalID))
            case .scheduleApprovalDeadline(let deadline):
                let id = incident.id
                submit { [now] in
                    let wait = deadline.timeIntervalSince(now())
                    if wait > 0 {
                        do { try await Task.sleep(for: .seconds(wait)) } catch { return }
                    }
                    await self.handle(.approvalWindowPassed(at: now()), for: id)
                }
            case .release:
                metrics.increment("euphrosyne_incidents_closed_total", [("state", incident.state.rawValue)])
                live[incident.id] = nil
                endDeduplication(of: incident)
                cleanUp(incident, .all, thenUnwatch: true)
                logger(for: incident.id).info("incident closed", metadata: [
                    "state": "\(incident.state.rawValue)", "reason": "\(incident.closedReason ?? "")",
                ])
            }
        }
    }

    /// Removes what a finished phase left behind in the cluster (nothing in local mode). Counted as work in flight,
    /// so a shutdown lets it finish.
    /// A phase that had no run leaves nothing behind, so the launcher is not asked; `thenUnwatch` also ends the
    /// result source's watch of the incident (its release), in the same piece of work.
    private func cleanUp(_ incident: Incident, _ phase: RunPhase, thenUnwatch: Bool = false) {
        let hadRuns = incident.runs.contains { run in
            switch phase {
            case .debugging: run.kind == .debugging
            case .approval(let id): run.approvalID == id
            case .all: true
            }
        }
        guard hadRuns || thenUnwatch else { return }
        inFlight += 1
        let id = incident.id
        submit { [launcher, resultSource] in
            if hadRuns { await launcher.cleanUp(incident: id, phase: phase) }
            if thenUnwatch { await resultSource.unwatch(incident: id) }
            await self.cleanUpFinished()
        }
    }

    private func cleanUpFinished() { inFlight -= 1 }

    /// The group's next notification opens a new incident. (The store's claim ends with the save of the closed
    /// incident, which `handle` did before these actions.)
    private func endDeduplication(of incident: Incident) {
        if openByIdentity[incident.identity] == incident.id { openByIdentity[incident.identity] = nil }
    }

    /// Starts a run once the run cap allows: the launch request (its data, its deadline) is made at that moment
    /// from the incident as it is then. A stop requested while it waits or runs (`.cancelRun`) cancels it.
    private func launch(_ runID: Int, recipe: Recipe, of id: UUID) {
        let cancellation = RunCancellation()
        runCancellations[id, default: [:]][runID] = cancellation
        inFlight += 1
        submit { [launcher, runSlots] in
            let exit = await Self.run(until: cancellation) {
                guard await runSlots.acquire() else {
                    return .cancelled(reason: cancellation.reason ?? "the reconciler stopped before the run could start")
                }
                guard let request = await self.launchRequest(runID, recipe: recipe, of: id, cancellation: cancellation)
                else {
                    runSlots.release()
                    return .cancelled(reason: cancellation.reason ?? "the incident closed before the run could start")
                }
                let exit = await launcher.run(request) {
                    await self.handle(.runStarted(runID: runID, at: self.now()), for: id)
                }
                runSlots.release()
                return exit
            }
            await self.runFinished(runID, of: id, exit: exit)
        }
    }

    /// Runs `body` until it ends; when a stop is requested first, cancels it and still waits for its (prompt) end.
    private static func run(
        until cancellation: RunCancellation, _ body: @escaping @Sendable () async -> RunExit
    ) async -> RunExit {
        await withTaskGroup(of: RunExit?.self) { group in
            group.addTask { await body() }
            group.addTask {
                await cancellation.wait()
                return nil
            }
            while let next = await group.next() {
                if let exit = next {
                    group.cancelAll()
                    return exit
                }
                // The stop was requested (or this task is being cancelled): the body sees the cancellation.
                group.cancelAll()
            }
            return .cancelled(reason: cancellation.reason ?? "cancelled")
        }
    }

    private func runFinished(_ runID: Int, of id: UUID, exit: RunExit) async {
        runCancellations[id]?[runID] = nil
        if runCancellations[id]?.isEmpty == true { runCancellations[id] = nil }
        if stopping, store.isDurable {
            // The run goes on without us (a Job, a detached process), or ended while we stop and its result may
            // be in Redis where we can no longer read it: the next start resumes the incident and finds out.
            inFlight -= 1
            return
        }
        if case .exited = exit, resultSource.incomingResults != nil, live[id]?.run(runID)?.state.isFinished == false {
            // A recipe reports and exits at once; over Redis the message may land after the exit is seen. Its
            // durable copy is already written (RecipeKit writes it first): read it now. A recipe that only
            // PUBLISHes gets a moment more.
            for result in await resultSource.storedResults(incident: id) { _ = await deliver(result, via: .published) }
            if live[id]?.run(runID)?.state.isFinished == false {
                try? await Task.sleep(for: configuration.resultGraceAfterExit)
            }
        }
        inFlight -= 1
        let (outcome, incident) = await handle(.runEnded(runID: runID, exit: exit, at: now()), for: id)
        if case .applied = outcome, let run = incident?.run(runID) {
            logger(for: id).warning("recipe run did not report", metadata: [
                "recipe": "\(run.recipe)", "run": "\(run.name)", "reason": "\(run.failureReason ?? "")",
            ])
        }
    }

    private func notify(_ notification: ChatNotification) {
        inFlight += 1
        let threads = notification.incidentID.flatMap { live[$0]?.chatThreads } ?? [:]
        submit { [notifier, logger, metrics] in
            do {
                let started = try await notifier.send(notification, threads: threads)
                if !started.isEmpty, let id = notification.incidentID { await self.keepChatThreads(started, of: id) }
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", notification.kind), ("outcome", "delivered")])
            } catch {
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", notification.kind), ("outcome", "failed")])
                var logger = logger
                if let id = notification.incidentID { logger[metadataKey: "incident"] = "\(id.uuidString.lowercased())" }
                logger.error("notification not delivered", metadata: [
                    "kind": "\(notification.kind)", "error": "\(error)",
                ])
            }
            await self.notificationFinished()
        }
    }

    private func notificationFinished() { inFlight -= 1 }

    /// Keeps the chat threads a notification started with the incident (saved, so a restarted or other reconciler
    /// replies in them), whether it is still open or already closed.
    private func keepChatThreads(_ threads: ChatThreads, of id: UUID) async {
        var incident: Incident
        if let open = live[id] {
            incident = open
        } else {
            guard let stored = try? await store.incident(id) else { return }
            incident = live[id] ?? stored
        }
        incident.chatThreads.merge(threads) { kept, _ in kept }
        incident.revision += 1
        if live[id] != nil { live[id] = incident }
        await save(incident)
    }

    private func save(_ incident: Incident) async {
        do {
            try await store.save(incident)
        } catch {
            logger(for: incident.id).error("could not save incident", metadata: ["error": "\(error)"])
        }
    }

    /// The launch request of a run about to start, from the incident as it is now; nil once the run or its
    /// incident is finished (a queued run of an incident that resolved).
    private func launchRequest(
        _ runID: Int, recipe: Recipe, of id: UUID, cancellation: RunCancellation
    ) -> LaunchRequest? {
        guard let incident = live[id], let run = incident.run(runID), !run.state.isFinished else { return nil }
        let payload = run.alertKeys.map { incident.alert.payload(restrictedTo: Set($0)) } ?? incident.payload
        let data = run.kind == .debugging
            ? RecipeDataFile.debugging(payload: payload, incident: incident.id)
            : RecipeDataFile.action(data: run.actionData ?? [:], incident: incident)
        let deadline = now().addingTimeInterval(TimeInterval(run.timeoutSeconds))
        var environment = recipe.env
        environment.merge(resultSource.recipeEnvironment(incident: incident.id, secret: incident.callbackSecret)) { $1 }
        environment.merge([
            "EUPHROSYNE_INCIDENT": incident.id.uuidString.lowercased(),
            "EUPHROSYNE_RECIPE": recipe.name,
            "EUPHROSYNE_RUN": run.name,
            "EUPHROSYNE_DEADLINE": String(Int(deadline.timeIntervalSince1970)),
        ]) { $1 }
        return LaunchRequest(
            incidentID: incident.id, run: run, recipe: recipe, dataFile: data,
            aggregatorAddress: configuration.aggregatorAddress, redisAddress: configuration.redisAddress,
            environment: environment, cancellation: cancellation, resultKey: incident.callbackSecret
        )
    }

    private func logger(for id: UUID) -> Logger {
        var logger = self.logger
        logger[metadataKey: "incident"] = "\(id.uuidString.lowercased())"
        return logger
    }

    /// 32 random bytes as hex, from the system's cryptographically secure generator.
    public static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.lowercase((0..<4).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } })
    }
}
