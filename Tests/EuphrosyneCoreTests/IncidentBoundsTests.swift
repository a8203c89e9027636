import Foundation
import Testing

@testable import EuphrosyneCore

/// What senders cannot make an incident grow past: alert keys, runs, result sizes, approval data, and the stored
/// size those add up to.
@Suite struct IncidentBoundsTests {
    typealias Machine = IncidentStateMachineTests

    static func notification(alerts range: Range<Int>, group: String = "g") -> [String: JSONValue] {
        [
            "version": .string("4"), "status": .string("firing"), "groupKey": .string(group),
            "alerts": .array(range.map { index in
                .object(["status": .string("firing"), "fingerprint": .string(String(format: "%016x", index)),
                         "labels": .object(["alertname": .string("Flood"), "pod": .string("pod-\(index)")])])
            }),
        ]
    }

    @Test func anIncidentRemembersTheNewestAlertKeysAndCountsTheForgottenOnes() {
        var incident = Machine.diagnosing()
        for batch in 0..<3 {
            let payload = Self.notification(alerts: (batch * 1_000)..<((batch + 1) * 1_000))
            #expect(incident.handle(.notifiedAgain(payload: payload, at: Machine.at(Double(batch)))) == .applied([]))
        }
        #expect(incident.knownAlerts.count == Incident.maxKnownAlerts)
        #expect(incident.forgottenAlertCount == 1_000)
        #expect(incident.knownAlerts.first == String(format: "%016x", 1_000))
        #expect(incident.knownAlerts.last == String(format: "%016x", 2_999))
        // A notification larger than the cap on its own, when the incident opens.
        let opened = Incident(id: UUID(), payload: Self.notification(alerts: 0..<2_500), callbackSecret: "s", at: Machine.start)
        #expect(opened.knownAlerts.count == Incident.maxKnownAlerts && opened.forgottenAlertCount == 500)
    }

