import EuphrosyneCore
import Foundation
import Logging
import ServiceLifecycle

/// Settings of the coordinator that do not depend on the mode.
public struct CoordinatorConfiguration: Sendable {
    /// Timeout of a recipe without its own `timeout` (`--recipe-timeout`).
    public var defaultRecipeTimeoutSeconds: Int
    /// How long an analysed incident accepts approvals before it expires.
    public var approvalWindowSeconds: Int
    /// Passed to every recipe as `--aggregator-address`.
    public var aggregatorAddress: String
    /// Passed to every recipe as `--redis-address`.
    public var redisAddress: String
    /// On graceful shutdown, how long running recipes and pending notifications get to finish before they are
    /// stopped.
    public var drainTimeout: Duration
    /// With results arriving by themselves (Redis), how long a run that exited without a durable copy of its
    /// result may still deliver one over pub/sub before it counts as having exited without one.
    public var resultGraceAfterExit: Duration

    public init(
        defaultRecipeTimeoutSeconds: Int = 300, approvalWindowSeconds: Int = 86_400, aggregatorAddress: String = "",
        redisAddress: String = "", drainTimeout: Duration = .seconds(25),
        resultGraceAfterExit: Duration = .seconds(1)
    ) {
        self.resultGraceAfterExit = resultGraceAfterExit
        self.defaultRecipeTimeoutSeconds = defaultRecipeTimeoutSeconds
        self.approvalWindowSeconds = approvalWindowSeconds
        self.aggregatorAddress = aggregatorAddress
        self.redisAddress = redisAddress
        self.drainTimeout = drainTimeout
    }
}

/// Why the coordinator refused a request. The server maps each case to an HTTP status.
public enum CoordinatorError: Error, Sendable, CustomStringConvertible {
    case incidentNotFound(UUID)
    case approvalRejected(ApprovalRejection)
    /// Draining for shutdown: no new incidents or approvals.
    case shuttingDown
    /// The incident store failed; the request can be retried.
    case storeUnavailable(String)

