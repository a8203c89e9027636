import EuphrosyneCore
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

@testable import EuphrosyneEngine

@Suite struct IncidentCoordinatorTests {
    /// A coordinator over scripted recipes, a recording notifier and a store; the coordinator tests share it.
    struct Harness {
        let coordinator: IncidentCoordinator
        let launcher: ScriptedLauncher
        let notifier: RecordingNotifier
        let store: any IncidentStore
        /// swift-metrics' test backend, behind the coordinator's metrics.
        let metrics = TestMetrics()

        init(_ behaviours: [String: ScriptedLauncher.Behaviour], catalog: RecipeCatalog,
             drainTimeout: Duration = .seconds(10), registry: (any RecipeRegistry)? = nil,
             store: any IncidentStore = InMemoryIncidentStore(), configuration: CoordinatorConfiguration? = nil,
             clock: any Clock<Duration> = ContinuousClock()) {
            launcher = ScriptedLauncher(behaviours)
            notifier = RecordingNotifier()
            self.store = store
            coordinator = IncidentCoordinator(
                registry: registry ?? StaticRecipeRegistry(catalog), launcher: launcher,
                resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9/"), notifier: notifier,
                store: store,
                configuration: configuration ?? .init(defaultRecipeTimeoutSeconds: 60, aggregatorAddress: "agg:1",
                                                      redisAddress: "", drainTimeout: drainTimeout),
                metrics: ReconcilerMetrics(factory: metrics), clock: clock
            )
            let coordinator = self.coordinator
            launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        }

        func running<T: Sendable>(_ body: @Sendable (IncidentCoordinator) async throws -> T) async throws -> T {
            try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
                try await body(coordinator)
            }
        }

        func state(of id: UUID) async throws -> Incident.State? { try await coordinator.incident(id)?.state }