    @Test func runsForNewAlertsStopAtTheRunCapAndApprovalsPastItAreRefused() throws {
        var recipe = Machine.recipe("dummy")
        recipe.runsForNewAlerts = true
        var incident = Machine.diagnosing()
        var started = 0
        for index in 0..<(Incident.maxRuns + 5) {
            let outcome = incident.handle(.notifiedAgain(
                payload: Self.notification(alerts: index..<(index + 1)), recipesForNewAlerts: [recipe],
                at: Machine.at(Double(index))))
            if case .applied(let actions) = outcome { started += actions.count }
        }
        #expect(incident.runs.count == Incident.maxRuns)
        #expect(started == Incident.maxRuns - 2)
        // Finish everything, so the incident is analysed, then ask for one more run.
        for run in incident.runs {
            _ = incident.handle(.resultReceived(Machine.result(run.recipe, actions: ["jira"]), at: Machine.at(100)))
        }
        for run in incident.runs where !run.state.isFinished {
            _ = incident.handle(.runEnded(runID: run.id, exit: .exited(status: 0, stderrTail: ""), at: Machine.at(101)))
        }
        #expect(incident.state == .analysed)
        #expect(throws: ApprovalRejection.runLimitReached(Incident.maxRuns)) {
            try incident.approve([ActionRequest(name: "jira")], catalog: Machine.catalog, defaultTimeoutSeconds: 300,
                                 at: Machine.at(102))
        }
    }

    @Test func approvalDataPastItsBoundIsRefused() throws {
        var incident = Machine.analysed()
        let large = ApprovalRequest(actions: [ActionRequest(name: "jira", data: [
            "summary": .string(String(repeating: "x", count: Incident.maxApprovalDataBytes)),
        ])])
        #expect(throws: ApprovalRejection.dataTooLarge(limit: Incident.maxApprovalDataBytes)) {
            try incident.approve(large, catalog: Machine.catalog, defaultTimeoutSeconds: 300, at: Machine.at(50))
        }
        let fitting = ApprovalRequest(actions: [ActionRequest(name: "jira", data: ["summary": .string("disk full on db-1")])])
        _ = try incident.approve(fitting, catalog: Machine.catalog, defaultTimeoutSeconds: 300, at: Machine.at(51))
    }

    @Test func aResultIsStoredWithinItsBounds() {
        let honest = RecipeResult(incident: "i", name: "pod-diagnostics", status: .successful, results: .init(
            actions: ["jira", "cordon-node"], analysis: "pod api-1 is OOMKilled\n\tlimit 256Mi", json: #"{"a":1}"#,
            links: ["https://grafana.example/d/1"]))
        #expect(honest.bounded() == honest)

        let hostile = RecipeResult(incident: "i", name: "dummy", status: .successful, results: .init(
            actions: (0..<50).map { "action-\($0)" } + ["NOT A NAME", "<@all>"],
            analysis: "é" + String(repeating: "\u{7}<@all>", count: 10_000),
            json: String(repeating: "{", count: 100_000),
            links: (0..<50).map { "https://x.example/\($0)" + String(repeating: "a", count: 5_000) }))
        let stored = hostile.bounded()
        #expect(stored.results.analysis.utf8.count <= RecipeResult.Bounds.analysisBytes)
        #expect(stored.results.analysis.hasPrefix("é<@all>") && stored.results.analysis.hasSuffix(RecipeResult.truncationMarker))
        #expect(!stored.results.analysis.unicodeScalars.contains("\u{7}"))
        #expect(stored.results.json.utf8.count <= RecipeResult.Bounds.jsonBytes)
        #expect(stored.results.links.count == RecipeResult.Bounds.links)
        #expect(stored.results.links.allSatisfy { $0.utf8.count <= RecipeResult.Bounds.linkBytes })
        #expect(stored.results.actions == (0..<RecipeResult.Bounds.actions).map { "action-\($0)" })
    }

    @Test func aResultIsBoundedWhenTheIncidentTakesIt() {
        var incident = Machine.diagnosing()
        let huge = Machine.result("dummy", analysis: String(repeating: "a", count: 100_000))
        _ = incident.handle(.resultReceived(huge, at: Machine.at(1)))
        #expect(incident.run(1)?.result?.results.analysis.utf8.count == RecipeResult.Bounds.analysisBytes)
    }

    @Test func anOverlongFingerprintIsKeptAsADigest() {
        let long = Alert(json: ["fingerprint": .string(String(repeating: "f", count: 10_000)), "labels": .object([:])])
        #expect(long.identityKey.hasPrefix("fingerprint:") && long.identityKey.utf8.count == "fingerprint:".count + 64)
        let normal = Alert(json: ["fingerprint": .string("09f827451c0fe9f3"), "labels": .object([:])])
        #expect(normal.identityKey == "09f827451c0fe9f3")
    }

    /// The largest incident the bounds allow, with text chosen to take the most bytes as JSON (every `/` and `"`
    /// escaped), stays under `Incident.maxStoredBytes`: the figure docs/security.md gives.
    @Test func theLargestIncidentTheBoundsAllowFitsTheDocumentedSize() throws {
        let worst = { (bytes: Int) in String(repeating: "\"", count: bytes) }
        // The notification: a 1 MiB body of slashes (each stored as `\/`).
        var incident = Incident(id: UUID(), payload: ["x": .string(String(repeating: "/", count: (1 << 20) - 10))],
                                callbackSecret: String(repeating: "a", count: 64), at: Machine.start)
        incident.knownAlerts = (0..<Incident.maxKnownAlerts).map { _ in worst(64) }
        let data: [String: JSONValue] = ["summary": .string(worst(Incident.maxApprovalDataBytes / 2 - 20))]
        let result = RecipeResult(incident: incident.id.uuidString, name: worst(63), status: .successful, results: .init(
            actions: (0..<RecipeResult.Bounds.actions).map { _ in String(repeating: "a", count: 63) },
            analysis: worst(RecipeResult.Bounds.analysisBytes), json: worst(RecipeResult.Bounds.jsonBytes),
            links: (0..<RecipeResult.Bounds.links).map { _ in worst(RecipeResult.Bounds.linkBytes) }))
        #expect(result.bounded().results.analysis.utf8.count == RecipeResult.Bounds.analysisBytes)
        for index in 1...Incident.maxRuns {
            var run = RecipeRun(id: index, recipe: worst(63), kind: index % 2 == 0 ? .action : .debugging,
                                description: worst(1_000), name: worst(69), timeoutSeconds: 300, createdAt: Machine.start,
                                approvalID: index, actionData: data)
            run.state = .reported
            run.result = result.bounded()
            run.failureReason = worst(4_096)
            incident.runs.append(run)
        }
        let runs = incident.runs
        let aggregate = Analysis.aggregate(runs)
        incident.analysis = aggregate
        incident.approvals = (1...Incident.maxRuns).map { id in
            Approval(id: id, actions: [ActionRequest(name: worst(63), data: data)], approvedAt: Machine.start,
                     approvedBy: worst(300), runIDs: [id], outcome: Analysis.aggregate([runs[id - 1]]),
                     idempotencyKey: worst(255))
        }
        incident.approvalAttempts = (0..<Incident.maxApprovalAttempts).map { _ in
            ApprovalAttempt(at: Machine.start, by: worst(300), actions: (0..<30).map { _ in worst(253) },
                            idempotencyKey: worst(300), outcome: .refused, reason: worst(5_000))
        }
        incident.closedReason = worst(1_000)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let size = try encoder.encode(incident).count
        #expect(incident.approvalAttempts.allSatisfy { $0.actions.count == 20 && $0.actions.allSatisfy { $0.utf8.count <= 63 } })
        #expect(size <= Incident.maxStoredBytes, "\(size) bytes")
        // And the bound is not far above what is reachable, so it means something.
        #expect(size > Incident.maxStoredBytes / 2, "\(size) bytes")
    }
}
