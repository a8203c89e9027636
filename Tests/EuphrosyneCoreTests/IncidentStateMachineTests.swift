import Foundation
import Testing

@testable import EuphrosyneCore

/// Every transition of the incident state machine, driven as values: events in, actions and state out.
@Suite struct IncidentStateMachineTests {
    static let id = UUID(uuidString: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab")!
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func recipe(_ name: String, kind: RecipeKind = .debugging, enabled: Bool = true, timeout: Int? = nil) -> Recipe {
        Recipe(name: name, kind: kind, enabled: enabled, entrypoint: name, arguments: [name], description: "\(name) recipe",
               timeoutSeconds: timeout)
    }

    static let catalog = RecipeCatalog(
        debugging: [recipe("dummy"), recipe("http-errors")],
        actions: [recipe("jira", kind: .action), recipe("webhook", kind: .action),
                  recipe("restart", kind: .action, enabled: false)]
    )

    static func result(_ name: String, _ status: RecipeResult.Status = .successful, analysis: String = "looked",
                       actions: [String] = []) -> RecipeResult {
        RecipeResult(incident: id.uuidString.lowercased(), name: name, status: status,
                     results: .init(actions: actions, analysis: analysis))
    }

    static func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    /// An incident diagnosing `dummy` (run 1) and `http-errors` (run 2).
    static func diagnosing() -> Incident {
        var incident = Incident(id: id, payload: ["version": .string("4")], callbackSecret: "s", approvalWindowSeconds: 600,
                                at: start)
        _ = incident.handle(.open(recipes: catalog.enabledDebugging, defaultTimeoutSeconds: 300, at: start))
        return incident
    }

    /// An analysed incident whose analysis suggested `jira` and `webhook`.
    static func analysed() -> Incident {
        var incident = diagnosing()
        _ = incident.handle(.resultReceived(result("dummy", actions: ["jira"]), at: at(1)))
        _ = incident.handle(.resultReceived(result("http-errors", actions: ["webhook"]), at: at(2)))
        return incident
    }

    @Test func openingLaunchesEveryEnabledDebuggingRecipe() {
        var incident = Incident(id: Self.id, payload: [:], callbackSecret: "s", at: Self.start)
        let recipes = Self.catalog.debugging + [Self.recipe("off", enabled: false)]
        let outcome = incident.handle(.open(recipes: recipes, defaultTimeoutSeconds: 300, at: Self.start))

        #expect(outcome == .applied([
            .launch(runID: 1, recipe: Self.recipe("dummy")),
            .launch(runID: 2, recipe: Self.recipe("http-errors")),
        ]))
        #expect(incident.state == .diagnosing)
        #expect(incident.runs.map(\.recipe) == ["dummy", "http-errors"])
        #expect(incident.runs.allSatisfy { $0.state == .pending && $0.timeoutSeconds == 300 && $0.kind == .debugging })
        #expect(incident.runs[0].name.hasPrefix("dummy-") && incident.runs[0].name.count == "dummy-".count + 5)
    }

    @Test func recipeTimeoutOverridesTheDefault() {
        var incident = Incident(id: Self.id, payload: [:], callbackSecret: "s", at: Self.start)
        _ = incident.handle(.open(recipes: [Self.recipe("slow", timeout: 42)], defaultTimeoutSeconds: 300, at: Self.start))
        #expect(incident.runs[0].timeoutSeconds == 42)
    }

    @Test func openingWithNothingToRunFailsAndSaysSo() {
        var incident = Incident(id: Self.id, payload: [:], callbackSecret: "s", at: Self.start)
        let outcome = incident.handle(.open(recipes: [Self.recipe("off", enabled: false)], defaultTimeoutSeconds: 300,
                                            at: Self.start))
        #expect(incident.state == .failed)
        #expect(incident.closedReason == "no enabled debugging recipe matches the alert")
        guard case .applied(let actions) = outcome, case .notifyAnalysis(let analysis) = actions.first else {
            Issue.record("expected an analysis notification, got \(outcome)")
            return
        }
        #expect(analysis.text.contains("No enabled debugging recipe matches this alert"))
        #expect(actions.last == .release)
    }

    @Test func openingTwiceIsIgnored() {
        var incident = Self.diagnosing()
        let outcome = incident.handle(.open(recipes: Self.catalog.debugging, defaultTimeoutSeconds: 300, at: Self.at(1)))
        #expect(outcome == .ignored("incident already opened (state diagnosing)"))
        #expect(incident.runs.count == 2)
    }

    @Test func runStartedMarksTheRunRunning() {
        var incident = Self.diagnosing()
        #expect(incident.handle(.runStarted(runID: 1, at: Self.at(0.5))) == .applied([]))
        #expect(incident.runs[0].state == .running)
        #expect(incident.runs[0].startedAt == Self.at(0.5))
        #expect(incident.handle(.runStarted(runID: 9, at: Self.at(0.5))) == .ignored("no run 9"))
    }

    @Test func allResultsInAnalysesAndStartsTheApprovalWindow() {
        var incident = Self.diagnosing()
        #expect(incident.handle(.resultReceived(Self.result("dummy", analysis: "pods fine", actions: ["jira"]), at: Self.at(1)))
            == .applied([]))
        #expect(incident.state == .diagnosing)

        let outcome = incident.handle(.resultReceived(
            Self.result("http-errors", analysis: "5xx spike", actions: ["jira", "webhook"]), at: Self.at(2)))
        #expect(incident.state == .analysed)
        let analysis = Analysis.aggregate(incident.runs)
        #expect(outcome == .applied([.notifyAnalysis(analysis), .scheduleApprovalDeadline(Self.at(602))]))
        #expect(analysis.actions == ["jira", "webhook"])
        #expect(analysis.text == "dummy: pods fine\n\nhttp-errors: 5xx spike")
        #expect(incident.analysis == analysis)
        #expect(incident.approvalDeadline == Self.at(602))
    }

    @Test func aRecipeThatNeverAnswersTimesOutAndTheIncidentStillCompletes() {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy", actions: ["jira"]), at: Self.at(1)))
        let outcome = incident.handle(.runEnded(runID: 2, exit: .timedOut, at: Self.at(300)))

        #expect(incident.state == .analysed)
        #expect(incident.runs[1].state == .timedOut)
        #expect(incident.runs[1].failureReason == "timed out after 300 s")
        guard case .applied(let actions) = outcome, case .notifyAnalysis(let analysis) = actions.first else {
            Issue.record("expected the analysis, got \(outcome)")
            return
        }
        #expect(analysis.actions == ["jira"])
        #expect(analysis.text.contains("http-errors: timed out after 300 s"))
    }

    @Test func aResultAfterTheTimeoutIsIgnored() {
        var incident = Self.diagnosing()
        _ = incident.handle(.runEnded(runID: 2, exit: .timedOut, at: Self.at(300)))
        let before = incident
        #expect(incident.handle(.resultReceived(Self.result("http-errors"), at: Self.at(301)))
            == .ignored("result from http-errors arrived after its run timed out"))
        #expect(incident == before)
    }

    @Test func aResultFromARecipeThatIsNotRunningIsIgnored() {
        var incident = Self.diagnosing()
        let before = incident
        #expect(incident.handle(.resultReceived(Self.result("intruder"), at: Self.at(1)))
            == .ignored("result from intruder, which this incident did not run"))
        #expect(incident == before)
    }

    @Test func aResultForAnotherIncidentIsIgnored() {
        var incident = Self.diagnosing()
        var foreign = Self.result("dummy")
        foreign.incident = UUID().uuidString
        guard case .ignored = incident.handle(.resultReceived(foreign, at: Self.at(1))) else {
            Issue.record("a result naming another incident must be ignored")
            return
        }
        #expect(incident.runs[0].state == .pending)
    }

    @Test func aDuplicateResultIsIgnoredAndTheFirstIsKept() {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy", analysis: "first"), at: Self.at(1)))
        #expect(incident.handle(.resultReceived(Self.result("dummy", analysis: "second"), at: Self.at(2)))
            == .ignored("duplicate result from dummy"))
        #expect(incident.runs[0].result?.results.analysis == "first")
    }

    @Test func aResultBeforeTheStartIsConfirmedCounts() {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy"), at: Self.at(1)))
        #expect(incident.runs[0].state == .reported)
        #expect(incident.handle(.runStarted(runID: 1, at: Self.at(1.5))) == .ignored("run 1 already reported"))
        #expect(incident.runs[0].state == .reported)
    }

    @Test func aProcessEndingAfterItReportedChangesNothing() {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy"), at: Self.at(1)))
        #expect(incident.handle(.runEnded(runID: 1, exit: .exited(status: 0, stderrTail: ""), at: Self.at(1.1)))
            == .ignored("run 1 of dummy already reported"))
    }

    @Test(arguments: [
        (RunExit.exited(status: 3, stderrTail: "boom\n"), RecipeRun.State.failed,
         "exited with status 3 without reporting a result; stderr: boom"),
        (RunExit.exited(status: 0, stderrTail: ""), RecipeRun.State.failed, "exited without reporting a result"),
        (RunExit.exited(status: -9, stderrTail: ""), RecipeRun.State.failed, "was killed by signal 9 without reporting a result"),
        (RunExit.launchFailed(reason: "no executable \"x\" found on PATH"), RecipeRun.State.failed,
         "could not start: no executable \"x\" found on PATH"),
        (RunExit.cancelled(reason: "shutdown"), RecipeRun.State.cancelled, "cancelled: shutdown"),
    ])
    func aRunThatEndsWithoutAResultFailsWithItsReason(exit: RunExit, state: RecipeRun.State, reason: String) {
        var incident = Self.diagnosing()
        _ = incident.handle(.runEnded(runID: 1, exit: exit, at: Self.at(1)))
        #expect(incident.runs[0].state == state)
        #expect(incident.runs[0].failureReason == reason)
        #expect(incident.runs[0].finishedAt == Self.at(1))
    }

    @Test func noResultAtAllFailsTheIncident() {
        var incident = Self.diagnosing()
        _ = incident.handle(.runEnded(runID: 1, exit: .exited(status: 1, stderrTail: "x"), at: Self.at(1)))
        let outcome = incident.handle(.runEnded(runID: 2, exit: .timedOut, at: Self.at(300)))
        #expect(incident.state == .failed)
        #expect(incident.closedReason == "no debugging recipe reported a result")
        guard case .applied(let actions) = outcome else {
            Issue.record("expected actions")
            return
        }
        #expect(actions.count == 2)
        #expect(actions.last == .release)
    }

    @Test func aFailedResultStillCountsAsReported() {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy", .failed, analysis: "aggregator down"), at: Self.at(1)))
        _ = incident.handle(.resultReceived(Self.result("http-errors", .unknown, analysis: "unsure"), at: Self.at(2)))
        #expect(incident.state == .analysed)
        #expect(incident.analysis?.successful == [])
        #expect(incident.analysis?.shortfalls.map(\.reason) == [
            "reported failure: aggregator down", "reported an unknown status: unsure",
        ])
    }

    // MARK: Approvals

    @Test func anApprovalWhileDiagnosingIsRefused() {
        var incident = Self.diagnosing()
        #expect(throws: ApprovalRejection.stillDiagnosing) {
            try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(1))
        }
        #expect(incident.approvals.isEmpty)
    }

    @Test func anApprovalOfAnUnknownOrDisabledActionIsRefusedWhole() {
        var incident = Self.analysed()
        #expect(throws: ApprovalRejection.unknownAction("nope")) {
            try incident.approve([ActionRequest(name: "jira"), ActionRequest(name: "nope")], catalog: Self.catalog,
                                 defaultTimeoutSeconds: 300, at: Self.at(3))
        }
        #expect(throws: ApprovalRejection.disabledAction("restart")) {
            try incident.approve([ActionRequest(name: "restart")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(3))
        }
        #expect(throws: ApprovalRejection.noActions) {
            try incident.approve([], catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(3))
        }
        // A debugging recipe is not an action.
        #expect(throws: ApprovalRejection.unknownAction("dummy")) {
            try incident.approve([ActionRequest(name: "dummy")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(3))
        }
        #expect(incident.state == .analysed)
        #expect(incident.runs.count == 2)
    }

    @Test func anApprovalStartsOneRunPerActionWithItsData() throws {
        var incident = Self.analysed()
        let actions = try incident.approve(
            [ActionRequest(name: "jira", data: ["summary": .string("api down")]), ActionRequest(name: "webhook")],
            catalog: Self.catalog, defaultTimeoutSeconds: 120, approvedBy: "alice", at: Self.at(10)
        )
        #expect(actions == [
            .launch(runID: 3, recipe: Self.catalog.action(named: "jira")!),
            .launch(runID: 4, recipe: Self.catalog.action(named: "webhook")!),
        ])
        #expect(incident.state == .acting)
        #expect(incident.approvalDeadline == nil)
        #expect(incident.runs[2].actionData == ["summary": .string("api down")])
        #expect(incident.runs[2].approvalID == 1 && incident.runs[2].kind == .action && incident.runs[2].timeoutSeconds == 120)
        #expect(incident.approvals == [Approval(id: 1, actions: [ActionRequest(name: "jira", data: ["summary": .string("api down")]),
                                                                  ActionRequest(name: "webhook")],
                                                approvedAt: Self.at(10), approvedBy: "alice", runIDs: [3, 4], outcome: nil)])
    }

    @Test func anApprovalWaitsOnlyForTheActionsItStarted() throws {
        var incident = Self.analysed()
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(10))
        _ = try incident.approve([ActionRequest(name: "webhook")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(11))
        // The second approval's only run finishes first: its outcome goes out while jira still runs.
        let outcome = incident.handle(.resultReceived(Self.result("webhook", analysis: "posted"), at: Self.at(12)))
        guard case .applied(let actions) = outcome, case .notifyActionOutcome(let approvalID, let analysis) = actions.first else {
            Issue.record("expected the second approval's outcome, got \(outcome)")
            return
        }
        #expect(approvalID == 2)
        #expect(analysis.text == "webhook: posted")
        #expect(actions.count == 1)
        #expect(incident.state == .acting)

        let last = incident.handle(.resultReceived(Self.result("jira", analysis: "OPS-1", actions: []), at: Self.at(13)))
        guard case .applied(let lastActions) = last else {
            Issue.record("expected actions")
            return
        }
        #expect(lastActions.count == 2)
        #expect(lastActions.first == .notifyActionOutcome(approvalID: 1, Analysis.aggregate([incident.runs[2]])))
        #expect(lastActions.last == .scheduleApprovalDeadline(Self.at(613)))
        #expect(incident.state == .done)
        #expect(incident.approvals.map { $0.outcome?.text } == ["jira: OPS-1", "webhook: posted"])
    }

    @Test func anApprovalTwiceRunsTheActionOnce() throws {
        var incident = Self.analysed()
        let jira = ApprovalRequest(actions: [ActionRequest(name: "jira", data: ["summary": .string("down")])],
                                   approvedBy: "token:ops")
        let first = try incident.approve(jira, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(10))
        guard case .started(let approval, let launches) = first else {
            Issue.record("expected a new approval, got \(first)")
            return
        }
        #expect(launches.count == 1)
        // The same approval again, and another approver racing for the same action with other data: the run that
        // is underway answers both.
        let again = try incident.approve(jira, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(11))
        let racing = try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "jira")], approvedBy: "hmac:bot"),
                                          catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(11))
        #expect(again == .duplicate(approval) && racing == .duplicate(approval))
        #expect(incident.runs.filter { $0.recipe == "jira" }.count == 1)
        // Once it succeeded it still is not run again.
        _ = incident.handle(.resultReceived(Self.result("jira", analysis: "OPS-1"), at: Self.at(12)))
        let afterSuccess = try incident.approve(jira, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(13))
        #expect(afterSuccess == .duplicate(incident.approvals[0]) && afterSuccess.approval.outcome?.text == "jira: OPS-1")
        #expect(incident.approvalAttempts.map(\.outcome) == [.approved, .duplicate, .duplicate, .duplicate])
        #expect(incident.approvalAttempts.map(\.by) == ["token:ops", "token:ops", "hmac:bot", "token:ops"])
        #expect(incident.approvalAttempts.compactMap(\.approvalID) == [1, 1, 1, 1])
    }

    @Test func aDryRunNeitherBlocksNorStandsInForTheRealRun() throws {
        var incident = Self.analysed()
        let dryRun = ApprovalRequest(actions: [ActionRequest(name: "jira", data: ["dryRun": .bool(true)])])
        guard case .started = try incident.approve(dryRun, catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                                   at: Self.at(10)) else {
            Issue.record("expected the dry run to start")
            return
        }
        _ = incident.handle(.resultReceived(Self.result("jira", analysis: "would create OPS-1"), at: Self.at(11)))
        #expect(incident.runs.last?.isDryRun == true)
        // The dry run succeeded, yet the real approval runs the action; a second dry run is a duplicate of the first.
        let real = try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "jira")]), catalog: Self.catalog,
                                        defaultTimeoutSeconds: 300, at: Self.at(12))
        guard case .started(let approval, let launches) = real else {
            Issue.record("expected the real run to start, got \(real)")
            return
        }
        #expect(approval.id == 2 && launches.count == 1)
        #expect(try incident.approve(dryRun, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(13))
            == .duplicate(incident.approvals[0]))
        // A chat field sends the flag as a string.
        #expect(ActionRequest(name: "jira", data: ["dryRun": .string("true")]).isDryRun)
        #expect(!ActionRequest(name: "jira", data: ["dryRun": .string("no")]).isDryRun)
    }

    @Test func onlyTheActionsNotYetUnderwayRunWhenSomeAre() throws {
        var incident = Self.analysed()
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(10))
        let both = try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "jira"), ActionRequest(name: "webhook")]),
                                        catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(11))
        guard case .started(let approval, let launches) = both else {
            Issue.record("expected a new approval for webhook, got \(both)")
            return
        }
        #expect(approval.id == 2 && approval.actions.map(\.name) == ["webhook"])
        #expect(launches == [.launch(runID: 4, recipe: Self.catalog.action(named: "webhook")!)])
    }

    @Test func theSameIdempotencyKeyIsAnsweredWithItsApprovalAndRefusedForOtherActions() throws {
        var incident = Self.analysed()
        let keyed = ApprovalRequest(actions: [ActionRequest(name: "jira")], idempotencyKey: "click-1")
        guard case .started(let approval, _) = try incident.approve(keyed, catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                                                    at: Self.at(10)) else {
            Issue.record("expected a new approval")
            return
        }
        #expect(approval.idempotencyKey == "click-1")
        // Even once the run failed (which would allow a retry without the key), the key answers with its approval.
        _ = incident.handle(.runEnded(runID: 3, exit: .exited(status: 1, stderrTail: "boom"), at: Self.at(11)))
        #expect(try incident.approve(keyed, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(12))
            == .duplicate(incident.approvals[0]))
        #expect(throws: ApprovalRejection.idempotencyKeyReused("click-1", approvalID: 1)) {
            try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "webhook")], idempotencyKey: "click-1"),
                                 catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(13))
        }
        // Without the key the failed action may be retried.
        guard case .started(let retry, _) = try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "jira")]),
                                                                 catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                                                 at: Self.at(14)) else {
            Issue.record("expected a retry of the failed action")
            return
        }
        #expect(retry.id == 2)
    }

    @Test func anActionTheAnalysisDidNotSuggestIsRefusedUnlessThePolicyAllowsIt() throws {
        var incident = Self.diagnosing()
        _ = incident.handle(.resultReceived(Self.result("dummy", actions: ["jira"]), at: Self.at(1)))
        _ = incident.handle(.resultReceived(Self.result("http-errors"), at: Self.at(2)))
        let webhook = ApprovalRequest(actions: [ActionRequest(name: "webhook")])
        #expect(throws: ApprovalRejection.notSuggested("webhook", suggested: ["jira"])) {
            try incident.approve(webhook, catalog: Self.catalog, defaultTimeoutSeconds: 300, at: Self.at(3))
        }
        #expect(incident.runs.count == 2 && incident.state == .analysed)
        let allowed = try incident.approve(webhook, catalog: Self.catalog,
                                           policy: ApprovalPolicy(allowsUnsuggestedActions: true),
                                           defaultTimeoutSeconds: 300, at: Self.at(4))
        #expect(allowed.approval.actions.map(\.name) == ["webhook"])
        // Registered and enabled still apply under the permissive policy.
        #expect(throws: ApprovalRejection.disabledAction("restart")) {
            try incident.approve(ApprovalRequest(actions: [ActionRequest(name: "restart")]), catalog: Self.catalog,
                                 policy: ApprovalPolicy(allowsUnsuggestedActions: true), defaultTimeoutSeconds: 300,
                                 at: Self.at(5))
        }
    }

    @Test func refusedApprovalsAreAuditedAndTheAuditIsBounded() throws {
        var incident = Self.analysed()
        let request = ApprovalRequest(actions: [ActionRequest(name: "jira")], approvedBy: "webex:eve@example.com")
        incident.recordRefusedApproval(request, reason: "not on the approver list", at: Self.at(5))
        #expect(incident.approvalAttempts == [ApprovalAttempt(
            at: Self.at(5), by: "webex:eve@example.com", actions: ["jira"], idempotencyKey: nil, outcome: .refused,
            reason: "not on the approver list"
        )])
        #expect(incident.approvals.isEmpty && incident.runs.count == 2)
        for second in 0..<(Incident.maxApprovalAttempts + 5) {
            incident.recordRefusedApproval(request, reason: "\(second)", at: Self.at(Double(6 + second)))
        }
        #expect(incident.approvalAttempts.count == Incident.maxApprovalAttempts)
        #expect(incident.approvalAttempts.last?.reason == "\(Incident.maxApprovalAttempts + 4)")
    }

    @Test func anIncidentStoredBeforeTheAuditExistedStillDecodes() throws {
        var incident = Self.analysed()
        incident.recordRefusedApproval(ApprovalRequest(actions: [ActionRequest(name: "jira")]), reason: "no", at: Self.at(3))
        let encoder = JSONEncoder()
        var object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(incident)) as? [String: Any])
        #expect(object["approvalAudit"] != nil)
        object["approvalAudit"] = nil
        let decoded = try JSONDecoder().decode(Incident.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.approvalAttempts.isEmpty && decoded.runs == incident.runs)
    }

    @Test func aDoneIncidentAcceptsAnotherApproval() throws {
        var incident = Self.analysed()
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(10))
        _ = incident.handle(.runEnded(runID: 3, exit: .exited(status: 2, stderrTail: "401"), at: Self.at(11)))
        #expect(incident.state == .done)
        #expect(incident.approvals[0].outcome?.shortfalls.first?.reason.contains("status 2") == true)
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(12))
        #expect(incident.state == .acting)
    }

    // MARK: Expiry

    @Test func theApprovalWindowExpiresAnUnapprovedIncident() {
        var incident = Self.analysed()
        #expect(incident.handle(.approvalWindowPassed(at: Self.at(100))) ==
            .ignored("approval window timer fired in state analysed before the deadline"))
        #expect(incident.handle(.approvalWindowPassed(at: Self.at(602))) == .applied([.release]))
        #expect(incident.state == .expired)
        #expect(throws: ApprovalRejection.closed(.expired, reason: "no approval within the approval window")) {
            try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(603))
        }
    }

    @Test func aStaleTimerDoesNotExpireAnIncidentThatIsActing() throws {
        var incident = Self.analysed()
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(10))
        guard case .ignored = incident.handle(.approvalWindowPassed(at: Self.at(700))) else {
            Issue.record("an acting incident must not expire")
            return
        }
        #expect(incident.state == .acting)
    }

    @Test func aFailedIncidentRefusesApprovals() {
        var incident = Self.diagnosing()
        _ = incident.handle(.runEnded(runID: 1, exit: .timedOut, at: Self.at(1)))
        _ = incident.handle(.runEnded(runID: 2, exit: .timedOut, at: Self.at(1)))
        #expect(throws: ApprovalRejection.closed(.failed, reason: "no debugging recipe reported a result")) {
            try incident.approve([ActionRequest(name: "jira")], catalog: Self.catalog, defaultTimeoutSeconds: 300,
                                 at: Self.at(2))
        }
    }

    @Test func jobStyleNamesAreStableAndDistinct() {
        let names = (1...50).map { RecipeRun.jobStyleName(recipe: "dummy", incident: Self.id, index: $0) }
        #expect(Set(names).count == 50)
        #expect(names[0] == RecipeRun.jobStyleName(recipe: "dummy", incident: Self.id, index: 1))
        #expect(names.allSatisfy { $0.range(of: "^dummy-[bcdfghjklmnpqrstvwxz2456789]{5}$", options: .regularExpression) != nil })
    }
}
