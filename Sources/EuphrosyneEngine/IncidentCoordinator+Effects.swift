import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging

extension IncidentCoordinator {
    // MARK: - Carrying out the table's effects

    /// Carries out the effects in order. Saving and watching are awaited here (what follows depends on them);
    /// runs, notifications and clean-ups are handed to `run()`'s task groups, so the caller (a webhook request)
    /// does not wait for them.
    func perform(_ effects: [IncidentTable.Effect]) async {
        for effect in effects {
            switch effect {
            case .save(let incident):
                await save(incident)
                offerCard(incident)
                changes.publish(IncidentChange(incident))
            case .watch(let id):
                await resultSource.watch(incident: id)
            case .claim:
                // Only `open` claims, and it does so itself.
                continue
            case .launch(let id, let runID, let recipe):
                launch(runID, recipe: recipe, of: id)
            case .reattach(let id, let run, let deadline):
                reattach(run, of: id, until: deadline)
            case .cancelRun(let id, let runID):
                metrics.runsCancelledOnResolve.increment()
                runCancellations.withLock { $0[id]?[runID] }?.cancel(reason: "the alert resolved")
            case .notifyAnalysis(let id, let analysis):
                notify(.analysis(incident: id, analysis))
            case .notifyActionOutcome(let id, let approvalID, let analysis):
                notify(.actionOutcome(incident: id, approvalID: approvalID, analysis))
            case .notifyResolved(let id, let alert, let cancelledRuns):
                notify(.resolved(incident: id, alert: alert, cancelledRuns: cancelledRuns))
            case .cleanUp(let id, let phase):
                spawnTask { [launcher, launchesInFlight] in
                    await launchesInFlight.settled(id)
                    await launcher.cleanUp(incident: id, phase: phase)
                }
            case .scheduleDeadline(let id, let deadline):
                deadlines.schedule(id, at: deadline)
            case .released(let incident):
                release(incident)
            case .abandoned(let id):
                await resultSource.unwatch(incident: id)
            case .runFinished(let run):
                metrics.runFinished(run)
            case .boundReached(let bound, let count):
                metrics.increment("euphrosyne_incident_bounds_total", [("bound", bound.rawValue)], by: count)
            }
        }
    }

    func save(_ incident: Incident) async {
        do {
            try await store.save(incident)
        } catch {
            logger(for: incident.id).error("could not save incident", metadata: ["error": "\(error)"])
        }
    }

    /// The incident left the table: its deadline goes, and what it left in the cluster is removed (the result
    /// source stops watching it in the same piece of work). An incident that never had a run was never watched
    /// and left nothing behind; `open` logged why it closed.
    private func release(_ incident: Incident) {
        metrics.increment("euphrosyne_incidents_closed_total", [("state", incident.state.rawValue)])
        guard !incident.runs.isEmpty else { return }
        deadlines.cancel(incident.id)
        logger(for: incident.id).info("incident closed", metadata: [
            "state": "\(incident.state.rawValue)", "reason": "\(incident.closedReason ?? "")",
        ])
        let id = incident.id
        spawnTask { [launcher, resultSource, launchesInFlight] in
            await launchesInFlight.settled(id)
            await launcher.cleanUp(incident: id, phase: .all)
            await resultSource.unwatch(incident: id)
        }
    }

    func notify(_ notification: ChatNotification) {
        let threads = notification.incidentID.flatMap { id in table.withLock { $0.incident(id)?.chatThreads } } ?? [:]
        spawnTask { [notifier, logger, metrics] in
            do {
                let started = try await notifier.send(notification, threads: threads)
                // Recorded as delivered, so a leader taking over does not send it again.
                if let id = notification.incidentID, !started.isEmpty || notification.idempotencyKey != nil {
                    await self.keepChatThreads(started, sent: notification.idempotencyKey, of: id)
                }
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", notification.kind), ("outcome", "delivered")])
            } catch {
                // Several chats: the ones that worked may have started threads worth keeping.
                if let partial = error as? FanOutNotifier.PartialFailure, !partial.started.isEmpty,
                   let id = notification.incidentID {
                    await self.keepChatThreads(partial.started, sent: nil, of: id)
                }
                metrics.increment("euphrosyne_notifications_sent_total", [("kind", notification.kind), ("outcome", "failed")])
                var logger = logger
                if let id = notification.incidentID { logger[metadataKey: "incident"] = "\(id.uuidString.lowercased())" }
                logger.error("notification not delivered", metadata: [
                    "kind": "\(notification.kind)", "error": "\(error)",
                ])
            }
        }
    }

