import Foundation

extension IncidentTable {
    /// What became of a result handed to the table.
    public enum Delivery: Sendable, Hashable {
        case accepted(Incident, [Effect])
        /// Not applicable (a duplicate, a late result, a recipe the incident did not run); the text says why.
        case ignored(String)
        /// No live incident has this id (it closed, or never was): the coordinator asks the store which.
        case notLive
    }

    /// Hands a recipe's result to its incident.
    public mutating func deliver(_ result: RecipeResult, at now: Date) -> Delivery {
        guard let id = UUID(uuidString: result.incident), live[id] != nil else { return .notLive }
        let (outcome, incident, effects) = apply(.resultReceived(result, at: now), to: id)
        switch outcome {
        case .applied: return .accepted(incident ?? live[id]!, effects)
        case .ignored(let reason): return .ignored(reason)
        }
    }

    /// The launcher started the run.
    public mutating func runStarted(_ runID: Int, of id: UUID, at now: Date) -> [Effect] {
        apply(.runStarted(runID: runID, at: now), to: id).effects
    }

    /// The launcher saw the run end. The run as it ended is returned when this ended it (it had not reported).
    public mutating func runEnded(
        _ runID: Int, of id: UUID, exit: RunExit, at now: Date
    ) -> (endedWithoutResult: RecipeRun?, effects: [Effect]) {
        let (outcome, incident, effects) = apply(.runEnded(runID: runID, exit: exit, at: now), to: id)
        guard case .applied = outcome else { return (nil, effects) }
        return (incident?.run(runID), effects)
    }

    /// The incident's approval deadline came (a timer the coordinator set from `scheduleDeadline`).
    public mutating func deadlinePassed(_ id: UUID, at now: Date) -> [Effect] {
        apply(.approvalWindowPassed(at: now), to: id).effects
    }

    /// The run of `id` to launch now, as the incident is now; nil once the run or its incident is finished (a
    /// queued run of an incident that resolved).
    public func runToLaunch(_ runID: Int, of id: UUID) -> (incident: Incident, run: RecipeRun)? {
        guard let incident = live[id], let run = incident.run(runID), !run.state.isFinished else { return nil }
        return (incident, run)
    }

    /// Takes back the open incidents a previous process left in a durable store: each is watched again, its runs
    /// that started are followed until what is left of their timeout, those still waiting to start (behind the run
    /// cap, or between being decided and being recorded as started) are launched within their timeout, with their
    /// recipe as `catalog` has it now — given only when the launcher finds what the previous process may already
    /// have created instead of starting it twice (the Kubernetes one names a run's Job after it); without it they
    /// are followed like the others. Its approval deadline is set again, and nothing that already ran is launched
    /// again. Incidents already live are left alone.
    public mutating func resume(_ incidents: [Incident], catalog: RecipeCatalog? = nil, at now: Date = Date()) -> [Effect] {
        var effects: [Effect] = []
        for incident in incidents where live[incident.id] == nil && !incident.state.isClosed {
            live[incident.id] = incident
            if openByIdentity[incident.identity] == nil { openByIdentity[incident.identity] = incident.id }
            effects.append(.watch(incident.id))
            for run in incident.unfinishedRuns {
                let deadline = (run.startedAt ?? run.createdAt).addingTimeInterval(TimeInterval(run.timeoutSeconds))
                // Debugging runs only: an action started twice acts twice.
                if run.state == .pending, run.kind == .debugging, deadline > now,
                   let recipe = catalog.flatMap({ Self.recipe(named: run.recipe, kind: run.kind, in: $0) }) {
                    effects.append(.launch(incident: incident.id, runID: run.id, recipe: recipe))
                    continue
                }
                effects.append(.reattach(incident: incident.id, run: run, deadline: deadline))
            }
            if let deadline = incident.approvalDeadline {
                effects.append(.scheduleDeadline(incident: incident.id, at: deadline))
            }
            // What its predecessor saved but had not delivered when it stopped (a crash, a failover): the analysis,
            // and the outcome of each approval whose runs ended.
            if let analysis = incident.analysis, !incident.hasSent(NotificationKey.analysis(incident.id, analysis)) {
                effects.append(.notifyAnalysis(incident: incident.id, analysis))
            }
            for approval in incident.approvals {
                guard let outcome = approval.outcome,
                      !incident.hasSent(NotificationKey.actionOutcome(incident.id, approval: approval.id, outcome))
                else { continue }
                effects.append(.notifyActionOutcome(incident: incident.id, approvalID: approval.id, outcome))
            }
        }
        return effects
    }

    private static func recipe(named name: String, kind: RecipeKind, in catalog: RecipeCatalog) -> Recipe? {
        (kind == .debugging ? catalog.debugging : catalog.actions).first { $0.name == name && $0.enabled }
    }

