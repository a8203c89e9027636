import Foundation
import Testing

@testable import EuphrosyneCore

/// Resolving, alerts joining a group, and the per-alert-name limit: the lifecycle rules of issue 7 as values.
@Suite struct AlertLifecycleTests {
    typealias Machine = IncidentStateMachineTests
    static let start = Machine.start
    static func at(_ seconds: Double) -> Date { Machine.at(seconds) }

    /// An Alertmanager notification of group `{}:{alertname="Disk"}` with one alert per fingerprint.
    static func group(_ fingerprints: [String], status: String = "firing") -> [String: JSONValue] {
        [
            "version": .string("4"), "groupKey": .string("{}:{alertname=\"Disk\"}"), "status": .string(status),
            "alerts": .array(fingerprints.map { fingerprint in
                .object([
                    "status": .string(status), "fingerprint": .string(fingerprint),
                    "labels": .object(["alertname": .string("Disk"), "instance": .string(fingerprint),
                                       "severity": .string(fingerprint == "c" ? "info" : "critical")]),
                ])
            }),
        ]
    }

    static func opened(_ fingerprints: [String] = ["a"], recipes: [Recipe] = Machine.catalog.enabledDebugging) -> Incident {
        var incident = Incident(id: Machine.id, payload: group(fingerprints), callbackSecret: "s",
                                approvalWindowSeconds: 600, at: start)
        _ = incident.handle(.open(recipes: recipes, defaultTimeoutSeconds: 300, at: start))
        return incident
    }