    public var description: String {
        switch self {
        case .incidentNotFound(let id): return "no incident \(id.uuidString.lowercased())"
        case .approvalRejected(let rejection): return rejection.description
        case .shuttingDown: return "the reconciler is shutting down"
        case .storeUnavailable(let reason): return "the incident store is unavailable: \(reason)"
        }
    }
}

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
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// Incidents that can still change: not failed or expired.
    private var live: [UUID: Incident] = [:]
    /// The open incident of each notification identity, for deduplication.
    private var openByIdentity: [String: UUID] = [:]
    private var draining = false
    /// Set once the work stream has ended: runs cancelled from now on were stopped by the shutdown itself.
    private var stopping = false
    /// Recipe runs and notifications under way; shutdown waits for them.
    private var inFlight = 0
    private let workStream: AsyncStream<Work>
    private let workContinuation: AsyncStream<Work>.Continuation

    public init(
        registry: any RecipeRegistry, launcher: any RecipeLauncher, resultSource: any ResultSource,
        notifier: any Notifier, store: any IncidentStore, configuration: CoordinatorConfiguration = .init(),
        logger: Logger = Logger(label: "euphrosyne.coordinator"), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.registry = registry
        self.launcher = launcher
        self.resultSource = resultSource
        self.notifier = notifier
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.now = now
        (workStream, workContinuation) = AsyncStream.makeStream(of: Work.self)
    }

    // MARK: - Service

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.drainOnGracefulShutdown() }
            group.addTask { await self.resumeOpenIncidents() }
            if let results = resultSource.incomingResults {
                group.addTask {
                    for await result in results { _ = await self.deliver(result) }
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
                watchResumedRun(run.id, of: incident.id, until: deadline)
            }
            if let deadline = incident.approvalDeadline {
                execute([.scheduleApprovalDeadline(deadline)], for: incident)
            }
            logger(for: incident.id).notice("incident resumed", metadata: [
                "state": "\(incident.state.rawValue)", "unfinishedRuns": "\(incident.unfinishedRuns.count)",
            ])
        }
    }

    /// A run started by a previous process: no launcher watches it, so the coordinator enforces its timeout.
    private func watchResumedRun(_ runID: Int, of id: UUID, until deadline: Date) {
        submit { [now] in
            let wait = deadline.timeIntervalSince(now())
            if wait > 0 {
                do { try await Task.sleep(for: .seconds(wait)) } catch { return }
            }
            await self.handle(.runEnded(runID: runID, exit: .timedOut, at: now()), for: id)
        }
    }

    private func submit(_ work: @escaping Work) {
        workContinuation.yield(work)
    }

    // MARK: - Intake

    /// Opens an incident for an alert notification and starts its debugging recipes.
    public func openIncident(payload: [String: JSONValue]) async throws(CoordinatorError) -> Incident {
        try await receive(payload: payload).incident
    }

    /// Takes an alert notification: one that belongs to an open incident (same `identityKey`, e.g. Alertmanager
    /// re-sending its group) refreshes that incident and starts nothing; any other opens a new incident.
    public func receive(
        payload: [String: JSONValue]
    ) async throws(CoordinatorError) -> (incident: Incident, isNew: Bool) {
        guard !draining else { throw .shuttingDown }
        // Decoded once here; the incident, the recipe selection and the log all use it.
        let alert = AlertNotification(raw: payload)
        let identity = alert.identityKey
        if let existing = openByIdentity[identity] {
            let (_, refreshed) = await handle(.notifiedAgain(payload: payload, at: now()), for: existing)
            if let incident = refreshed ?? live[existing] {
                logger(for: existing).info("notification joined its open incident", metadata: [
                    "notifications": "\(incident.notificationCount)",
                ])
                return (incident, false)
            }
        }
        let id = UUID()
        // Known before the first suspension, so a duplicate arriving meanwhile joins this incident.
        live[id] = Incident(
            id: id, payload: payload, callbackSecret: Self.makeSecret(),
            approvalWindowSeconds: configuration.approvalWindowSeconds, identity: identity, at: now()
        )
        openByIdentity[identity] = id
        let catalog = await registry.catalog()
        await resultSource.watch(incident: id)
        // A duplicate may have refreshed it meanwhile: open the current version.
        var incident = live[id]!
        let outcome = incident.handle(.open(
            recipes: catalog.debuggingRecipes(for: alert),
            defaultTimeoutSeconds: configuration.defaultRecipeTimeoutSeconds, at: now()
        ))
        incident.revision += 1
        live[incident.id] = incident
        do {
            try await store.save(incident)
        } catch {
            live[incident.id] = nil
            openByIdentity[identity] = nil
            await resultSource.unwatch(incident: incident.id)
            throw .storeUnavailable("\(error)")
        }
        logger(for: incident.id).info("incident opened", metadata: [
            "alert": "\(alert.summary)",
            "recipes": "\(incident.runs.map(\.recipe).joined(separator: ","))",
        ])
        if case .applied(let actions) = outcome { execute(actions, for: incident) }
        return (live[incident.id] ?? incident, true)
    }

    /// Approves actions for an incident and starts one action run per action.
    public func approve(
        incident id: UUID, actions: [ActionRequest], approvedBy: String? = nil
    ) async throws(CoordinatorError) -> (Incident, Approval) {
        guard !draining else { throw .shuttingDown }
        let catalog = await registry.catalog()
        guard var incident = live[id] else {
            let stored: Incident?
            do { stored = try await store.incident(id) } catch { throw .storeUnavailable("\(error)") }
            guard let stored else { throw .incidentNotFound(id) }
            throw .approvalRejected(.closed(stored.state, reason: stored.closedReason))
        }
        let launches: [IncidentAction]
        do {
            launches = try incident.approve(
                actions, catalog: catalog, defaultTimeoutSeconds: configuration.defaultRecipeTimeoutSeconds,
                approvedBy: approvedBy, at: now()
            )
        } catch {
            throw .approvalRejected(error)
        }
        incident.revision += 1
        live[id] = incident
        await save(incident)
        let approval = incident.approvals[incident.approvals.count - 1]
        logger(for: id).info("actions approved", metadata: [
            "approval": "\(approval.id)", "actions": "\(actions.map(\.name).joined(separator: ","))",
            "by": "\(approvedBy ?? "anonymous")",
        ])
        execute(launches, for: incident)
        return (live[id] ?? incident, approval)
    }

    /// What became of a delivered result.
    public enum DeliveryOutcome: Sendable, Equatable {
        case accepted
        case ignored(String)
        case unknownIncident
    }

    /// Hands a recipe's result to its incident.
    public func deliver(_ result: RecipeResult) async -> DeliveryOutcome {
        guard let id = UUID(uuidString: result.incident) else { return .unknownIncident }
        guard live[id] != nil else {
            let known = (try? await store.incident(id)) != nil
            if known {
                return .ignored("incident \(result.incident) is closed")
            }
            return .unknownIncident
        }
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
        let statuses = incidents.flatMap { incident in incident.runs.map { JobStatus(run: $0, incident: incident.id) } }
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
        let outcome = incident.handle(event)
        guard case .applied(let actions) = outcome else { return (outcome, incident) }
        incident.revision += 1
        live[id] = incident
        // Persist before acting, as opening and approving do: a restart then knows of everything started.
        await save(incident)
        execute(actions, for: incident)
        return (outcome, incident)
    }

    private func execute(_ actions: [IncidentAction], for incident: Incident) {
        for action in actions {
            switch action {
            case .launch(let runID, let recipe):
                guard let run = incident.run(runID) else { continue }
                let request = launchRequest(for: run, recipe: recipe, of: incident)
                inFlight += 1
                submit { [launcher] in
                    let id = incident.id
                    let exit = await launcher.run(request) {
                        await self.handle(.runStarted(runID: runID, at: self.now()), for: id)
                    }
                    await self.runFinished(runID, of: id, exit: exit)
                }
            case .notifyAnalysis(let analysis):
                notify(.analysis(incident: incident.id, analysis))
            case .notifyActionOutcome(let approvalID, let analysis):
                notify(.actionOutcome(incident: incident.id, approvalID: approvalID, analysis))
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
                live[incident.id] = nil
                if openByIdentity[incident.identity] == incident.id { openByIdentity[incident.identity] = nil }
                let source = resultSource
                submit { await source.unwatch(incident: incident.id) }
                logger(for: incident.id).info("incident closed", metadata: [
                    "state": "\(incident.state.rawValue)", "reason": "\(incident.closedReason ?? "")",
                ])
            }
        }
    }

    private func runFinished(_ runID: Int, of id: UUID, exit: RunExit) async {
        if stopping, store.isDurable, case .cancelled = exit {
            // The run goes on without us (a Job, a detached process); the next start resumes the incident.
            inFlight -= 1
            return
        }
        if case .exited = exit, resultSource.incomingResults != nil, live[id]?.run(runID)?.state.isFinished == false {
            // A recipe reports and exits at once; over Redis the message may land after the exit is seen. Its
            // durable copy is already written (RecipeKit writes it first): read it now. A recipe that only
            // PUBLISHes gets a moment more.
            for result in await resultSource.storedResults(incident: id) { _ = await deliver(result) }
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
        submit { [notifier, logger] in
            do {
                try await notifier.send(notification)
            } catch {
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

    private func save(_ incident: Incident) async {
        do {
            try await store.save(incident)
        } catch {
            logger(for: incident.id).error("could not save incident", metadata: ["error": "\(error)"])
        }
    }

    private func launchRequest(for run: RecipeRun, recipe: Recipe, of incident: Incident) -> LaunchRequest {
        let data = run.kind == .debugging
            ? RecipeDataFile.debugging(payload: incident.payload, incident: incident.id)
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
            environment: environment
        )
    }

    private func logger(for id: UUID) -> Logger {
        var logger = self.logger
        logger[metadataKey: "incident"] = "\(id.uuidString.lowercased())"
        return logger
    }

    /// 32 random bytes as hex, from the system's cryptographically secure generator.
    static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }
            .joined()
    }
}