        /// The value of the counter `label` with these dimensions (0 when it was never made).
        func count(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
            (try? metrics.expectCounter(label, dimensions).totalValue) ?? 0
        }
    }

    static let catalog = RecipeCatalog(
        debugging: [.fake("dummy"), .fake("slow")],
        actions: [.fake("jira", .action), .fake("webhook", .action)]
    )

    @Test func callbackSecretsAreSixtyFourRandomHexDigits() {
        let secrets = (0..<400).map { _ in IncidentCoordinator.makeSecret() }
        #expect(Set(secrets).count == secrets.count)
        for secret in secrets {
            #expect(secret.utf8.count == 64)
            #expect(secret.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        // Every hex digit shows up in every position across 400 secrets (a miss has odds below 1e-10).
        for position in [0, 1, 31, 62, 63] {
            let seen = Set(secrets.map { $0[$0.index($0.startIndex, offsetBy: position)] })
            #expect(seen.count == 16, "position \(position)")
        }
    }

    @Test func drivesAnIncidentFromAlertToDone() async throws {
        let harness = Harness([
            "dummy": .report(analysis: "all good", actions: ["jira"], delay: .zero),
            "slow": .report(analysis: "checked", actions: ["webhook"], delay: .milliseconds(50)),
            "jira": .report(analysis: "OPS-7 opened", actions: [], delay: .zero),
        ], catalog: Self.catalog)
        let payload: [String: JSONValue] = ["version": .string("4"), "alerts": .array([])]

        try await harness.running { coordinator in
            let opened = try await coordinator.openIncident(payload: payload)
            #expect(opened.runs.map(\.recipe) == ["dummy", "slow"])
            try await waitUntil("the analysis") { !harness.notifier.analyses(for: opened.id).isEmpty }
            #expect(try await harness.state(of: opened.id) == .analysed)
            let analysis = try #require(harness.notifier.analyses(for: opened.id).first)
            #expect(analysis.actions == ["jira", "webhook"])
            #expect(analysis.text == "dummy: all good\n\nslow: checked")

            let (acting, decision) = try await coordinator.approve(
                incident: opened.id,
                ApprovalRequest(actions: [ActionRequest(name: "jira", data: ["summary": .string("api down")])],
                                approvedBy: "alice"))
            #expect(acting.state == .acting)
            #expect(decision.approval.id == 1)
            try await waitUntil("the action outcome") { harness.notifier.outcomes(for: opened.id)[1] != nil }
            #expect(try await harness.state(of: opened.id) == .done)
            #expect(harness.notifier.outcomes(for: opened.id)[1]?.text == "jira: OPS-7 opened")
        }

        // What the recipes were given: the original argv values, the data file, the EUPHROSYNE_ environment.
        let requests = harness.launcher.requests
        let debugging = try #require(requests.first { $0.recipe.name == "dummy" })
        let debuggingData = try JSONValue.parseObject(debugging.dataFile)
        #expect(debuggingData["uuid"] == .string(debugging.incidentID.uuidString.lowercased()))
        #expect(debuggingData["version"] == .string("4"))
        #expect(debugging.aggregatorAddress == "agg:1")
        #expect(debugging.environment["EUPHROSYNE_INCIDENT"] == debugging.incidentID.uuidString.lowercased())
        #expect(debugging.environment["EUPHROSYNE_RECIPE"] == "dummy")
        let callback = try #require(debugging.environment["EUPHROSYNE_RESULT_URL"])
        #expect(callback.hasPrefix("http://127.0.0.1:9/results/\(debugging.incidentID.uuidString.lowercased())/"))
        #expect(callback.split(separator: "/").last?.count == 64)

        let action = try #require(requests.first { $0.recipe.name == "jira" })
        let actionData = try JSONValue.parseObject(action.dataFile)
        #expect(actionData["summary"] == .string("api down"))
        #expect(actionData["uuid"] == .string(action.incidentID.uuidString.lowercased()))
        #expect(actionData["alert"] == .object(payload))
        #expect(actionData["analysis"] == .string("dummy: all good\n\nslow: checked"))
        #expect(actionData["suggestedActions"] == .array([.string("jira"), .string("webhook")]))
        #expect(actionData["analysisLinks"] == nil)
    }

    @Test func runsTheRecipesOfAnIncidentConcurrently() async throws {
        let harness = Harness([
            "dummy": .report(analysis: "a", actions: [], delay: .milliseconds(300)),
            "slow": .report(analysis: "b", actions: [], delay: .milliseconds(300)),
        ], catalog: Self.catalog)
        try await harness.running { coordinator in
            let incident = try await coordinator.openIncident(payload: .unique)
            try await waitUntil("the analysis") { try await harness.state(of: incident.id) == .analysed }
        }
        #expect(harness.launcher.maxRunning == 2)
    }

    @Test func aRecipeThatHangsIsReportedAsTimedOut() async throws {
        let catalog = RecipeCatalog(debugging: [.fake("dummy"), .fake("stuck", timeout: 1)], actions: [])
        let harness = Harness([
            "dummy": .report(analysis: "fine", actions: [], delay: .zero), "stuck": .hang,
        ], catalog: catalog)
        try await harness.running { coordinator in
            let incident = try await coordinator.openIncident(payload: .unique)
            try await waitUntil("the analysis") { !harness.notifier.analyses(for: incident.id).isEmpty }
            let analysis = try #require(harness.notifier.analyses(for: incident.id).first)
            #expect(analysis.shortfalls == [Analysis.Shortfall(recipe: "stuck", reason: "timed out after 1 s")])
        }
    }

    @Test func refusesApprovalsItCannotHonour() async throws {
        let harness = Harness(["dummy": .exit(2, stderr: "bad"), "slow": .exit(2, stderr: "bad")], catalog: Self.catalog)
        try await harness.running { coordinator in
            let missing = UUID()
            await #expect(throws: CoordinatorError.self) {
                try await coordinator.approve(incident: missing, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
            }
            let incident = try await coordinator.openIncident(payload: .unique)
            try await waitUntil("the incident to fail") { try await harness.state(of: incident.id) == .failed }
            do {
                _ = try await coordinator.approve(incident: incident.id, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
                Issue.record("a failed incident must refuse approvals")
            } catch let error as CoordinatorError {
                guard case .approvalRejected(.closed(.failed, _)) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
            }
            #expect(await coordinator.deliver(RecipeResult(incident: missing.uuidString, name: "dummy", status: .successful),
                                              via: .callback)
                == .unknownIncident)
            #expect(await coordinator.deliver(RecipeResult(incident: incident.id.uuidString, name: "dummy",
                                                           status: .successful), via: .callback)
                == .ignored("incident \(incident.id.uuidString) is closed"))
        }
    }

    @Test func jobStatusesAreReturnedAndPushedToTheNotifier() async throws {
        let harness = Harness(["dummy": .hang, "slow": .hang], catalog: Self.catalog, drainTimeout: .milliseconds(100))
        try await harness.running { coordinator in
            let incident = try await coordinator.openIncident(payload: .unique)
            try await waitUntil("both runs to start") {
                try await coordinator.incident(incident.id)?.runs.allSatisfy { $0.state == .running } == true
            }
            let statuses = try await coordinator.jobStatuses(incident: incident.id)
            #expect(statuses.map(\.status) == [.active, .active])
            #expect(statuses.map { $0.labels["recipe"] } == ["dummy", "slow"])
            try await waitUntil("the status push") {
                harness.notifier.notifications.contains { if case .jobStatus = $0 { return true } else { return false } }
            }
            await #expect(throws: CoordinatorError.self) { try await coordinator.jobStatuses(incident: UUID()) }
        }
    }

    @Test func gracefulShutdownLetsRunningRecipesFinish() async throws {
        let harness = Harness([
            "dummy": .report(analysis: "a", actions: [], delay: .milliseconds(400)),
            "slow": .report(analysis: "b", actions: [], delay: .milliseconds(400)),
        ], catalog: Self.catalog)
        let id = try await harness.running { coordinator in
            try await coordinator.openIncident(payload: .unique).id
        }
        // `running` triggered a graceful shutdown right after opening; the coordinator drained before it returned.
        #expect(try await harness.coordinator.incident(id)?.state == .analysed)
        await #expect(throws: CoordinatorError.self) { try await harness.coordinator.openIncident(payload: .unique) }
    }

    @Test func theDrainTimeoutStopsWhatIsStillRunning() async throws {
        // Recipe timeouts far beyond the test, so the drain (not a timeout) is what stops them; the drain's minute
        // passes on a manual clock, once the coordinator waits on it.
        let clock = ManualClock()
        let harness = Harness(["dummy": .hang, "slow": .hang], catalog: Self.catalog,
                              configuration: .init(defaultRecipeTimeoutSeconds: 600, drainTimeout: .seconds(60)),
                              clock: clock)
        let id = try await withThrowingTaskGroup(of: UUID?.self) { group in
            group.addTask {
                try await harness.running { coordinator in
                    let incident = try await coordinator.openIncident(payload: .unique)
                    try await waitUntil("the runs to start") {
                        try await coordinator.incident(incident.id)?.runs.allSatisfy { $0.state == .running } == true
                    }
                    #expect(clock.sleepers == 0, "nothing else sleeps on the clock")
                    return incident.id
                }
            }
            group.addTask {
                try await waitUntil("the drain to wait for the runs") { clock.sleepers == 1 }
                #expect(!harness.coordinator.isAcceptingWork)
                clock.advance(by: .seconds(59))
                #expect(clock.sleepers == 1, "the drain waits its whole timeout")
                clock.advance(by: .seconds(1))
                return nil
            }
            var id: UUID?
            for try await value in group { id = id ?? value }
            return try #require(id)
        }
        let incident = try #require(await harness.store.incident(id))
        #expect(incident.runs.map(\.state) == [.cancelled, .cancelled])
        #expect(incident.state == .failed)
    }

    @Test func aRestartedCoordinatorResumesAnIncidentWithoutLaunchingAgain() async throws {
        let store = DurableTestStore()
        func coordinator(_ launcher: ScriptedLauncher, notifier: RecordingNotifier) -> IncidentCoordinator {
            IncidentCoordinator(
                registry: StaticRecipeRegistry(Self.catalog), launcher: launcher,
                resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier, store: store,
                configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .milliseconds(100))
            )
        }
        let firstLauncher = ScriptedLauncher(["dummy": .report(analysis: "a", actions: ["jira"], delay: .zero), "slow": .hang])
        let first = coordinator(firstLauncher, notifier: RecordingNotifier())
        firstLauncher.deliverResults { _ = await first.deliver($0, via: .callback) }
        let id = try await RunningServer.with(services: [first], ports: PortCollector(count: 0)) { _ in
            let incident = try await first.openIncident(payload: .unique)
            try await waitUntil("dummy to report and slow to run") {
                let runs = try await first.incident(incident.id)?.runs ?? []
                return runs.map(\.state) == [.reported, .running]
            }
            return incident.id
        }
        // Stopping left the unfinished run as it was: the next process picks it up.
        #expect(try await store.incident(id)?.runs.map(\.state) == [.reported, .running])

        let secondLauncher = ScriptedLauncher([:])
        let notifier = RecordingNotifier()
        let second = coordinator(secondLauncher, notifier: notifier)
        try await RunningServer.with(services: [second], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the incident to be resumed") { second.callbackSecret(for: id) != nil }
            let outcome = await second.deliver(RecipeResult(incident: id.uuidString, name: "slow", status: .successful,
                                                            results: .init(actions: ["webhook"], analysis: "b")),
                                            via: .callback)
            #expect(outcome == .accepted)
            try await waitUntil("the analysis") { !notifier.analyses(for: id).isEmpty }
            #expect(notifier.analyses(for: id).first?.actions == ["jira", "webhook"])
        }
        #expect(secondLauncher.requests.isEmpty)
    }

    /// Each delivered notification is recorded with the incident; an analysis saved but not delivered when the
    /// coordinator stopped (a crash, a failover) is sent by the next one, once.
    @Test func anAnalysisNotDeliveredBeforeAStopIsSentByTheNextCoordinatorOnce() async throws {
        let store = DurableTestStore()
        func coordinator(_ notifier: RecordingNotifier) -> IncidentCoordinator {
            let launcher = ScriptedLauncher(["dummy": .report(analysis: "a", actions: ["jira"], delay: .zero),
                                             "slow": .report(analysis: "b", actions: [], delay: .zero)])
            let coordinator = IncidentCoordinator(
                registry: StaticRecipeRegistry(Self.catalog), launcher: launcher,
                resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier, store: store,
                configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .milliseconds(100))
            )
            launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
            return coordinator
        }
        let firstNotifier = RecordingNotifier()
        let first = coordinator(firstNotifier)
        let id = try await RunningServer.with(services: [first], ports: PortCollector(count: 0)) { _ in
            let incident = try await first.openIncident(payload: .unique)
            try await waitUntil("the analysis delivered and recorded") {
                guard let stored = try await store.incident(incident.id), let analysis = stored.analysis else { return false }
                return stored.hasSent(NotificationKey.analysis(incident.id, analysis))
            }
            return incident.id
        }
        #expect(firstNotifier.analyses(for: id).count == 1)

        // Delivered and recorded: a restart sends nothing again (its drain at the end would have let it finish).
        let secondNotifier = RecordingNotifier()
        let second = coordinator(secondNotifier)
        try await RunningServer.with(services: [second], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the incident to be resumed") { second.callbackSecret(for: id) != nil }
        }
        #expect(secondNotifier.analyses(for: id).isEmpty)

        // Saved analysed, but the coordinator stopped before delivering: the next one delivers it, and records it.
        var undelivered = try #require(try await store.incident(id))
        undelivered.sentNotifications = []
        undelivered.revision += 1
        try await store.save(undelivered)
        let thirdNotifier = RecordingNotifier()
        let third = coordinator(thirdNotifier)
        try await RunningServer.with(services: [third], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the missing analysis sent and recorded") {
                guard let stored = try await store.incident(id), let analysis = stored.analysis else { return false }
                return !thirdNotifier.analyses(for: id).isEmpty && stored.hasSent(NotificationKey.analysis(id, analysis))
            }
        }
        #expect(thirdNotifier.analyses(for: id).count == 1)
    }

    @Test func aResumedRunPastItsTimeoutTimesOut() async throws {
        let store = DurableTestStore()
        var incident = Incident(id: UUID(), payload: [:], callbackSecret: "s", at: Date().addingTimeInterval(-120))
        _ = incident.handle(.open(recipes: [.fake("dummy", timeout: 60)], defaultTimeoutSeconds: 60,
                                  at: Date().addingTimeInterval(-120)))
        try await store.save(incident)
        let id = incident.id
        let notifier = RecordingNotifier()
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(Self.catalog), launcher: ScriptedLauncher([:]),
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier, store: store
        )
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the resumed run to time out") { try await coordinator.incident(id)?.state == .failed }
        }
        #expect(try await store.incident(id)?.runs.first?.failureReason == "timed out after 60 s")
    }

    @Test func aRepeatedNotificationJoinsItsOpenIncidentAndLaunchesNothing() async throws {
        let harness = Harness(["dummy": .report(analysis: "a", actions: [], delay: .zero),
                               "slow": .report(analysis: "b", actions: [], delay: .zero)], catalog: Self.catalog)
        let group: [String: JSONValue] = ["version": .string("4"), "groupKey": .string("{}:{alertname=\"X\"}"),
                                          "alerts": .array([])]
        var changedGroup = group
        changedGroup["status"] = .string("firing")
        let changed = changedGroup
        try await harness.running { coordinator in
            // Ten copies at once, as Alertmanager retries and repeats: one incident.
            let received = try await withThrowingTaskGroup(of: (UUID, Bool).self) { tasks in
                for index in 0..<10 {
                    tasks.addTask {
                        let reception = try await coordinator.receive(payload: index == 9 ? changed : group)
                        return (try #require(reception.incident).id, reception.isNew)
                    }
                }
                return try await tasks.reduce(into: [(UUID, Bool)]()) { $0.append($1) }
            }
            #expect(Set(received.map(\.0)).count == 1)
            #expect(received.filter(\.1).count == 1)
            let id = received[0].0
            try await waitUntil("the analysis") { try await harness.state(of: id) == .analysed }
            #expect(try await coordinator.incident(id)?.notificationCount == 10)
            #expect(harness.launcher.requests.count == 2)
        }
    }

    @Test func aGroupThatFiresAgainAfterItsIncidentClosedOpensANewOne() async throws {
        let harness = Harness(["dummy": .exit(1, stderr: "x"), "slow": .exit(1, stderr: "x")], catalog: Self.catalog)
        let group: [String: JSONValue] = ["version": .string("4"), "groupKey": .string("{}:{alertname=\"Y\"}"),
                                          "alerts": .array([])]
        try await harness.running { coordinator in
            let first = try await coordinator.receive(payload: group)
            let firstID = try #require(first.incident).id
            try await waitUntil("the first incident to close") { try await harness.state(of: firstID) == .failed }
            let second = try await coordinator.receive(payload: group)
            #expect(second.isNew)
            #expect(second.incident?.id != firstID)
        }
    }

    @Test func aRestartedCoordinatorStillDeduplicatesAgainstResumedIncidents() async throws {
        let store = DurableTestStore()
        let group: [String: JSONValue] = ["version": .string("4"), "groupKey": .string("{}:{alertname=\"Z\"}"),
                                          "alerts": .array([])]
        func coordinator() -> IncidentCoordinator {
            IncidentCoordinator(
                registry: StaticRecipeRegistry(Self.catalog), launcher: ScriptedLauncher(["dummy": .hang, "slow": .hang]),
                resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: RecordingNotifier(),
                store: store, configuration: .init(drainTimeout: .milliseconds(100))
            )
        }
        let first = coordinator()
        let id = try await RunningServer.with(services: [first], ports: PortCollector(count: 0)) { _ in
            try #require(try await first.receive(payload: group).incident).id
        }
        let second = coordinator()
        try await RunningServer.with(services: [second], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the incident to be resumed") { second.callbackSecret(for: id) != nil }
            let again = try await second.receive(payload: group)
            #expect(!again.isNew)
            #expect(again.incident?.id == id)
        }
    }
}

