import Foundation

// The incident state machine: events in, actions out, no I/O.
//
//   received ──open──▶ diagnosing ──every debugging run finished──▶ analysed ──approve──▶ acting
//                          │                                            │  ▲                 │
//                          └── no run reported / nothing to run ──▶ failed   └─ approve ── done ◀┘ every action run finished
//   analysed / done ──approval window passed──▶ expired
//   any open state ──the group resolved──▶ resolved (debugging runs still going are cancelled)
//
// Results are matched to unfinished runs by recipe name; anything else (unknown recipe, duplicate, late) is ignored
// with a reason so the coordinator can log and count it.

extension Incident {
    /// Applies an event and says what must happen next.
    public mutating func handle(_ event: IncidentEvent) -> EventOutcome {
        switch event {
        case .open(let recipes, let defaultTimeout, let now):
            return open(recipes: recipes, defaultTimeoutSeconds: defaultTimeout, at: now)
        case .runStarted(let runID, let now):
            return runStarted(runID, at: now)
        case .runEnded(let runID, let exit, let now):
            return runEnded(runID, exit: exit, at: now)
        case .resultReceived(let result, let now):
            return resultReceived(result, at: now)
        case .notifiedAgain(let notification, let recipes, let defaultTimeout, let now):
            return notifiedAgain(notification, recipesForNewAlerts: recipes, defaultTimeoutSeconds: defaultTimeout, at: now)
        case .resolved(let notification, let now):
            return resolve(notification.raw, at: now)
        case .approvalWindowPassed(let now):
            guard state == .analysed || state == .done, let deadline = approvalDeadline, now >= deadline else {
                return .ignored("approval window timer fired in state \(state.rawValue) before the deadline")
            }
            state = .expired
            closedReason = "no approval within the approval window"
            updatedAt = now
            return .applied([.release])
        }
    }

    /// Approves actions: validates them against the registry and the policy, and starts one action run per
    /// requested action that is not already running or done.
    ///
    /// - All or nothing: one unknown, disabled or (under the default policy) unsuggested action refuses the whole
    ///   approval, so a typo never half-runs it.
    /// - Idempotent: the same `Idempotency-Key` is answered with its earlier approval; an action that already has a
    ///   run underway or one that succeeded is not run again (a failed one may be retried). When nothing is left to
    ///   run the decision is `.duplicate` of the approval that ran it. Approvals are applied one at a time by the
    ///   coordinator, so two racing approvals of one action run it once.
    /// - A resolved incident takes approvals only when the policy allows it; it stays resolved while they run.
    /// - Accepted and duplicate attempts are added to `approvalAttempts`; refusals are recorded by the caller
    ///   (`recordRefusedApproval`), since a refusal changes nothing else.
    public mutating func approve(
        _ request: ApprovalRequest, catalog: RecipeCatalog, policy: ApprovalPolicy = ApprovalPolicy(),
        defaultTimeoutSeconds: Int, at now: Date
    ) throws(ApprovalRejection) -> ApprovalDecision {
        switch state {
        case .received, .diagnosing: throw .stillDiagnosing
        case .failed, .expired: throw .closed(state, reason: closedReason)
        case .resolved where !policy.allowsResolvedIncidents: throw .closed(state, reason: closedReason)
        case .analysed, .acting, .done, .resolved: break
        }
        guard !request.actions.isEmpty else { throw .noActions }
        guard request.encodedDataSize <= Self.maxApprovalDataBytes else {
            throw .dataTooLarge(limit: Self.maxApprovalDataBytes)
        }
        if let key = request.idempotencyKey, let earlier = approvals.first(where: { $0.idempotencyKey == key }) {
            guard earlier.actions == request.actions else { throw .idempotencyKeyReused(key, approvalID: earlier.id) }
            return recordDuplicate(of: earlier, request, at: now)
        }
        let suggested = analysis?.actions ?? []
        var recipes: [Recipe] = []
        for action in request.actions {
            guard let recipe = catalog.action(named: action.name) else { throw .unknownAction(action.name) }
            guard recipe.enabled else { throw .disabledAction(action.name) }
            guard policy.allowsUnsuggestedActions || suggested.contains(action.name) else {
                throw .notSuggested(action.name, suggested: suggested)
            }
            recipes.append(recipe)
        }

        // Actions already underway or done are not run again.
        var toRun: [(ActionRequest, Recipe)] = []
        var earlierApproval: Int?
        for (action, recipe) in zip(request.actions, recipes) {
            // A dry run and a real run of one action never stand in for each other.
            if let existing = runs.first(where: {
                $0.kind == .action && $0.recipe == action.name && $0.blocksReapproval && $0.isDryRun == action.isDryRun
            }) {
                earlierApproval = earlierApproval ?? existing.approvalID
            } else if !toRun.contains(where: { $0.0.name == action.name }) {
                toRun.append((action, recipe))
            }
        }
        if toRun.isEmpty, let id = earlierApproval, let earlier = approvals.first(where: { $0.id == id }) {
            return recordDuplicate(of: earlier, request, at: now)
        }
        guard runs.count + toRun.count <= Self.maxRuns else { throw .runLimitReached(Self.maxRuns) }

        let approvalID = (approvals.map(\.id).max() ?? 0) + 1
        var actions: [IncidentAction] = []
        var runIDs: [Int] = []
        for (action, recipe) in toRun {
            let run = addRun(recipe, defaultTimeoutSeconds: defaultTimeoutSeconds, at: now,
                             approvalID: approvalID, actionData: action.data)
            runIDs.append(run.id)
            actions.append(.launch(runID: run.id, recipe: recipe))
        }
        let approval = Approval(id: approvalID, actions: toRun.map(\.0), approvedAt: now,
                                approvedBy: request.approvedBy, runIDs: runIDs, outcome: nil,
                                idempotencyKey: request.idempotencyKey)
        approvals.append(approval)
        approvalAttempts.append(ApprovalAttempt(
            at: now, by: request.approvedBy, actions: request.actions.map(\.name),
            idempotencyKey: request.idempotencyKey, outcome: .approved, approvalID: approvalID
        ))
        if state != .resolved { state = .acting }
        approvalDeadline = nil
        updatedAt = now
        return .started(approval, actions)
    }