    /// Keeps what a notification changed in the chats with a live incident (`Incident.keepChatThreads`), and records
    /// the notification (`sent`, its `NotificationKey`) or the card (`card`, its `IncidentCard.key`) as delivered.
    /// Nil when the incident is not live (the coordinator then updates the stored one); no effect when there is
    /// nothing new to keep.
    public mutating func keepChatThreads(
        _ threads: ChatThreads, sent key: String? = nil, card: String? = nil, of id: UUID
    ) -> [Effect]? {
        guard var incident = live[id] else { return nil }
        let before = incident
        incident.keepChatThreads(threads)
        if let key { incident.recordSent(key) }
        if let card { incident.chatCard = card }
        guard incident != before else { return [] }
        incident.revision += 1
        live[id] = incident
        return [.save(incident)]
    }

    // MARK: - Approvals

    /// What the table decided for an approval.
    public enum ApprovalStep: Sendable, Hashable {
        /// Draining for shutdown: no approvals.
        case shuttingDown
        /// Another replica leads: it takes the approvals.
        case standingBy
        /// The incident is not live: load it from the store and call `approve(stored:…)`.
        case needsStoredIncident
        case notFound
        /// Refused; the effects record the attempt in the incident's audit where the incident is live.
        case rejected(ApprovalRejection, [Effect])
        /// Approved (`.started`: the launches are among the effects) or answered with an earlier approval.
        case decided(Incident, ApprovalDecision, [Effect])
    }

    /// Approves actions for a live incident; `.needsStoredIncident` when it is not live.
    public mutating func approve(_ id: UUID, _ request: ApprovalRequest, catalog: RecipeCatalog, at now: Date) -> ApprovalStep {
        guard isAccepting else { return .shuttingDown }
        guard !isStandingBy else { return .standingBy }
        guard live[id] != nil else { return .needsStoredIncident }
        // Its first version is not saved yet (the claim): nothing is recorded before it.
        guard openings[id] == nil else { return .rejected(.stillDiagnosing, []) }
        return decide(id, request, catalog: catalog, readmitted: false, at: now)
    }

    /// Approves actions for an incident that was not live, as the store holds it (nil: none). A resolved incident
    /// is readmitted when the policy allows approving resolved incidents: it is live again until its action runs
    /// end. Any other closed incident refuses.
    public mutating func approve(
        stored: Incident?, _ request: ApprovalRequest, catalog: RecipeCatalog, at now: Date
    ) -> ApprovalStep {
        guard isAccepting else { return .shuttingDown }
        guard !isStandingBy else { return .standingBy }
        guard let stored else { return .notFound }
        if live[stored.id] != nil {
            // Taken back (or resumed) while the store was read: decide on the live one.
            return approve(stored.id, request, catalog: catalog, at: now)
        }
        guard stored.state == .resolved, settings.approvalPolicy.allowsResolvedIncidents else {
            return .rejected(.closed(stored.state, reason: stored.closedReason), [])
        }
        live[stored.id] = stored
        return decide(stored.id, request, catalog: catalog, readmitted: true, at: now)
    }

    private mutating func decide(
        _ id: UUID, _ request: ApprovalRequest, catalog: RecipeCatalog, readmitted: Bool, at now: Date
    ) -> ApprovalStep {
        var incident = live[id]!
        let decision: ApprovalDecision
        do {
            decision = try incident.approve(request, catalog: catalog, policy: settings.approvalPolicy,
                                            defaultTimeoutSeconds: settings.defaultRecipeTimeoutSeconds, at: now)
        } catch {
            if readmitted {
                live[id] = nil
                return .rejected(error, [])
            }
            incident.recordRefusedApproval(request, reason: error.description, at: now)
            incident.revision += 1
            live[id] = incident
            return .rejected(error, [.save(incident)])
        }
        incident.revision += 1
        switch decision {
        case .duplicate:
            live[id] = readmitted ? nil : incident
            return .decided(incident, decision, [.save(incident)])
        case .started(_, let actions):
            live[id] = incident
            var effects: [Effect] = readmitted ? [.watch(id)] : []
            effects.append(.save(incident))
            effects += translate(actions, of: incident)
            return .decided(live[id] ?? incident, decision, effects)
        }
    }

    /// Records an approval refused before it reached the incident's rules (an approver not on an allow-list, an
    /// unknown action) in a live incident's audit.
    public mutating func recordRefusedApproval(_ id: UUID, _ request: ApprovalRequest, reason: String, at now: Date) -> [Effect] {
        guard var incident = live[id], openings[id] == nil else { return [] }
        incident.recordRefusedApproval(request, reason: reason, at: now)
        incident.revision += 1
        live[id] = incident
        return [.save(incident)]
    }
}
