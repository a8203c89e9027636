import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneEngine

/// The coordinator's side of the alert lifecycle: resolved groups, alerts joining a group, the intake queue, the
/// run cap, the per-alert-name limit and group claims shared through the store.
@Suite struct AlertLifecycleCoordinatorTests {
    static let diskUsage = Recipe(
        name: "disk-usage", kind: .debugging, enabled: true, entrypoint: "disk-usage", arguments: ["disk-usage"],
        runsForNewAlerts: true)
    static let catalog = RecipeCatalog(
        debugging: [.fake("dummy"), .fake("slow"), diskUsage], actions: [.fake("jira", .action)])

    /// The coordinator tests' harness, with a configuration that stops hanging runs quickly.
    struct Harness {
        let base: IncidentCoordinatorTests.Harness
        var coordinator: IncidentCoordinator { base.coordinator }
        var launcher: ScriptedLauncher { base.launcher }
        var notifier: RecordingNotifier { base.notifier }

        init(_ behaviours: [String: ScriptedLauncher.Behaviour], catalog: RecipeCatalog = catalog,
             registry: (any RecipeRegistry)? = nil, store: any IncidentStore = InMemoryIncidentStore(),
             configuration: CoordinatorConfiguration = .init(defaultRecipeTimeoutSeconds: 30,
                                                            drainTimeout: .milliseconds(200))) {
            base = .init(behaviours, catalog: catalog, registry: registry, store: store, configuration: configuration)
        }

        func running<T: Sendable>(_ body: @Sendable (IncidentCoordinator) async throws -> T) async throws -> T {
            try await base.running(body)
        }

        func state(of id: UUID) async throws -> Incident.State? { try await base.state(of: id) }

        func count(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 { base.count(label, dimensions) }

        func resolvedNotifications(for id: UUID) -> [[String]] {
            notifier.notifications.compactMap {
                if case .resolved(let incident, _, let cancelled) = $0, incident == id { return cancelled }
                return nil
            }
        }
    }

    /// An Alertmanager notification of one group, one alert per fingerprint.
    static func group(
        _ name: String = "Disk", _ fingerprints: [String] = ["a"], status: String = "firing"
    ) -> [String: JSONValue] {
        [
            "version": .string("4"), "groupKey": .string("{}:{alertname=\"\(name)\"}"), "status": .string(status),
            "alerts": .array(fingerprints.map { fingerprint in
                .object([
                    "status": .string(status), "fingerprint": .string(fingerprint),
                    "labels": .object(["alertname": .string(name), "instance": .string(fingerprint)]),
                ])
            }),
        ]
    }

    // MARK: Resolved