    /// Adds a refused approval to the audit (the API and the bot call it with the rejection's words).
    public mutating func recordRefusedApproval(_ request: ApprovalRequest, reason: String, at now: Date) {
        approvalAttempts.append(ApprovalAttempt(
            at: now, by: request.approvedBy, actions: request.actions.map(\.name),
            idempotencyKey: request.idempotencyKey, outcome: .refused, reason: reason
        ))
        updatedAt = now
    }

    private mutating func recordDuplicate(of earlier: Approval, _ request: ApprovalRequest, at now: Date) -> ApprovalDecision {
        approvalAttempts.append(ApprovalAttempt(
            at: now, by: request.approvedBy, actions: request.actions.map(\.name),
            idempotencyKey: request.idempotencyKey, outcome: .duplicate, approvalID: earlier.id
        ))
        updatedAt = now
        return .duplicate(earlier)
    }

    // MARK: - Transitions

    private mutating func open(recipes: [Recipe], defaultTimeoutSeconds: Int, at now: Date) -> EventOutcome {
        guard state == .received else { return .ignored("incident already opened (state \(state.rawValue))") }
        updatedAt = now
        let runnable = recipes.filter { $0.enabled && $0.kind == .debugging }
        guard !runnable.isEmpty else {
            state = .failed
            closedReason = "no enabled debugging recipe matches the alert"
            let analysis = Analysis(text: "No enabled debugging recipe matches this alert, so nothing was diagnosed.",
                                    actions: [], links: [], successful: [], shortfalls: [])
            self.analysis = analysis
            return .applied([.notifyAnalysis(analysis), .release])
        }
        state = .diagnosing
        let actions = runnable.map { recipe in
            IncidentAction.launch(runID: addRun(recipe, defaultTimeoutSeconds: defaultTimeoutSeconds, at: now).id,
                                  recipe: recipe)
        }
        return .applied(actions)
    }

