import Foundation
import Testing

@testable import EuphrosyneCore

/// The incident table as a value: every event it takes, in every state an incident or an opening can be in, and
/// the interleavings a coordinator used to re-check after each `await` (a duplicate during an opening, a resolve
/// or an approval before the claim is decided, a result for an incident that never held its group).
@Suite struct IncidentTableTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    static func recipe(_ name: String, kind: RecipeKind = .debugging, newAlerts: Bool = false) -> Recipe {
        var recipe = Recipe(name: name, kind: kind, enabled: true, entrypoint: name, arguments: [name])
        recipe.runsForNewAlerts = newAlerts
        return recipe
    }

    static let catalog = RecipeCatalog(debugging: [recipe("dummy")], actions: [recipe("jira", kind: .action)])
    static let empty = RecipeCatalog(debugging: [], actions: [])

    static func payload(_ group: String, status: String = "firing", alerts: [String] = ["a"]) -> [String: JSONValue] {
        [
            "version": .string("4"), "status": .string(status), "groupKey": .string(group),
            "commonLabels": .object(["alertname": .string(group)]),
            "alerts": .array(alerts.map { fingerprint in
                .object(["status": .string(status), "fingerprint": .string(fingerprint),
                         "labels": .object(["alertname": .string(group)])])
            }),
        ]
    }

    /// Takes a notification into `table` with fresh ids.
    static func receive(
        _ table: inout IncidentTable, _ payload: [String: JSONValue], catalog: RecipeCatalog = catalog, at seconds: Double = 0
    ) -> IncidentTable.Intake {
        let alert = AlertNotification(raw: payload)
        return table.receive(alert: alert, identity: alert.identityKey, catalog: catalog,
                             at: at(seconds)) { (UUID(), "secret") }
    }

    /// A table holding one open incident of group `g`, diagnosing with run 1 of `dummy` (claimed), and its id.
    static func diagnosing(settings: IncidentTable.Settings = .init()) -> (IncidentTable, UUID) {
        var table = IncidentTable(settings: settings)
        guard case .opening(let incident, _) = receive(&table, payload("g")) else { fatalError("expected an opening") }
        _ = table.claimed(incident.id)
        return (table, incident.id)
    }

    static func result(_ id: UUID, _ name: String = "dummy", actions: [String] = ["jira"]) -> RecipeResult {
        RecipeResult(incident: id.uuidString.lowercased(), name: name, status: .successful,
                     results: .init(actions: actions, analysis: "looked"))
    }

    /// A table whose incident is analysed (suggesting jira), and its id.
    static func analysed() -> (IncidentTable, UUID) {
        var (table, id) = diagnosing()
        _ = table.deliver(result(id), at: at(1))
        return (table, id)
    }

    // MARK: - Intake

    @Test func aNewGroupOpensWatchedAndClaimedThenItsRunsLaunchOnceTheClaimHolds() throws {
        var table = IncidentTable(settings: .init())
        guard case .opening(let incident, let effects) = Self.receive(&table, Self.payload("g")) else {
            Issue.record("expected an opening")
            return
        }
        #expect(incident.state == .diagnosing && incident.runs.map(\.recipe) == ["dummy"] && incident.revision == 1)
        #expect(effects == [.watch(incident.id), .claim(incident)])
        #expect(table.isOpening(incident.id) && table.live.count == 1)
        // Nothing launches before the claim is decided.
        #expect(!effects.contains { if case .launch = $0 { true } else { false } })
        let (opened, held) = table.claimed(incident.id)
        #expect(opened == incident)
        #expect(held == [.launch(incident: incident.id, runID: 1, recipe: Self.recipe("dummy"))])
        #expect(!table.isOpening(incident.id))
        // Claimed once only.
        #expect(table.claimed(incident.id).effects.isEmpty)
    }

    @Test func anIncidentWithNothingToRunClosesAsFailedOnceClaimed() {
        var table = IncidentTable(settings: .init())
        guard case .opening(let incident, let opening) = Self.receive(&table, Self.payload("g"), catalog: Self.empty) else {
            Issue.record("expected an opening")
            return
        }
        #expect(incident.state == .failed)
        // No run, so no result to wait for: it is claimed without being watched.
        #expect(opening == [.claim(incident)])
        let held = table.claimed(incident.id).effects
        #expect(held.count == 2)
        guard case .notifyAnalysis = held.first, case .released(let released) = held.last else {
            Issue.record("expected the analysis and the release: \(held)")
            return
        }
        #expect(released.id == incident.id && table.live.isEmpty)
        // Its group is free: the next notification opens a new incident.
        guard case .opening = Self.receive(&table, Self.payload("g"), catalog: Self.empty) else {
            Issue.record("expected a new opening")
            return
        }
    }

    @Test func whileAGroupIsOpeningItsNotificationsWaitThenJoinOrOpenAfresh() {
        var table = IncidentTable(settings: .init())
        guard case .opening(let first, _) = Self.receive(&table, Self.payload("g")) else { return }
        #expect(Self.receive(&table, Self.payload("g")) == .waitForOpening(first.id))
        #expect(Self.receive(&table, Self.payload("g", status: "resolved")) == .waitForOpening(first.id))
        // Claimed: the waiting notification, asked again, joins.
        _ = table.claimed(first.id)
        guard case .joined(let joined, let started, let effects) = Self.receive(&table, Self.payload("g")) else {
            Issue.record("expected a join")
            return
        }
        #expect(joined.id == first.id && joined.notificationCount == 2 && started.isEmpty)
        #expect(effects == [.save(joined)])

        // Refused (another process holds the group): the opening leaves as if it never was; the next one opens.
        var other = IncidentTable(settings: .init())
        guard case .opening(let lost, _) = Self.receive(&other, Self.payload("h")) else { return }
        #expect(other.claimRefused(lost.id) == [.abandoned(lost.id)])
        #expect(other.live.isEmpty && !other.isOpening(lost.id))
        guard case .opening(let fresh, _) = Self.receive(&other, Self.payload("h")) else {
            Issue.record("expected a new opening")
            return
        }
        #expect(fresh.id != lost.id)
        // A result or an approval for the abandoned one finds nothing live.
        #expect(other.deliver(Self.result(lost.id), at: Self.at(1)) == .notLive)
        #expect(other.approve(lost.id, .init(actions: [ActionRequest(name: "jira")]), catalog: Self.catalog, at: Self.at(1))
                == .needsStoredIncident)
    }

    @Test func aResolvedNotificationResolvesItsOpenIncidentOrIsIgnored() {
        var (table, id) = Self.diagnosing()
        guard case .resolved(let resolved, let effects) = Self.receive(&table, Self.payload("g", status: "resolved"), at: 5) else {
            Issue.record("expected a resolve")
            return
        }
        #expect(resolved.state == .resolved && resolved.run(1)?.state == .cancelled)
        #expect(effects.contains(.cancelRun(incident: id, runID: 1)))
        #expect(effects.contains { if case .notifyResolved = $0 { true } else { false } })
        #expect(effects.contains { if case .released = $0 { true } else { false } })
        #expect(table.live.isEmpty)
        #expect(Self.receive(&table, Self.payload("g", status: "resolved"))
                == .ignored("the notification is resolved and its group has no open incident"))
    }

    @Test func newAlertsOfAnOpenGroupStartTheRecipesThatAskForThem() {
        let catalog = RecipeCatalog(debugging: [Self.recipe("dummy"), Self.recipe("again", newAlerts: true)], actions: [])
        var table = IncidentTable(settings: .init())
        guard case .opening(let incident, _) = Self.receive(&table, Self.payload("g"), catalog: catalog) else { return }
        _ = table.claimed(incident.id)
        guard case .joined(_, let started, let effects) = Self.receive(&table, Self.payload("g", alerts: ["a", "b"]),
                                                                     catalog: catalog) else {
            Issue.record("expected a join")
            return
        }
        #expect(started == ["again"])
        #expect(effects.contains(.launch(incident: incident.id, runID: 3, recipe: Self.recipe("again", newAlerts: true))))
    }

    @Test func refusalsTooManyOpenAndShuttingDown() {
        var capped = IncidentTable(settings: .init(maxOpenIncidents: 1))
        guard case .opening(let only, _) = Self.receive(&capped, Self.payload("g")) else { return }
        _ = capped.claimed(only.id)
        #expect(Self.receive(&capped, Self.payload("other"))
                == .refused(.tooManyOpenIncidents(limit: 1, retryAfterSeconds: IncidentTable.tooManyOpenRetryAfterSeconds)))
        // An open group still joins at the cap.
        guard case .joined = Self.receive(&capped, Self.payload("g")) else {
            Issue.record("expected a join at the cap")
            return
        }
        capped.stopAccepting()
        #expect(Self.receive(&capped, Self.payload("g")) == .refused(.shuttingDown))
        #expect(capped.approve(only.id, .init(actions: [ActionRequest(name: "jira")]), catalog: Self.catalog, at: Self.at(1))
                == .shuttingDown)
    }

    @Test func theRateLimitCountsOpeningsPerAlertName() {
        var table = IncidentTable(settings: .init(incidentsPerAlertNamePerHour: 1))
        let first = Self.payload("g")
        var second = Self.payload("g2")
        second["commonLabels"] = .object(["alertname": .string("g")])
        second["alerts"] = .array([.object(["status": .string("firing"), "fingerprint": .string("b"),
                                            "labels": .object(["alertname": .string("g")])])])
        guard case .opening = Self.receive(&table, first) else { return }
        #expect(Self.receive(&table, second, at: 10) == .refused(.rateLimited(alertName: "g", retryAfterSeconds: 3_590)))
    }

    // MARK: - Results and runs

    @Test func resultsRunsAndTheirEndings() {
        var (table, id) = Self.diagnosing()
        let started = table.runStarted(1, of: id, at: Self.at(1))
        #expect(started.count == 1 && table.incident(id)?.run(1)?.state == .running)
        guard case .accepted(let analysed, let effects) = table.deliver(Self.result(id), at: Self.at(2)) else {
            Issue.record("expected the result to be taken")
            return
        }
        #expect(analysed.state == .analysed)
        #expect(effects.contains { if case .runFinished = $0 { true } else { false } })
        #expect(effects.contains { if case .notifyAnalysis = $0 { true } else { false } })
        #expect(effects.contains(.cleanUp(incident: id, .debugging)))
        #expect(effects.contains { if case .scheduleDeadline(id, _) = $0 { true } else { false } })
        // The same result again, and the run ending after it, change nothing.
        #expect(table.deliver(Self.result(id), at: Self.at(3)) == .ignored("duplicate result from dummy"))
        #expect(table.runEnded(1, of: id, exit: .exited(status: 0, stderrTail: ""), at: Self.at(4)).endedWithoutResult == nil)
        // A result from a recipe the incident did not run.
        #expect(table.deliver(Self.result(id, "other"), at: Self.at(5)) == .ignored("result from other, which this incident did not run"))
    }

    @Test func aRunThatEndsWithoutReportingFailsTheIncident() {
        var (table, id) = Self.diagnosing()
        let (ended, effects) = table.runEnded(1, of: id, exit: .exited(status: 2, stderrTail: "boom"), at: Self.at(3))
        #expect(ended?.state == .failed && ended?.failureReason?.contains("boom") == true)
        #expect(effects.contains { if case .released = $0 { true } else { false } })
        #expect(table.live.isEmpty && table.runToLaunch(1, of: id) == nil)
    }

    @Test func theApprovalDeadlineExpiresAnAnalysedIncidentAndAStaleOneDoesNothing() {
        var (table, id) = Self.analysed()
        let deadline = table.incident(id)!.approvalDeadline!
        #expect(table.deadlinePassed(id, at: deadline.addingTimeInterval(-1)).isEmpty)
        let effects = table.deadlinePassed(id, at: deadline)
        #expect(effects.contains { if case .released(let incident) = $0 { incident.state == .expired } else { false } })
        #expect(table.deadlinePassed(id, at: deadline).isEmpty)
    }

    // MARK: - Approvals

    @Test func approvalsOfALiveIncidentStartDuplicateOrRefuseWithAnAudit() {
        var (table, id) = Self.analysed()
        let request = ApprovalRequest(actions: [ActionRequest(name: "jira")], approvedBy: "token:ops")
        guard case .decided(let acting, .started(let approval, _), let effects) =
                table.approve(id, request, catalog: Self.catalog, at: Self.at(10)) else {
            Issue.record("expected the approval to start")
            return
        }
        #expect(acting.state == .acting && approval.id == 1)
        #expect(effects.first == .save(acting))
        #expect(effects.contains(.launch(incident: id, runID: 2, recipe: Self.recipe("jira", kind: .action))))
        guard case .decided(_, .duplicate(let earlier), let again) = table.approve(id, request, catalog: Self.catalog, at: Self.at(11)) else {
            Issue.record("expected a duplicate")
            return
        }
        #expect(earlier.id == 1 && again.count == 1)
        guard case .rejected(.unknownAction("nope"), let audit) =
                table.approve(id, .init(actions: [ActionRequest(name: "nope")]), catalog: Self.catalog, at: Self.at(12)) else {
            Issue.record("expected a refusal")
            return
        }
        guard case .save(let audited) = audit.first else { return }
        #expect(audited.approvalAttempts.last?.outcome == .refused)
        #expect(table.recordRefusedApproval(id, request, reason: "not on the list", at: Self.at(13)).count == 1)
        #expect(table.recordRefusedApproval(UUID(), request, reason: "x", at: Self.at(13)).isEmpty)
    }

    @Test func aStoredResolvedIncidentIsReadmittedOnlyWhenThePolicyAllows() {
        var (table, id) = Self.analysed()
        guard case .resolved(let resolved, _) = Self.receive(&table, Self.payload("g", status: "resolved")) else { return }
        #expect(table.incident(id) == nil)
        let request = ApprovalRequest(actions: [ActionRequest(name: "jira")])
        #expect(table.approve(id, request, catalog: Self.catalog, at: Self.at(20)) == .needsStoredIncident)
        #expect(table.approve(stored: nil, request, catalog: Self.catalog, at: Self.at(20)) == .notFound)
        guard case .rejected(.closed(.resolved, _), let none) =
                table.approve(stored: resolved, request, catalog: Self.catalog, at: Self.at(20)) else {
            Issue.record("expected a refusal under the default policy")
            return
        }
        #expect(none.isEmpty && table.incident(id) == nil)

        var lenient = IncidentTable(settings: .init(approvalPolicy: ApprovalPolicy(allowsResolvedIncidents: true)))
        guard case .decided(let readmitted, .started, let effects) =
                lenient.approve(stored: resolved, request, catalog: Self.catalog, at: Self.at(21)) else {
            Issue.record("expected the readmitted incident to act")
            return
        }
        #expect(readmitted.state == .resolved && effects.first == .watch(id))
        #expect(lenient.incident(id) != nil)
        // Its action run ends: it leaves the table again.
        let ended = lenient.deliver(Self.result(id, "jira", actions: []), at: Self.at(22))
        guard case .accepted(_, let done) = ended else { return }
        #expect(done.contains { if case .released = $0 { true } else { false } })
        #expect(lenient.incident(id) == nil)
    }

    // MARK: - Resume and threads

    @Test func resumeTakesBackOpenIncidentsTheirRunsAndDeadlinesAndLeavesLiveOnesAlone() {
        let (source, id) = Self.analysed()
        let analysedIncident = source.incident(id)!
        var (diagnosingTable, runningID) = Self.diagnosing()
        _ = diagnosingTable.runStarted(1, of: runningID, at: Self.at(1))
        let running = diagnosingTable.incident(runningID)!

        var table = IncidentTable(settings: .init())
        let effects = table.resume([analysedIncident, running])
        #expect(effects.contains(.watch(id)) && effects.contains(.watch(runningID)))
        #expect(effects.contains(.scheduleDeadline(incident: id, at: analysedIncident.approvalDeadline!)))
        #expect(effects.contains(.reattach(incident: runningID, run: running.run(1)!, deadline: Self.at(1 + 300))))
        #expect(table.live.count == 2)
        // A group resumed is deduplicated as before.
        guard case .joined = Self.receive(&table, Self.payload("g")) else {
            Issue.record("expected the resumed incident to take its group's notifications")
            return
        }
        #expect(table.resume([analysedIncident]).isEmpty)
    }

    /// A run decided but not started (behind the run cap, or the process stopped before recording its start) is
    /// launched by the next process; one that started is followed, not launched again.
    @Test func resumeLaunchesRunsThatNeverStartedAndFollowsTheOthers() throws {
        var (source, id) = Self.diagnosing()
        _ = source.runStarted(1, of: id, at: Self.at(1))
        var incident = try #require(source.incident(id))
        incident.runs.append(RecipeRun(id: 2, recipe: "dummy", kind: .debugging, description: "", name: "dummy-x",
                                       timeoutSeconds: 60, createdAt: Self.at(1)))
        var table = IncidentTable(settings: .init())
        let effects = table.resume([incident], catalog: Self.catalog, at: Self.at(2))
        #expect(effects.contains(.launch(incident: id, runID: 2, recipe: Self.catalog.debugging[0])))
        #expect(effects.contains { if case .reattach(_, let run, _) = $0 { run.id == 1 } else { false } })
        #expect(!effects.contains { if case .launch(_, 1, _) = $0 { true } else { false } })
        // A recipe no longer in the registry, a launcher that would start it twice (no catalog), or a run whose
        // timeout passed while nobody led: followed until its timeout, as before.
        let followed = { (effect: IncidentTable.Effect) -> Bool in
            if case .reattach(_, let run, _) = effect { run.id == 2 } else { false }
        }
        var without = IncidentTable(settings: .init())
        #expect(without.resume([incident], catalog: RecipeCatalog(debugging: [], actions: []), at: Self.at(2)).contains(where: followed))
        var local = IncidentTable(settings: .init())
        #expect(local.resume([incident], catalog: nil, at: Self.at(2)).contains(where: followed))
        var late = IncidentTable(settings: .init())
        #expect(late.resume([incident], catalog: Self.catalog, at: Self.at(62)).contains(where: followed))
    }

    /// A leader that stopped after saving an analysis but before delivering it: the next one sends it.
    @Test func aResumedIncidentGetsTheAnalysisItsPredecessorHadNotDelivered() throws {
        let (source, id) = Self.analysed()
        var incident = try #require(source.incident(id))
        let analysis = try #require(incident.analysis)
        let isAnalysisNotice = { (effect: IncidentTable.Effect) -> Bool in
            if case .notifyAnalysis = effect { true } else { false }
        }
        var table = IncidentTable(settings: .init())
        #expect(table.resume([incident]).contains(.notifyAnalysis(incident: id, analysis)))

        // Delivered before the stop: nothing to send again.
        incident.recordSent(NotificationKey.analysis(id, analysis))
        var delivered = IncidentTable(settings: .init())
        #expect(!delivered.resume([incident]).contains(where: isAnalysisNotice))

        // Saved before deliveries were recorded: counts as delivered, so an upgrade sends nothing twice.
        incident.sentNotifications = nil
        var legacy = IncidentTable(settings: .init())
        #expect(!legacy.resume([incident]).contains(where: isAnalysisNotice))
    }

    @Test func aResumedIncidentGetsTheActionOutcomeItsPredecessorHadNotDelivered() throws {
        var (table, id) = Self.analysed()
        _ = table.approve(id, .init(actions: [ActionRequest(name: "jira")]), catalog: Self.catalog, at: Self.at(3))
        let runID = try #require(table.incident(id)?.runs.last?.id)
        _ = table.runStarted(runID, of: id, at: Self.at(4))
        _ = table.deliver(Self.result(id, "jira", actions: []), at: Self.at(5))
        var incident = try #require(table.incident(id))
        #expect(incident.state == .done)
        let approval = try #require(incident.approvals.first)
        let outcome = try #require(approval.outcome)
        incident.recordSent(NotificationKey.analysis(id, try #require(incident.analysis)))
        var fresh = IncidentTable(settings: .init())
        #expect(fresh.resume([incident]).contains(.notifyActionOutcome(incident: id, approvalID: approval.id, outcome)))
        incident.recordSent(NotificationKey.actionOutcome(id, approval: approval.id, outcome))
        var delivered = IncidentTable(settings: .init())
        #expect(!delivered.resume([incident]).contains { if case .notifyActionOutcome = $0 { true } else { false } })
    }

    @Test func aDeliveredNotificationIsRecordedOnceAndSavedOnce() throws {
        var (table, id) = Self.analysed()
        let recorded = table.keepChatThreads([:], sent: "k-1", of: id)
        let effects = try #require(recorded)
        guard case .save(let saved) = effects.first, effects.count == 1 else {
            Issue.record("expected one save, got \(effects)")
            return
        }
        #expect(saved.sentNotifications?.contains("k-1") == true)
        let again = table.keepChatThreads([:], sent: "k-1", of: id)
        #expect(again == [], "nothing new: no save")
        let elsewhere = table.keepChatThreads([:], sent: "k-1", of: UUID())
        #expect(elsewhere == nil, "not live: the coordinator updates the store")
    }

    @Test func chatThreadsAreKeptWithALiveIncident() {
        var (table, id) = Self.diagnosing()
        let effects = table.keepChatThreads(["webex": "m1"], of: id)
        #expect(effects?.count == 1 && table.incident(id)?.chatThreads == ["webex": "m1"])
        // What a chat changed replaces what was kept; an empty value removes it; a card is recorded as shown.
        _ = table.keepChatThreads(["webex": "m2", "webex.buttons": "b1"], of: id)
        #expect(table.incident(id)?.chatThreads == ["webex": "m2", "webex.buttons": "b1"])
        _ = table.keepChatThreads(["webex.buttons": ""], card: "analysed:0123", of: id)
        #expect(table.incident(id)?.chatThreads == ["webex": "m2"])
        #expect(table.incident(id)?.chatCard == "analysed:0123")
        #expect(table.keepChatThreads(["webex": "m1"], of: UUID()) == nil)
    }

    @Test func everyDecisionSavesBeforeItActs() {
        var (table, id) = Self.diagnosing()
        for effects in [table.runStarted(1, of: id, at: Self.at(1)),
                        { if case .accepted(_, let e) = table.deliver(Self.result(id), at: Self.at(2)) { return e } else { return [] } }()] {
            let firstAction = effects.firstIndex { effect in
                switch effect {
                case .save, .runFinished, .boundReached: false
                default: true
                }
            }
            let save = effects.firstIndex { if case .save = $0 { true } else { false } }
            #expect(save != nil)
            if let firstAction, let save { #expect(save < firstAction, "\(effects)") }
        }
    }
}
