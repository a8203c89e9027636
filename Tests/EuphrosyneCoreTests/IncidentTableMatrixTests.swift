import Foundation
import Testing

@testable import EuphrosyneCore

/// Every event the incident table takes, in every stage of an incident it can meet: still opening (its claim not
/// decided), diagnosing, analysed, acting, done, gone from the table (closed), with the table draining, and with it
/// standing by for another replica (leader election). Each
/// cell names the effects, in order, and the state the incident is left in; a change of behaviour shows as a cell
/// that no longer matches.
@Suite struct IncidentTableMatrixTests {
    typealias Fixtures = IncidentTableTests

    /// `dummy` runs for every alert; `fresh` too, and again for alerts new to an open incident.
    static let catalog = RecipeCatalog(
        debugging: [Fixtures.recipe("dummy"), Fixtures.recipe("fresh", newAlerts: true)],
        actions: [Fixtures.recipe("jira", kind: .action)]
    )

    enum Stage: String, CaseIterable, CustomTestStringConvertible {
        case opening, diagnosing, analysed, acting, done, closed, draining, standingBy
        var testDescription: String { rawValue }
    }

    enum Event: String, CaseIterable {
        case repeatedNotification, notificationWithANewAlert, resolvedNotification
        case resultOfItsRecipe, resultOfARecipeItDidNotRun
        case newestRunStarted, newestRunEndedWithoutReporting
        case approvalDeadlinePassed
        case approval, refusedApproval, chatThreads
        case claimed, claimRefused
    }

