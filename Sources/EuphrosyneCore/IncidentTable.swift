import Foundation

/// Every live incident and what is decided across them, as one value: events in, effects out, no I/O and no
/// `await` inside a decision.
///
/// The coordinator keeps it behind a lock and calls it from whichever task the event arrives on (a webhook
/// request, a run ending, a result, a timer); it then carries out the effects, in order, outside the lock: saving,
/// launching, notifying, cleaning up. Where a decision needs the outcome of I/O (a new incident's claim on its
/// notification group, a stored incident to readmit), the table returns a step that says so, and the coordinator
/// feeds the outcome back as another call. Each incident's own life is the state machine of `Incident`; the table
/// adds what spans incidents: the group index, openings in progress, the cap on open incidents, the per-alert-name
/// rate limit, readmission and drain.
public struct IncidentTable: Sendable {
    /// The rules the table decides by, from `serve`'s settings.
    public struct Settings: Sendable, Hashable {
        public var defaultRecipeTimeoutSeconds: Int
        public var approvalWindowSeconds: Int
        public var maxOpenIncidents: Int
        public var incidentsPerAlertNamePerHour: Int?
        public var approvalPolicy: ApprovalPolicy

        public init(defaultRecipeTimeoutSeconds: Int = 300, approvalWindowSeconds: Int = 86_400,
                    maxOpenIncidents: Int = 1_000, incidentsPerAlertNamePerHour: Int? = nil,
                    approvalPolicy: ApprovalPolicy = ApprovalPolicy()) {
            self.defaultRecipeTimeoutSeconds = defaultRecipeTimeoutSeconds
            self.approvalWindowSeconds = approvalWindowSeconds
            self.maxOpenIncidents = maxOpenIncidents
            self.incidentsPerAlertNamePerHour = incidentsPerAlertNamePerHour
            self.approvalPolicy = approvalPolicy
        }
    }

    /// What the coordinator must do after a decision, in the order given.
    public enum Effect: Sendable, Hashable {
        /// Persist this version of the incident (the store refuses an older revision than it holds).
        case save(Incident)
        /// Start expecting results for the incident (subscribe to its channel).
        case watch(UUID)
        /// Save the first version of a new incident as the holder of its notification group, then tell the table
        /// `claimed(_:)` or `claimRefused(_:)`.
        case claim(Incident)
        /// Start this run of this recipe (once the run cap allows).
        case launch(incident: UUID, runID: Int, recipe: Recipe)
        /// Follow a run a previous process started, until its deadline.
        case reattach(incident: UUID, run: RecipeRun, deadline: Date)
        /// Stop this run: the incident no longer needs it.
        case cancelRun(incident: UUID, runID: Int)
        case notifyAnalysis(incident: UUID, Analysis)
        case notifyActionOutcome(incident: UUID, approvalID: Int, Analysis)
        case notifyResolved(incident: UUID, alert: String, cancelledRuns: [String])
        /// Remove what a finished phase left behind (Jobs, data ConfigMaps).
        case cleanUp(incident: UUID, RunPhase)
        /// Tell the table `deadlinePassed(_:now:)` for the incident at this time, replacing any earlier deadline.
        case scheduleDeadline(incident: UUID, at: Date)
        /// The incident closed and left the table: forget its deadline, clean up everything, stop expecting its
        /// results, count it.
        case released(Incident)
        /// A new incident that never held its group left the table: stop expecting its results (nothing of it ran).
        case abandoned(UUID)
        /// A run reached its final state (for the metrics).
        case runFinished(RecipeRun)
        /// A bound of the incident held something back (for `euphrosyne_incident_bounds_total`).
        case boundReached(IncidentBound, count: Int)
    }

    /// The incident bounds, as the metric names them.
    public enum IncidentBound: String, Sendable, Hashable {
        case alertKeys = "alert_keys"
        case runs
        case resultSize = "result_size"
    }

    /// A new incident whose claim on its group is being saved: its notification group waits for the outcome, and
    /// the incident's first actions are held until the claim succeeds.
    struct Opening: Sendable, Hashable {
        var heldActions: [IncidentAction]
    }

    public let settings: Settings
    /// Incidents that can still change (not failed or expired), openings included.
    public internal(set) var live: [UUID: Incident] = [:]
    /// The open incident of each notification identity.
    var openByIdentity: [String: UUID] = [:]
    var openings: [UUID: Opening] = [:]
    var rateLimit: IncidentRateLimit?
    /// False once the coordinator drains: no new incidents or approvals.
    public internal(set) var isAccepting = true
    /// True while another replica leads (leader election): this one takes no notifications or approvals, and acts
    /// on nothing, until it takes over.
    public internal(set) var isStandingBy = false