/// The cap on open incidents: new groups are refused past it, open ones still take their notifications.
@Suite struct OpenIncidentCapTests {
    static func group(_ key: String, status: String = "firing") -> [String: JSONValue] {
        ["version": .string("4"), "status": .string(status), "groupKey": .string(key),
         "alerts": .array([.object(["status": .string(status), "labels": .object(["alertname": .string(key)])])])]
    }

    @Test func pastTheCapANewGroupIsRefusedWhileOpenIncidentsStillJoinAndAClosedOneMakesRoom() async throws {
        let harness = IncidentCoordinatorTests.Harness(
            ["dummy": .hang], catalog: RecipeCatalog(debugging: [.fake("dummy")], actions: []),
            configuration: .init(drainTimeout: .milliseconds(200), maxOpenIncidents: 2)
        )
        try await harness.running { coordinator in
            let first = try await coordinator.receive(payload: Self.group("a"))
            _ = try await coordinator.receive(payload: Self.group("b"))
            await #expect(throws: CoordinatorError.self) { try await coordinator.receive(payload: Self.group("c")) }
            do throws(CoordinatorError) {
                _ = try await coordinator.receive(payload: Self.group("c"))
            } catch {
                guard case .tooManyOpenIncidents(let limit, let retryAfter) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(limit == 2 && retryAfter > 0)
            }
            // A notification of an open group still joins it.
            #expect(try await coordinator.receive(payload: Self.group("a")).outcome == "joined")
            #expect(harness.count("euphrosyne_intake_refused_total", [("reason", "max_open_incidents")]) == 2)
            #expect(coordinator.statistics.openIncidents == 2)
            // Once one resolves (and its cancelled run ends), a new group is taken again.
            _ = try await coordinator.receive(payload: Self.group("a", status: "resolved"))
            try await waitUntil("the resolved incident to close") {
                coordinator.statistics.openIncidents == 1
            }
            #expect(try await coordinator.receive(payload: Self.group("c")).outcome == "opened")
            #expect(first.incident != nil)
        }
    }
}