    private mutating func notifiedAgain(
        _ notification: AlertNotification, recipesForNewAlerts candidates: [Recipe], defaultTimeoutSeconds: Int,
        at now: Date
    ) -> EventOutcome {
        guard !state.isClosed else { return .ignored("incident is \(state.rawValue); a new one opens instead") }
        self.payload = notification.raw
        notificationCount += 1
        lastNotifiedAt = now
        updatedAt = now
        let firing = notification.firingAlerts
        // Most re-sends bring no new alert: a linear look for one or two keys beats building a set of thousands.
        let known = firing.count > 4 ? Set(knownAlerts) : nil
        let newAlerts = firing.filter { alert in
            let key = alert.identityKey
            return !(known?.contains(key) ?? knownAlerts.contains(key))
        }
        remember(newAlerts.map(\.identityKey))
        // Before the diagnosis opens, the first runs will see the new alerts anyway.
        guard state != .received, !newAlerts.isEmpty else { return .applied([]) }
        var launches: [IncidentAction] = []
        for recipe in candidates where recipe.enabled && recipe.kind == .debugging && recipe.runsForNewAlerts {
            let keys = newAlerts.filter { recipe.match.matches($0.labels) }.map(\.identityKey)
            guard !keys.isEmpty else { continue }
            // Past the cap, new alerts are still known, but no more runs start for them.
            guard runs.count < Self.maxRuns else { continue }
            let run = addRun(recipe, defaultTimeoutSeconds: defaultTimeoutSeconds, at: now, alertKeys: keys)
            launches.append(.launch(runID: run.id, recipe: recipe))
        }
        return .applied(launches)
    }

    /// Adds alert keys to `knownAlerts`, forgetting the oldest past `maxKnownAlerts`.
    private mutating func remember(_ keys: [String]) {
        knownAlerts += keys
        let excess = knownAlerts.count - Self.maxKnownAlerts
        if excess > 0 {
            knownAlerts.removeFirst(excess)
            forgottenAlertCount += excess
        }
    }

    private mutating func resolve(_ payload: [String: JSONValue], at now: Date) -> EventOutcome {
        guard !state.isClosed else { return .ignored("incident is already \(state.rawValue)") }
        self.payload = payload
        notificationCount += 1
        lastNotifiedAt = now
        updatedAt = now
        var actions: [IncidentAction] = []
        var cancelled: [String] = []
        // Debugging is pointless once the alert is gone. Approved actions were a human's decision: they finish.
        for index in runs.indices where runs[index].kind == .debugging && !runs[index].state.isFinished {
            runs[index].state = .cancelled
            runs[index].failureReason = "cancelled: the alert resolved"
            runs[index].finishedAt = now
            cancelled.append(runs[index].recipe)
            actions.append(.cancelRun(runID: runs[index].id))
        }
        if analysis == nil, runs.contains(where: { $0.kind == .debugging }) {
            // What was found before the alert resolved is still worth keeping.
            analysis = Analysis.aggregate(runs.filter { $0.kind == .debugging })
        }
        state = .resolved
        resolvedAt = now
        closedReason = "the alert resolved"
        approvalDeadline = nil
        actions.append(.notifyResolved(cancelledRuns: cancelled))
        actions.append(.endDeduplication)
        if unfinishedRuns.isEmpty { actions.append(.release) }
        return .applied(actions)
    }

    private mutating func runStarted(_ runID: Int, at now: Date) -> EventOutcome {
        guard let index = runs.firstIndex(where: { $0.id == runID }) else { return .ignored("no run \(runID)") }
        guard runs[index].state == .pending else {
            // A fast recipe may report before its start is confirmed; keep the start time, nothing else changes.
            if runs[index].startedAt == nil { runs[index].startedAt = now }
            return .ignored("run \(runID) already \(runs[index].state.rawValue)")
        }
        runs[index].state = .running
        runs[index].startedAt = now
        updatedAt = now
        return .applied([])
    }

    private mutating func runEnded(_ runID: Int, exit: RunExit, at now: Date) -> EventOutcome {
        guard let index = runs.firstIndex(where: { $0.id == runID }) else { return .ignored("no run \(runID)") }
        guard !runs[index].state.isFinished else {
            return .ignored("run \(runID) of \(runs[index].recipe) already \(runs[index].state.rawValue)")
        }
        switch exit {
        case .exited(let status, let stderrTail):
            runs[index].state = .failed
            var reason: String
            switch status {
            case 0: reason = "exited without reporting a result"
            case ..<0: reason = "was killed by signal \(-status) without reporting a result"
            default: reason = "exited with status \(status) without reporting a result"
            }
            let tail = stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
            if !tail.isEmpty { reason += "; stderr: \(tail)" }
            runs[index].failureReason = reason
        case .launchFailed(let reason):
            runs[index].state = .failed
            runs[index].failureReason = "could not start: \(reason)"
        case .timedOut:
            runs[index].state = .timedOut
            runs[index].failureReason = "timed out after \(runs[index].timeoutSeconds) s"
        case .cancelled(let reason):
            runs[index].state = .cancelled
            runs[index].failureReason = "cancelled: \(reason)"
        }
        runs[index].startedAt = runs[index].startedAt ?? now
        runs[index].finishedAt = now
        updatedAt = now
        return .applied(afterRunFinished(runs[index], at: now))
    }