    @Test func aResolvedGroupStopsItsDiagnosisRefusesApprovalsAndFiresAnewAsANewIncident() async throws {
        let harness = Harness([
            "dummy": .report(analysis: "found it", actions: ["jira"], delay: .zero), "slow": .hang,
            "disk-usage": .report(analysis: "disk", actions: [], delay: .zero),
        ])
        try await harness.running { coordinator in
            let opened = try #require(try await coordinator.receive(payload: Self.group()).incident)
            try await waitUntil("dummy to report and slow to be running") {
                let runs = try await coordinator.incident(opened.id)?.runs ?? []
                return runs.first { $0.recipe == "slow" }?.state == .running
                    && runs.first { $0.recipe == "dummy" }?.state == .reported
            }
            let resolved = try await coordinator.receive(payload: Self.group(status: "resolved"))
            guard case .resolved(let incident) = resolved else {
                Issue.record("expected the incident to resolve, got \(resolved)")
                return
            }
            #expect(incident.id == opened.id)
            #expect(incident.state == .resolved)
            #expect(incident.runs.first { $0.recipe == "slow" }?.state == .cancelled)
            // The launcher's run was really stopped, and chat was told.
            try await waitUntil("the hanging run to stop") { harness.launcher.running == 0 }
            try await waitUntil("the resolved notification") { !harness.resolvedNotifications(for: opened.id).isEmpty }
            #expect(harness.resolvedNotifications(for: opened.id) == [["slow"]], "\(harness.notifier.notifications)")
            #expect(harness.count("euphrosyne_runs_cancelled_on_resolve_total") == 1)
            #expect(harness.count("euphrosyne_incidents_resolved_total") == 1)

            do throws(CoordinatorError) {
                _ = try await coordinator.approve(incident: opened.id, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
                Issue.record("a resolved incident was approved")
            } catch {
                guard case .approvalRejected(.closed(.resolved, _)) = error else {
                    Issue.record("wrong refusal: \(error)")
                    return
                }
            }

            let again = try await coordinator.receive(payload: Self.group())
            #expect(again.isNew)
            #expect(again.incident?.id != opened.id)
        }
    }

    @Test func aResolvedNotificationForAGroupWithoutAnIncidentOpensNothing() async throws {
        let harness = Harness(["dummy": .report(analysis: "x", actions: [], delay: .zero)])
        try await harness.running { coordinator in
            let reception = try await coordinator.receive(payload: Self.group("Gone", status: "resolved"))
            guard case .ignored(let reason) = reception else {
                Issue.record("expected it to be ignored, got \(reception)")
                return
            }
            #expect(reason.contains("no open incident"))
            #expect(harness.launcher.requests.isEmpty)
            #expect(harness.count("euphrosyne_resolved_without_incident_total") == 1)
            #expect(try await coordinator.incidents(offset: 0, limit: 10).total == 0)
        }
    }

    @Test func aResolvedIncidentCanBeApprovedWhenTheReconcilerAllowsIt() async throws {
        let harness = Harness(
            ["dummy": .report(analysis: "found it", actions: ["jira"], delay: .zero),
             "slow": .report(analysis: "ok", actions: [], delay: .zero),
             "disk-usage": .report(analysis: "disk", actions: [], delay: .zero),
             "jira": .report(analysis: "OPS-1 opened", actions: [], delay: .zero)],
            configuration: .init(defaultRecipeTimeoutSeconds: 30, drainTimeout: .milliseconds(200),
                                 approvesResolvedIncidents: true))
        try await harness.running { coordinator in
            let id = try #require(try await coordinator.receive(payload: Self.group("Allowed")).incident).id
            try await waitUntil("the analysis") { try await harness.state(of: id) == .analysed }
            _ = try await coordinator.receive(payload: Self.group("Allowed", status: "resolved"))
            #expect(try await harness.state(of: id) == .resolved)

            let (incident, decision) = try await coordinator.approve(incident: id, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
            let approval = decision.approval
            #expect(incident.state == .resolved)
            try await waitUntil("the action outcome") { harness.notifier.outcomes(for: id)[approval.id] != nil }
            #expect(harness.notifier.outcomes(for: id)[approval.id]?.text == "jira: OPS-1 opened")
            #expect(try await harness.state(of: id) == .resolved)
        }
    }

    // MARK: Alerts joining a group

    @Test func anAlertJoiningTheGroupRunsTheRecipesThatAskForItWithOnlyTheNewAlert() async throws {
        let harness = Harness([
            "dummy": .report(analysis: "x", actions: [], delay: .zero),
            "slow": .report(analysis: "y", actions: [], delay: .zero),
            "disk-usage": .report(analysis: "disk", actions: [], delay: .zero),
        ])
        try await harness.running { coordinator in
            let id = try #require(try await coordinator.receive(payload: Self.group("Join", ["a"])).incident).id
            try await waitUntil("the analysis") { try await harness.state(of: id) == .analysed }
            #expect(harness.launcher.requests.count == 3)

            let joined = try await coordinator.receive(payload: Self.group("Join", ["a", "b"]))
            guard case .joined(let incident, let started) = joined else {
                Issue.record("expected to join, got \(joined)")
                return
            }
            #expect(incident.id == id)
            #expect(started == ["disk-usage"])
            try await waitUntil("the run for the new alert") { harness.launcher.requests.count == 4 }
            let data = try JSONValue.parseObject(harness.launcher.requests[3].dataFile)
            let alerts = AlertNotification(raw: data).alerts
            #expect(alerts.map(\.fingerprint) == ["b"])
            try await waitUntil("the updated analysis") { harness.notifier.analyses(for: id).count == 2 }

            // A plain repeat starts nothing.
            let repeated = try await coordinator.receive(payload: Self.group("Join", ["a", "b"]))
            #expect(repeated.startedRecipes.isEmpty)
            #expect(harness.count("euphrosyne_notifications_deduplicated_total") == 2)
            #expect(harness.count("euphrosyne_runs_for_new_alerts_total") == 1)
        }
    }

    // MARK: Storm control

    @Test func aStormOfAThousandAlertsNeverRunsMoreThanTheCap() async throws {
        let catalog = RecipeCatalog(debugging: [.fake("dummy")], actions: [])
        let harness = Harness(
            ["dummy": .report(analysis: "x", actions: [], delay: .milliseconds(2))], catalog: catalog,
            configuration: .init(defaultRecipeTimeoutSeconds: 30, drainTimeout: .milliseconds(200),
                                 maxRunsInFlight: 20, intakeQueueCapacity: 2_000))
        try await harness.running { coordinator in
            let ids = try await withThrowingTaskGroup(of: UUID.self) { group in
                for index in 0..<1_000 {
                    group.addTask { try #require(try await coordinator.receive(payload: Self.group("Storm\(index)")).incident).id }
                }
                return try await group.reduce(into: Set<UUID>()) { $0.insert($1) }
            }
            #expect(ids.count == 1_000)
            try await waitUntil("every incident analysed", timeout: .seconds(120)) {
                Set(harness.notifier.notifications.compactMap(\.incidentID)).count == 1_000
            }
            #expect(harness.launcher.maxRunning <= 20)
            let statistics = coordinator.statistics
            #expect(statistics.runSlots.peakInUse <= 20)
            #expect(statistics.runSlots.waits > 0, "with 1,000 runs and 20 slots some must have waited")
            #expect(harness.count("euphrosyne_incidents_opened_total") == 1_000)
            for id in ids.prefix(20) { #expect(try await harness.state(of: id) == .analysed) }
        }
    }

    @Test func aQueuedRunGetsItsDeadlineWhenItStarts() async throws {
        let catalog = RecipeCatalog(debugging: [.fake("dummy")], actions: [])
        let harness = Harness(
            ["dummy": .report(analysis: "x", actions: [], delay: .milliseconds(1_100))], catalog: catalog,
            configuration: .init(defaultRecipeTimeoutSeconds: 30, drainTimeout: .milliseconds(200), maxRunsInFlight: 1))
        try await harness.running { coordinator in
            _ = try await coordinator.receive(payload: Self.group("First"))
            _ = try await coordinator.receive(payload: Self.group("Second"))
            try await waitUntil("both analysed", timeout: .seconds(30)) { harness.notifier.notifications.count == 2 }
        }
        let deadlines = harness.launcher.requests.compactMap { Int($0.environment["EUPHROSYNE_DEADLINE"] ?? "") }
        #expect(deadlines.count == 2)
        // The second waited about 1.1 s for the only slot; its 30 s started after that.
        #expect(deadlines[1] - deadlines[0] >= 1)
    }

    @Test func aFullIntakeQueueRefusesWithRetryAfter() async throws {
        let gate = Gate()
        let harness = Harness(
            ["dummy": .report(analysis: "x", actions: [], delay: .zero)],
            registry: GatedRegistry(RecipeCatalog(debugging: [.fake("dummy")], actions: []), gate: gate),
            configuration: .init(defaultRecipeTimeoutSeconds: 30, drainTimeout: .milliseconds(200),
                                 intakeQueueCapacity: 3))
        try await harness.running { coordinator in
            let admitted = (0..<3).map { index in
                Task { try await coordinator.receive(payload: Self.group("Queued\(index)")) }
            }
            try await waitUntil("three notifications in the queue") { coordinator.statistics.intakeQueueDepth == 3 }
            for index in 0..<2 {
                do throws(CoordinatorError) {
                    _ = try await coordinator.receive(payload: Self.group("Refused\(index)"))
                    Issue.record("a notification beyond the queue was taken in")
                } catch {
                    guard case .intakeQueueFull(let retryAfter) = error else {
                        Issue.record("wrong refusal: \(error)")
                        continue
                    }
                    #expect(retryAfter > 0)
                }
            }
            gate.open()
            for task in admitted { #expect(try await task.value.isNew) }
            let statistics = coordinator.statistics
            #expect(harness.count("euphrosyne_intake_refused_total", [("reason", "queue_full")]) == 2)
            #expect(statistics.intakeQueueDepth == 0)
            #expect(harness.count("euphrosyne_incidents_opened_total") == 3)
        }
    }

    @Test func theRateLimitRefusesNewIncidentsOfOneAlertNameButNotRepeats() async throws {
        let harness = Harness(
            ["dummy": .hang, "slow": .hang, "disk-usage": .hang],
            configuration: .init(defaultRecipeTimeoutSeconds: 30, drainTimeout: .milliseconds(200),
                                 incidentsPerAlertNamePerHour: 2))
        @Sendable func labelled(_ group: String) -> [String: JSONValue] {
            var payload = Self.group("Flappy", [group])
            payload["groupKey"] = .string("{}:{alertname=\"Flappy\", instance=\"\(group)\"}")
            return payload
        }
        try await harness.running { coordinator in
            #expect(try await coordinator.receive(payload: labelled("a")).isNew)
            #expect(try await coordinator.receive(payload: labelled("b")).isNew)
            do throws(CoordinatorError) {
                _ = try await coordinator.receive(payload: labelled("c"))
                Issue.record("a third incident of the same alert name opened")
            } catch {
                guard case .rateLimited(let name, let retryAfter) = error else {
                    Issue.record("wrong refusal: \(error)")
                    return
                }
                #expect(name == "Flappy")
                #expect((3_500...3_600).contains(retryAfter))
            }
            // A repeat of an open group is not a new incident: never limited.
            let repeated = try await coordinator.receive(payload: labelled("a"))
            #expect(!repeated.isNew && repeated.incident != nil)
            // Another alert name has its own quota.
            #expect(try await coordinator.receive(payload: Self.group("Other")).isNew)
            #expect(harness.count("euphrosyne_intake_refused_total", [("reason", "rate_limited")]) == 1)
        }
    }

    // MARK: Across replicas

    @Test func twoReconcilersSharingAStoreOpenOneIncidentPerGroup() async throws {
        let store = DurableTestStore()
        let first = Harness(["dummy": .hang, "slow": .hang, "disk-usage": .hang], store: store)
        let second = Harness(["dummy": .hang, "slow": .hang, "disk-usage": .hang], store: store)
        try await first.running { one in
            try await second.running { two in
                let receptions = try await withThrowingTaskGroup(of: Reception.self) { group in
                    for index in 0..<10 {
                        let coordinator = index.isMultiple(of: 2) ? one : two
                        group.addTask { try await coordinator.receive(payload: Self.group("Shared")) }
                    }
                    return try await group.reduce(into: [Reception]()) { $0.append($1) }
                }
                #expect(receptions.filter(\.isNew).count == 1)
                #expect(Set(receptions.compactMap(\.incident?.id)).count == 1)
                try await waitUntil("the one incident's three runs") {
                    first.launcher.requests.count + second.launcher.requests.count == 3
                }
                #expect(try await store.list(offset: 0, limit: 10).total == 1)
            }
        }
    }
}