/// What a launcher is told about its run while it runs.
@Suite struct LaunchRequestTests {
    @Test func aRunsRequestSaysWhetherItsResultIsIn() async throws {
        let launcher = ScriptedLauncher(["dummy": .hang, "slow": .hang])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(IncidentCoordinatorTests.catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: RecordingNotifier(),
            store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .milliseconds(200))
        )
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: ["version": .string("4")]).id
            try await waitUntil("both runs to start") { launcher.requests.count == 2 }
            let dummy = try #require(launcher.requests.first { $0.recipe.name == "dummy" })
            let slow = try #require(launcher.requests.first { $0.recipe.name == "slow" })
            #expect(!dummy.hasReported() && !slow.hasReported())
            let result = RecipeResult(incident: id.uuidString.lowercased(), name: "dummy", status: .successful,
                                      results: .init(actions: [], analysis: "fine"))
            _ = await coordinator.deliver(result, via: .callback)
            #expect(dummy.hasReported())
            #expect(!slow.hasReported())
        }
    }
}

/// Chat threads are kept with the incident, so whichever reconciler sends next replies in them.
@Suite struct ChatThreadTests {
    /// A notifier that starts a thread with each analysis and records the threads it was given.
    final class ThreadingNotifier: Notifier {
        let given = Mutex<[(String, ChatThreads)]>([])