    /// What each event does in each stage: `<what the table answered> → <the incident's state after>`.
    static let expected: [Stage: [Event: String]] = [
        .opening: [
            .repeatedNotification: "waitForOpening → diagnosing",
            .notificationWithANewAlert: "waitForOpening → diagnosing",
            .resolvedNotification: "waitForOpening → diagnosing",
            .resultOfItsRecipe: "ignored(incident is still opening) → diagnosing",
            .resultOfARecipeItDidNotRun: "ignored(incident is still opening) → diagnosing",
            .newestRunStarted: "[] → diagnosing",
            .newestRunEndedWithoutReporting: "- [] → diagnosing",
            .approvalDeadlinePassed: "[] → diagnosing",
            .approval: "rejected(stillDiagnosing) [] → diagnosing",
            .refusedApproval: "[] → diagnosing",
            .chatThreads: "[save(diagnosing)] → diagnosing",
            .claimed: "[launch(1,dummy) launch(2,fresh)] → diagnosing",
            .claimRefused: "[abandoned] → gone",
        ],
        .diagnosing: [
            .repeatedNotification: "joined[] [save(diagnosing)] → diagnosing",
            .notificationWithANewAlert: "joined[fresh] [save(diagnosing) launch(3,fresh)] → diagnosing",
            .resolvedNotification: "resolved [runFinished(dummy,cancelled) runFinished(fresh,cancelled) save(resolved) cancelRun(1) cancelRun(2) notifyResolved released(resolved)] → gone",
            .resultOfItsRecipe: "accepted [runFinished(dummy,reported) save(diagnosing)] → diagnosing",
            .resultOfARecipeItDidNotRun: "ignored(result from jira, which this incident did not run) → diagnosing",
            .newestRunStarted: "[] → diagnosing",
            .newestRunEndedWithoutReporting: "failed [runFinished(fresh,failed) save(diagnosing)] → diagnosing",
            .approvalDeadlinePassed: "[] → diagnosing",
            .approval: "rejected(stillDiagnosing) [save(diagnosing)] → diagnosing",
            .refusedApproval: "[save(diagnosing)] → diagnosing",
            .chatThreads: "[save(diagnosing)] → diagnosing",
            .claimed: "[] → diagnosing",
            .claimRefused: "[] → diagnosing",
        ],
        .analysed: [
            .repeatedNotification: "joined[] [save(analysed)] → analysed",
            .notificationWithANewAlert: "joined[fresh] [save(analysed) launch(3,fresh)] → analysed",
            .resolvedNotification: "resolved [save(resolved) notifyResolved released(resolved)] → gone",
            .resultOfItsRecipe: "ignored(duplicate result from dummy) → analysed",
            .resultOfARecipeItDidNotRun: "ignored(result from jira, which this incident did not run) → analysed",
            .newestRunStarted: "[] → analysed",
            .newestRunEndedWithoutReporting: "- [] → analysed",
            .approvalDeadlinePassed: "[save(expired) released(expired)] → gone",
            .approval: "started(runs [3]) [save(acting) launch(3,jira)] → acting",
            .refusedApproval: "[save(analysed)] → analysed",
            .chatThreads: "[save(analysed)] → analysed",
            .claimed: "[] → analysed",
            .claimRefused: "[] → analysed",
        ],
        .acting: [
            .repeatedNotification: "joined[] [save(acting)] → acting",
            .notificationWithANewAlert: "joined[fresh] [save(acting) launch(4,fresh)] → acting",
            // Approved actions run to their end; the incident stays until they do.
            .resolvedNotification: "resolved [save(resolved) notifyResolved] → resolved",
            .resultOfItsRecipe: "accepted [runFinished(jira,reported) save(done) notifyActionOutcome(1) cleanUp(approval(1)) scheduleDeadline] → done",
            .resultOfARecipeItDidNotRun: "ignored(duplicate result from dummy) → acting",
            .newestRunStarted: "[save(acting)] → acting",
            .newestRunEndedWithoutReporting: "failed [runFinished(jira,failed) save(done) notifyActionOutcome(1) cleanUp(approval(1)) scheduleDeadline] → done",
            .approvalDeadlinePassed: "[] → acting",
            .approval: "duplicate(1) [save(acting)] → acting",
            .refusedApproval: "[save(acting)] → acting",
            .chatThreads: "[save(acting)] → acting",
            .claimed: "[] → acting",
            .claimRefused: "[] → acting",
        ],
        .done: [
            .repeatedNotification: "joined[] [save(done)] → done",
            .notificationWithANewAlert: "joined[fresh] [save(done) launch(4,fresh)] → done",
            .resolvedNotification: "resolved [save(resolved) notifyResolved released(resolved)] → gone",
            .resultOfItsRecipe: "ignored(duplicate result from jira) → done",
            .resultOfARecipeItDidNotRun: "ignored(duplicate result from dummy) → done",
            .newestRunStarted: "[] → done",
            .newestRunEndedWithoutReporting: "- [] → done",
            .approvalDeadlinePassed: "[save(expired) released(expired)] → gone",
            .approval: "duplicate(1) [save(done)] → done",
            .refusedApproval: "[save(done)] → done",
            .chatThreads: "[save(done)] → done",
            .claimed: "[] → done",
            .claimRefused: "[] → done",
        ],
        // Expired and released: the table no longer holds it; its group opens a new incident.
        .closed: [
            .repeatedNotification: "opening [watch claim] → gone",
            .notificationWithANewAlert: "opening [watch claim] → gone",
            .resolvedNotification: "ignored(the notification is resolved and its group has no open incident) → gone",
            .resultOfItsRecipe: "notLive → gone",
            .resultOfARecipeItDidNotRun: "notLive → gone",
            .newestRunStarted: "[] → gone",
            .newestRunEndedWithoutReporting: "- [] → gone",
            .approvalDeadlinePassed: "[] → gone",
            .approval: "needsStoredIncident → gone",
            .refusedApproval: "[] → gone",
            .chatThreads: "nil → gone",
            .claimed: "[] → gone",
            .claimRefused: "[] → gone",
        ],
        // Diagnosing while the coordinator drains: no new incident, no approval; runs still report and end.
        .draining: [
            .repeatedNotification: "refused(shuttingDown) → diagnosing",
            .notificationWithANewAlert: "refused(shuttingDown) → diagnosing",
            .resolvedNotification: "refused(shuttingDown) → diagnosing",
            .resultOfItsRecipe: "accepted [runFinished(dummy,reported) save(diagnosing)] → diagnosing",
            .resultOfARecipeItDidNotRun: "ignored(result from jira, which this incident did not run) → diagnosing",
            .newestRunStarted: "[] → diagnosing",
            .newestRunEndedWithoutReporting: "failed [runFinished(fresh,failed) save(diagnosing)] → diagnosing",
            .approvalDeadlinePassed: "[] → diagnosing",
            .approval: "shuttingDown → diagnosing",
            .refusedApproval: "[save(diagnosing)] → diagnosing",
            .chatThreads: "[save(diagnosing)] → diagnosing",
            .claimed: "[] → diagnosing",
            .claimRefused: "[] → diagnosing",
        ],
        // Another replica leads: no notification or approval is taken; what its own runs report still lands.
        .standingBy: [
            .repeatedNotification: "refused(standingBy) → diagnosing",
            .notificationWithANewAlert: "refused(standingBy) → diagnosing",
            .resolvedNotification: "refused(standingBy) → diagnosing",
            .resultOfItsRecipe: "accepted [runFinished(dummy,reported) save(diagnosing)] → diagnosing",
            .resultOfARecipeItDidNotRun: "ignored(result from jira, which this incident did not run) → diagnosing",
            .newestRunStarted: "[] → diagnosing",
            .newestRunEndedWithoutReporting: "failed [runFinished(fresh,failed) save(diagnosing)] → diagnosing",
            .approvalDeadlinePassed: "[] → diagnosing",
            .approval: "standingBy → diagnosing",
            .refusedApproval: "[save(diagnosing)] → diagnosing",
            .chatThreads: "[save(diagnosing)] → diagnosing",
            .claimed: "[] → diagnosing",
            .claimRefused: "[] → diagnosing",
        ],
    ]