    public init(settings: Settings) {
        self.settings = settings
        rateLimit = settings.incidentsPerAlertNamePerHour.map { IncidentRateLimit(limit: $0) }
    }

    // MARK: - Queries

    public func incident(_ id: UUID) -> Incident? { live[id] }

    /// Whether the incident is waiting for its claim (its group's notifications wait for it too).
    public func isOpening(_ id: UUID) -> Bool { openings[id] != nil }

    /// The secret of a live incident: its callback URL's and its result signatures' key.
    public func callbackSecret(of id: UUID) -> String? { live[id]?.callbackSecret }

    /// Live incidents, oldest first.
    public var liveIncidents: [Incident] { live.values.sorted { $0.createdAt < $1.createdAt } }

    /// Stops taking new incidents and approvals (graceful shutdown).
    public mutating func stopAccepting() { isAccepting = false }

    /// Another replica leads: refuse notifications and approvals (`.standingBy`) until `takeOver()`.
    public mutating func standBy() { isStandingBy = true }

    /// This replica leads now: take notifications and approvals.
    public mutating func takeOver() { isStandingBy = false }

    // MARK: - Applying an incident's events

    /// Applies an event to a live incident and turns what its state machine asks into effects: the new version is
    /// saved before anything is acted on, so a restart knows of everything started. An incident still opening
    /// ignores events until its claim is decided.
    mutating func apply(_ event: IncidentEvent, to id: UUID) -> (outcome: EventOutcome, incident: Incident?, effects: [Effect]) {
        guard var incident = live[id] else { return (.ignored("incident is not open"), nil, []) }
        // An incident still opening takes no event but its claim's outcome: nothing of it was launched or saved.
        guard openings[id] == nil else { return (.ignored("incident is still opening"), incident, []) }
        let before = incident
        let outcome = incident.handle(event)
        guard case .applied(let actions) = outcome else { return (outcome, incident, []) }
        var effects: [Effect] = incident.runs
            .filter { $0.state.isFinished && before.run($0.id)?.state.isFinished == false }
            .map(Effect.runFinished)
        effects += boundsReached(event, before: before, after: incident)
        incident.revision += 1
        live[id] = incident
        effects.append(.save(incident))
        effects += translate(actions, of: incident)
        return (outcome, live[id] ?? incident, effects)
    }

    /// The effects of an incident's actions; the table's own part (the group index, leaving the table) is done here.
    mutating func translate(_ actions: [IncidentAction], of incident: Incident) -> [Effect] {
        var effects: [Effect] = []
        let id = incident.id
        for action in actions {
            switch action {
            case .launch(let runID, let recipe):
                if incident.run(runID) != nil { effects.append(.launch(incident: id, runID: runID, recipe: recipe)) }
            case .cancelRun(let runID):
                effects.append(.cancelRun(incident: id, runID: runID))
            case .notifyResolved(let cancelled):
                effects.append(.notifyResolved(incident: id, alert: incident.alert.summary, cancelledRuns: cancelled))
            case .endDeduplication:
                endDeduplication(of: incident)
            case .notifyAnalysis(let analysis):
                effects.append(.notifyAnalysis(incident: id, analysis))
                if incident.runs.contains(where: { $0.kind == .debugging }) {
                    effects.append(.cleanUp(incident: id, .debugging))
                }
            case .notifyActionOutcome(let approvalID, let analysis):
                effects.append(.notifyActionOutcome(incident: id, approvalID: approvalID, analysis))
                effects.append(.cleanUp(incident: id, .approval(approvalID)))
            case .scheduleApprovalDeadline(let deadline):
                effects.append(.scheduleDeadline(incident: id, at: deadline))
            case .release:
                live[id] = nil
                openings[id] = nil
                endDeduplication(of: incident)
                effects.append(.released(incident))
            }
        }
        return effects
    }

    /// The group's next notification opens a new incident.
    mutating func endDeduplication(of incident: Incident) {
        if openByIdentity[incident.identity] == incident.id { openByIdentity[incident.identity] = nil }
    }

    private func boundsReached(_ event: IncidentEvent, before: Incident, after: Incident) -> [Effect] {
        var effects: [Effect] = []
        let forgotten = after.forgottenAlertCount - before.forgottenAlertCount
        if forgotten > 0 { effects.append(.boundReached(.alertKeys, count: forgotten)) }
        if case .notifiedAgain(_, let recipes, _, _) = event, !recipes.isEmpty, before.runs.count < Incident.maxRuns,
           after.runs.count == Incident.maxRuns {
            effects.append(.boundReached(.runs, count: 1))
        }
        if case .resultReceived(let result, _) = event, result.bounded() != result {
            effects.append(.boundReached(.resultSize, count: 1))
        }
        return effects
    }
}