        func send(_ notification: ChatNotification) async throws {}

        func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
            given.withLock { $0.append((notification.kind, threads)) }
            if case .analysis = notification, threads.isEmpty { return ["webex": "message-1"] }
            return [:]
        }
    }

    @Test func theThreadAnAnalysisStartedIsStoredAndGivenToLaterNotifications() async throws {
        let notifier = ThreadingNotifier()
        let store = InMemoryIncidentStore()
        let launcher = ScriptedLauncher(["dummy": .report(analysis: "fine", actions: ["jira"], delay: .zero),
                                         "jira": .report(analysis: "OPS-1", actions: [], delay: .zero)])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(IncidentCoordinatorTests.catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier, store: store,
            configuration: .init(drainTimeout: .milliseconds(200))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: ["version": .string("4")]).id
            try await waitUntil("the thread to be stored") { await store.incident(id)?.chatThreads == ["webex": "message-1"] }
            _ = try await coordinator.approve(incident: id, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
            try await waitUntil("the action outcome to be sent") {
                notifier.given.withLock { $0.contains { $0.0 == "action-outcome" } }
            }
            let outcome = notifier.given.withLock { $0.first { $0.0 == "action-outcome" } }
            #expect(outcome?.1 == ["webex": "message-1"])
        }
    }
}