    @Test(arguments: Stage.allCases)
    func everyEventIn(_ stage: Stage) throws {
        let cells = try #require(Self.expected[stage])
        #expect(Set(cells.keys) == Set(Event.allCases), "every event has a cell")
        for event in Event.allCases {
            var (table, id) = Self.table(at: stage)
            let answer = Self.apply(event, to: &table, id)
            let after = table.incident(id)?.state.rawValue ?? "gone"
            #expect("\(answer) → \(after)" == cells[event], "\(stage) + \(event)")
        }
    }

    // MARK: - Stages

    /// A table holding one incident of group `g` at `stage`, and the incident's id.
    static func table(at stage: Stage) -> (IncidentTable, UUID) {
        var table = IncidentTable(settings: .init())
        guard case .opening(let incident, _) = receive(&table, Fixtures.payload("g"), at: 0) else {
            fatalError("a new group opens")
        }
        let id = incident.id
        if stage == .opening { return (table, id) }
        _ = table.claimed(id)
        _ = table.runStarted(1, of: id, at: Fixtures.at(1))
        _ = table.runStarted(2, of: id, at: Fixtures.at(1))
        if stage == .diagnosing { return (table, id) }
        if stage == .draining {
            table.stopAccepting()
            return (table, id)
        }
        if stage == .standingBy {
            table.standBy()
            return (table, id)
        }
        _ = table.deliver(Fixtures.result(id), at: Fixtures.at(2))
        _ = table.deliver(Fixtures.result(id, "fresh", actions: []), at: Fixtures.at(2))
        if stage == .analysed { return (table, id) }
        if stage == .closed {
            _ = table.deadlinePassed(id, at: Fixtures.at(100_000))
            return (table, id)
        }
        _ = table.approve(id, ApprovalRequest(actions: [ActionRequest(name: "jira")]), catalog: catalog, at: Fixtures.at(3))
        if stage == .acting { return (table, id) }
        _ = table.runStarted(3, of: id, at: Fixtures.at(4))
        _ = table.deliver(Fixtures.result(id, "jira", actions: []), at: Fixtures.at(5))
        return (table, id)
    }

    static func receive(_ table: inout IncidentTable, _ payload: [String: JSONValue], at seconds: Double) -> IncidentTable.Intake {
        let alert = AlertNotification(raw: payload)
        return table.receive(alert: alert, identity: alert.identityKey, catalog: catalog,
                             at: Fixtures.at(seconds)) { (UUID(), "secret") }
    }

    // MARK: - Events, and their answers as text