    /// Keeps what a notification changed in the chats with the incident (saved, so a restarted or other reconciler
    /// replies in the same threads and edits the same messages), whether it is still open or already closed, and
    /// records the notification (`sent`) or card (`card`) as delivered.
    func keepChatThreads(_ threads: ChatThreads, sent key: String?, card: String? = nil, of id: UUID) async {
        if let effects = table.withLock({ $0.keepChatThreads(threads, sent: key, card: card, of: id) }) {
            await perform(effects)
            return
        }
        guard var stored = try? await store.incident(id) else { return }
        let before = stored
        stored.keepChatThreads(threads)
        if let key { stored.recordSent(key) }
        if let card { stored.chatCard = card }
        guard stored != before else { return }
        stored.revision += 1
        await save(stored)
    }

    func deadlinePassed(_ id: UUID) async {
        await perform(table.withLock { $0.deadlinePassed(id, at: now()) })
    }

    // MARK: - Runs

    /// Starts a run once the run cap allows: the launch request (its data, its deadline) is made at that moment
    /// from the incident as it is then. A stop requested while it waits or runs (`.cancelRun`) cancels it.
    private func launch(_ runID: Int, recipe: Recipe, of id: UUID) {
        let cancellation = RunCancellation()
        runCancellations.withLock { $0[id, default: [:]][runID] = cancellation }
        spawnRun { [launcher, runSlots, launchesInFlight] in
            let exit = await Self.run(until: cancellation) {
                guard await runSlots.acquire() else {
                    return .cancelled(reason: cancellation.reason ?? "the reconciler stopped before the run could start")
                }
                // Begun before the table is read: a clean-up of this incident now waits until the Job exists.
                let inFlight = launchesInFlight.begin(id)
                guard let request = self.launchRequest(runID, recipe: recipe, of: id, cancellation: cancellation) else {
                    inFlight.end()
                    runSlots.release()
                    return .cancelled(reason: cancellation.reason ?? "the incident closed before the run could start")
                }
                let exit = await launcher.run(request) {
                    inFlight.end()
                    await self.perform(self.table.withLock { $0.runStarted(runID, of: id, at: self.now()) })
                }
                inFlight.end()
                runSlots.release()
                return exit
            }
            await self.runFinished(runID, of: id, exit: exit)
        }
    }

    /// A run started by a previous process. The launcher follows it again where it can (a Job); otherwise the
    /// coordinator enforces its timeout. A resolve stops it like any other run.
    private func reattach(_ run: RecipeRun, of id: UUID, until deadline: Date) {
        let cancellation = RunCancellation()
        runCancellations.withLock { $0[id, default: [:]][run.id] = cancellation }
        spawnRun { [launcher, clock, now] in
            let exit = await Self.run(until: cancellation) {
                if let exit = await launcher.reattach(incident: id, run: run, until: deadline, cancellation: cancellation) {
                    return exit
                }
                let wait = deadline.timeIntervalSince(now())
                if wait > 0 {
                    do { try await clock.sleep(for: .milliseconds(Int64(wait * 1000))) } catch {
                        return .cancelled(reason: cancellation.reason ?? "the reconciler stopped watching the run")
                    }
                }
                return .timedOut
            }
            await self.runFinished(run.id, of: id, exit: exit)
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
        runCancellations.withLock { cancellations in
            cancellations[id]?[runID] = nil
            if cancellations[id]?.isEmpty == true { cancellations[id] = nil }
        }
        if stopping.load(ordering: .relaxed), store.isDurable {
            // The run goes on without us (a Job, a detached process), or ended while we stop and its result may
            // be in Redis where we can no longer read it: the next start resumes the incident and finds out.
            return
        }
        let stillRunning = { self.table.withLock { $0.incident(id)?.run(runID)?.state.isFinished == false } }
        if case .exited = exit, resultSource.resultsMayTrailExit, stillRunning() {
            // A recipe reports and exits at once; over Redis the message may land after the exit is seen. Its
            // durable copy is already written (RecipeKit writes it first): read it now. A recipe that only
            // PUBLISHes gets a moment more.
            for result in await resultSource.storedResults(incident: id) { _ = await deliver(result, via: .published) }
            if stillRunning() { try? await clock.sleep(for: configuration.resultGraceAfterExit) }
        }
        let (ended, effects) = table.withLock { $0.runEnded(runID, of: id, exit: exit, at: now()) }
        await perform(effects)
        if let ended {
            logger(for: id).warning("recipe run did not report", metadata: [
                "recipe": "\(ended.recipe)", "run": "\(ended.name)", "reason": "\(ended.failureReason ?? "")",
            ])
        }
    }

    /// The launch request of a run about to start, from the incident as it is now; nil once the run or its
    /// incident is finished (a queued run of an incident that resolved).
    private func launchRequest(
        _ runID: Int, recipe: Recipe, of id: UUID, cancellation: RunCancellation
    ) -> LaunchRequest? {
        guard let (incident, run) = table.withLock({ $0.runToLaunch(runID, of: id) }) else { return nil }
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
            environment: environment, cancellation: cancellation, resultKey: incident.callbackSecret,
            hasReported: { self.table.withLock { $0.incident(id)?.run(runID)?.result != nil } }
        )
    }
}