/// Timers run on the injected clock: a test moves time instead of waiting for it.
@Suite struct DeadlineTests {
    @Test func anAnalysedIncidentExpiresWhenItsApprovalWindowPassesOnTheClock() async throws {
        let clock = ManualClock()
        let launcher = ScriptedLauncher(["dummy": .report(analysis: "fine", actions: ["jira"], delay: .zero)])
        let notifier = RecordingNotifier()
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(IncidentCoordinatorTests.catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier,
            store: InMemoryIncidentStore(),
            configuration: .init(approvalWindowSeconds: 3_600, drainTimeout: .milliseconds(200)),
            now: { clock.date }, clock: clock
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: ["version": .string("4"), "alerts": .array([])]).id
            try await waitUntil("the analysis") { try await coordinator.incident(id)?.state == .analysed }
            try await waitUntil("the deadline scheduler to sleep until the deadline") { clock.sleepers >= 1 }
            // A minute short of the window: still open.
            clock.advance(by: .seconds(3_540))
            try await waitUntil("the scheduler to sleep again") { clock.sleepers >= 1 }
            #expect(try await coordinator.incident(id)?.state == .analysed)
            clock.advance(by: .seconds(60))
            try await waitUntil("the incident to expire") { try await coordinator.incident(id)?.state == .expired }
            #expect(try await coordinator.incident(id)?.closedReason == "no approval within the approval window")
        }
    }
}