    static func apply(_ event: Event, to table: inout IncidentTable, _ id: UUID) -> String {
        let now = Fixtures.at(10)
        let newestRun = table.incident(id)?.runs.last?.id ?? 1
        switch event {
        case .repeatedNotification:
            return describe(receive(&table, Fixtures.payload("g"), at: 10))
        case .notificationWithANewAlert:
            return describe(receive(&table, Fixtures.payload("g", alerts: ["a", "b"]), at: 10))
        case .resolvedNotification:
            return describe(receive(&table, Fixtures.payload("g", status: "resolved"), at: 10))
        case .resultOfItsRecipe:
            let name = table.incident(id)?.state == .acting || table.incident(id)?.state == .done ? "jira" : "dummy"
            return describe(table.deliver(Fixtures.result(id, name, actions: []), at: now))
        case .resultOfARecipeItDidNotRun:
            let name = table.incident(id)?.runs.contains { $0.recipe == "jira" } == true ? "dummy" : "jira"
            return describe(table.deliver(Fixtures.result(id, name, actions: []), at: now))
        case .newestRunStarted:
            return describe(table.runStarted(newestRun, of: id, at: now))
        case .newestRunEndedWithoutReporting:
            let (ended, effects) = table.runEnded(newestRun, of: id, exit: .exited(status: 1, stderrTail: "boom"), at: now)
            return "\(ended?.state.rawValue ?? "-") \(describe(effects))"
        case .approvalDeadlinePassed:
            return describe(table.deadlinePassed(id, at: Fixtures.at(100_000)))
        case .approval:
            return describe(table.approve(id, ApprovalRequest(actions: [ActionRequest(name: "jira")]), catalog: catalog, at: now))
        case .refusedApproval:
            return describe(table.recordRefusedApproval(id, ApprovalRequest(actions: [ActionRequest(name: "x")]),
                                                        reason: "not an approver", at: now))
        case .chatThreads:
            return table.keepChatThreads(["webex": "m1"], of: id).map(describe) ?? "nil"
        case .claimed:
            return describe(table.claimed(id).effects)
        case .claimRefused:
            return describe(table.claimRefused(id))
        }
    }

    static func describe(_ intake: IncidentTable.Intake) -> String {
        switch intake {
        case .opening(_, let effects): return "opening \(describe(effects))"
        case .joined(_, let started, let effects): return "joined[\(started.joined(separator: ","))] \(describe(effects))"
        case .resolved(_, let effects): return "resolved \(describe(effects))"
        case .ignored(let reason): return "ignored(\(reason))"
        case .waitForOpening: return "waitForOpening"
        case .refused(.shuttingDown): return "refused(shuttingDown)"
        case .refused(let refusal): return "refused(\(refusal))"
        }
    }

    static func describe(_ delivery: IncidentTable.Delivery) -> String {
        switch delivery {
        case .accepted(_, let effects): return "accepted \(describe(effects))"
        case .ignored(let reason): return "ignored(\(reason))"
        case .notLive: return "notLive"
        }
    }

    static func describe(_ step: IncidentTable.ApprovalStep) -> String {
        switch step {
        case .shuttingDown: return "shuttingDown"
        case .standingBy: return "standingBy"
        case .needsStoredIncident: return "needsStoredIncident"
        case .notFound: return "notFound"
        case .rejected(.stillDiagnosing, let effects): return "rejected(stillDiagnosing) \(describe(effects))"
        case .rejected(let rejection, let effects): return "rejected(\(rejection)) \(describe(effects))"
        case .decided(_, .started(let approval, _), let effects): return "started(runs \(approval.runIDs)) \(describe(effects))"
        case .decided(_, .duplicate(let approval), let effects): return "duplicate(\(approval.id)) \(describe(effects))"
        }
    }

    static func describe(_ effects: [IncidentTable.Effect]) -> String {
        "[" + effects.map { effect -> String in
            switch effect {
            case .save(let incident): return "save(\(incident.state.rawValue))"
            case .watch: return "watch"
            case .claim: return "claim"
            case .launch(_, let runID, let recipe): return "launch(\(runID),\(recipe.name))"
            case .reattach(_, let run, _): return "reattach(\(run.id))"
            case .cancelRun(_, let runID): return "cancelRun(\(runID))"
            case .notifyAnalysis: return "notifyAnalysis"
            case .notifyActionOutcome(_, let approvalID, _): return "notifyActionOutcome(\(approvalID))"
            case .notifyResolved: return "notifyResolved"
            case .cleanUp(_, let phase): return "cleanUp(\(phase))"
            case .scheduleDeadline: return "scheduleDeadline"
            case .released(let incident): return "released(\(incident.state.rawValue))"
            case .abandoned: return "abandoned"
            case .runFinished(let run): return "runFinished(\(run.recipe),\(run.state.rawValue))"
            case .boundReached(let bound, let count): return "boundReached(\(bound.rawValue),\(count))"
            }
        }.joined(separator: " ") + "]"
    }
}