    static let rerunning = Recipe(
        name: "disk-usage", kind: .debugging, enabled: true, entrypoint: "disk-usage", arguments: ["disk-usage"],
        match: try! AlertMatchers(parsing: #"severity="critical""#), runsForNewAlerts: true)

    // MARK: Resolved

    @Test func resolvingCancelsTheDiagnosisAndEndsTheIncident() {
        var incident = Self.opened()
        _ = incident.handle(.resultReceived(Machine.result("dummy", actions: ["jira"]), at: Self.at(1)))
        let outcome = incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(2)))

        #expect(outcome == .applied([
            .cancelRun(runID: 2), .notifyResolved(cancelledRuns: ["http-errors"]), .endDeduplication, .release,
        ]))
        #expect(incident.state == .resolved)
        #expect(incident.state.isClosed)
        #expect(incident.resolvedAt == Self.at(2))
        #expect(incident.run(1)?.state == .reported)
        #expect(incident.run(2)?.state == .cancelled)
        #expect(incident.run(2)?.failureReason == "cancelled: the alert resolved")
        // What the finished run found is kept.
        #expect(incident.analysis?.actions == ["jira"])
        #expect(incident.notificationCount == 2)
    }

    @Test func aLateResultOrExitOfACancelledRunChangesNothing() {
        var incident = Self.opened()
        _ = incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(1)))
        #expect(incident.handle(.resultReceived(Machine.result("dummy"), at: Self.at(2))) != .applied([]))
        if case .applied = incident.handle(.runEnded(runID: 1, exit: .cancelled(reason: "x"), at: Self.at(2))) {
            Issue.record("a cancelled run ended twice")
        }
        #expect(incident.run(1)?.state == .cancelled)
    }

    @Test func approvalsOfAResolvedIncidentAreRefusedUnlessAllowed() throws {
        var incident = Machine.analysed()
        _ = incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(5)))
        #expect(throws: ApprovalRejection.closed(.resolved, reason: "the alert resolved")) {
            try incident.approve([ActionRequest(name: "jira")], catalog: Machine.catalog, defaultTimeoutSeconds: 60,
                                 at: Self.at(6))
        }
        let launches = try incident.approve(
            [ActionRequest(name: "jira")], catalog: Machine.catalog, defaultTimeoutSeconds: 60,
            allowingResolved: true, at: Self.at(6))
        #expect(launches.count == 1)
        #expect(incident.state == .resolved)
        // The action still reports; once it has, the incident is released again.
        let outcome = incident.handle(.resultReceived(Machine.result("jira"), at: Self.at(7)))
        guard case .applied(let actions) = outcome else { Issue.record("result ignored: \(outcome)"); return }
        #expect(actions.contains(.release))
        #expect(actions.contains { if case .notifyActionOutcome = $0 { true } else { false } })
    }

    @Test func resolvingWhileActingLetsTheApprovedActionsFinish() throws {
        var incident = Machine.analysed()
        _ = try incident.approve([ActionRequest(name: "jira")], catalog: Machine.catalog, defaultTimeoutSeconds: 60,
                                 at: Self.at(3))
        let outcome = incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(4)))
        #expect(outcome == .applied([.notifyResolved(cancelledRuns: []), .endDeduplication]))
        #expect(incident.runs.last?.state == .pending)
        let finished = incident.handle(.resultReceived(Machine.result("jira"), at: Self.at(5)))
        guard case .applied(let actions) = finished else { Issue.record("result ignored"); return }
        #expect(actions.last == .release)
    }

    @Test func aClosedIncidentIgnoresResolving() {
        var incident = Self.opened()
        _ = incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(1)))
        #expect(incident.handle(.resolved(payload: Self.group(["a"], status: "resolved"), at: Self.at(2)))
                == .ignored("incident is already resolved"))
    }

    // MARK: Alerts joining the group

    @Test func anAlertJoiningTheGroupRunsOnlyTheRecipesThatAskAndMatch() {
        let recipes = Machine.catalog.enabledDebugging + [Self.rerunning]
        var incident = Self.opened(["a"], recipes: recipes)
        #expect(incident.knownAlerts == ["a"])

        // "b" is critical (matches), "c" is info (does not).
        let outcome = incident.handle(.notifiedAgain(
            payload: Self.group(["a", "b", "c"]), recipesForNewAlerts: recipes, defaultTimeoutSeconds: 120,
            at: Self.at(10)))
        #expect(outcome == .applied([.launch(runID: 4, recipe: Self.rerunning)]))
        #expect(incident.run(4)?.alertKeys == ["b"])
        #expect(incident.run(4)?.timeoutSeconds == 120)
        #expect(incident.knownAlerts == ["a", "b", "c"])

        // The same alerts again: nothing new, nothing starts.
        #expect(incident.handle(.notifiedAgain(
            payload: Self.group(["a", "b", "c"]), recipesForNewAlerts: recipes, at: Self.at(20))) == .applied([]))
        #expect(incident.notificationCount == 3)
    }

    @Test func runsForNewAlertsUpdateTheAnalysisOnceTheyFinish() {
        let recipes = [Machine.recipe("dummy"), Self.rerunning]
        var incident = Self.opened(["a"], recipes: recipes)
        _ = incident.handle(.resultReceived(Machine.result("dummy", analysis: "first"), at: Self.at(1)))
        _ = incident.handle(.resultReceived(Machine.result("disk-usage", analysis: "disk a"), at: Self.at(1)))
        #expect(incident.state == .analysed)

        _ = incident.handle(.notifiedAgain(payload: Self.group(["a", "b"]), recipesForNewAlerts: recipes, at: Self.at(2)))
        #expect(incident.state == .analysed, "approvals stay possible while the new alert is diagnosed")
        let outcome = incident.handle(.resultReceived(Machine.result("disk-usage", analysis: "disk b"), at: Self.at(3)))
        guard case .applied(let actions) = outcome, case .notifyAnalysis(let analysis) = actions.first else {
            Issue.record("no updated analysis: \(outcome)")
            return
        }
        #expect(analysis.text.contains("disk b"))
        #expect(incident.analysis == analysis)
    }

    @Test func alertsThatJoinBeforeTheDiagnosisOpensStartNothingExtra() {
        var incident = Incident(id: Machine.id, payload: Self.group(["a"]), callbackSecret: "s", at: Self.start)
        let outcome = incident.handle(.notifiedAgain(
            payload: Self.group(["a", "b"]), recipesForNewAlerts: [Self.rerunning], at: Self.at(1)))
        #expect(outcome == .applied([]))
        #expect(incident.knownAlerts == ["a", "b"])
    }

    @Test func aRestrictedPayloadKeepsOnlyTheNamedAlerts() {
        let notification = AlertNotification(raw: Self.group(["a", "b", "c"]))
        let payload = notification.payload(restrictedTo: ["b"])
        let restricted = AlertNotification(raw: payload)
        #expect(restricted.alerts.map(\.fingerprint) == ["b"])
        #expect(restricted.groupKey == notification.groupKey)
    }

    @Test func alertsWithoutFingerprintsAreKeyedByTheirLabels() {
        let first = Alert(json: ["labels": .object(["alertname": .string("X"), "pod": .string("a")])])
        let same = Alert(json: ["labels": .object(["pod": .string("a"), "alertname": .string("X")])])
        let other = Alert(json: ["labels": .object(["alertname": .string("X"), "pod": .string("b")])])
        #expect(first.identityKey == same.identityKey)
        #expect(first.identityKey != other.identityKey)
        #expect(first.identityKey.hasPrefix("labels:"))
    }

    // MARK: Rate limit

    @Test func theRateLimitCountsOpeningsPerAlertNameInASlidingWindow() {
        var limit = IncidentRateLimit(limit: 2, window: 3600)
        #expect(limit.admit(alertName: "Disk", at: Self.at(0)) == nil)
        #expect(limit.admit(alertName: "Disk", at: Self.at(600)) == nil)
        #expect(limit.admit(alertName: "Disk", at: Self.at(1200)) == 2400)
        // Another name has its own quota.
        #expect(limit.admit(alertName: "CPU", at: Self.at(1200)) == nil)
        // A refusal is not counted: once the first opening leaves the window, one more fits.
        #expect(limit.admit(alertName: "Disk", at: Self.at(3600)) == nil)
        #expect(limit.admit(alertName: "Disk", at: Self.at(3601)) == 599)
        #expect(limit.admit(alertName: "Disk", at: Self.at(4200)) == nil)
    }

    @Test func theRateLimitForgetsNamesThatWentQuiet() {
        var limit = IncidentRateLimit(limit: 1, window: 60)
        for index in 0..<5_000 {
            #expect(limit.admit(alertName: "alert-\(index)", at: Self.at(Double(index))) == nil)
        }
        // Every name refused only within its own window.
        #expect(limit.admit(alertName: "alert-4999", at: Self.at(5_000)) == 59)
        #expect(limit.admit(alertName: "alert-0", at: Self.at(5_000)) == nil)
    }
}