    private mutating func resultReceived(_ result: RecipeResult, at now: Date) -> EventOutcome {
        guard result.incident.lowercased() == id.uuidString.lowercased() else {
            return .ignored("result names incident \(result.incident)")
        }
        // Debugging results count while diagnosing, action results while their runs are unfinished.
        let candidates = runs.indices.filter { runs[$0].recipe == result.name }
        guard !candidates.isEmpty else {
            return .ignored("result from \(result.name), which this incident did not run")
        }
        guard let index = candidates.first(where: { !runs[$0].state.isFinished }) else {
            let last = runs[candidates.last!]
            switch last.state {
            case .timedOut: return .ignored("result from \(result.name) arrived after its run timed out")
            case .reported: return .ignored("duplicate result from \(result.name)")
            default: return .ignored("result from \(result.name) arrived after its run \(last.state.rawValue)")
            }
        }
        runs[index].state = .reported
        runs[index].result = result.bounded()
        runs[index].startedAt = runs[index].startedAt ?? now
        runs[index].finishedAt = now
        updatedAt = now
        return .applied(afterRunFinished(runs[index], at: now))
    }

    // MARK: - Phase completion

    private mutating func afterRunFinished(_ run: RecipeRun, at now: Date) -> [IncidentAction] {
        switch run.kind {
        case .debugging:
            guard state != .resolved, runs.allSatisfy({ $0.kind != .debugging || $0.state.isFinished }) else {
                return []
            }
            let analysis = Analysis.aggregate(runs.filter { $0.kind == .debugging })
            self.analysis = analysis
            guard state == .diagnosing else {
                // Runs for alerts that joined later finished after the first analysis: send the updated one.
                return [.notifyAnalysis(analysis)]
            }
            if runs.contains(where: { $0.kind == .debugging && $0.state == .reported }) {
                state = .analysed
                return [.notifyAnalysis(analysis), startApprovalWindow(at: now)]
            }
            state = .failed
            closedReason = "no debugging recipe reported a result"
            return [.notifyAnalysis(analysis), .release]

        case .action:
            var actions: [IncidentAction] = []
            if let approvalIndex = approvals.firstIndex(where: { $0.id == run.approvalID }) {
                let approvalRuns = runs.filter { approvals[approvalIndex].runIDs.contains($0.id) }
                if approvalRuns.allSatisfy({ $0.state.isFinished }) {
                    let outcome = Analysis.aggregate(approvalRuns)
                    approvals[approvalIndex].outcome = outcome
                    actions.append(.notifyActionOutcome(approvalID: approvals[approvalIndex].id, outcome))
                }
            }
            if state == .acting, runs.allSatisfy({ $0.kind != .action || $0.state.isFinished }) {
                state = .done
                actions.append(startApprovalWindow(at: now))
            }
            if state == .resolved, unfinishedRuns.isEmpty { actions.append(.release) }
            return actions
        }
    }

    private mutating func startApprovalWindow(at now: Date) -> IncidentAction {
        let deadline = now.addingTimeInterval(TimeInterval(approvalWindowSeconds))
        approvalDeadline = deadline
        return .scheduleApprovalDeadline(deadline)
    }

    @discardableResult
    private mutating func addRun(
        _ recipe: Recipe, defaultTimeoutSeconds: Int, at now: Date,
        approvalID: Int? = nil, actionData: [String: JSONValue]? = nil, alertKeys: [String]? = nil
    ) -> RecipeRun {
        let runID = (runs.map(\.id).max() ?? 0) + 1
        let run = RecipeRun(
            id: runID, recipe: recipe.name, kind: recipe.kind, description: recipe.description,
            name: RecipeRun.jobStyleName(recipe: recipe.name, incident: id, index: runID),
            timeoutSeconds: recipe.timeoutSeconds ?? defaultTimeoutSeconds, createdAt: now,
            approvalID: approvalID, actionData: actionData, alertKeys: alertKeys
        )
        runs.append(run)
        return run
    }
}
