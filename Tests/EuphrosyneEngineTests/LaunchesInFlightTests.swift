import EuphrosyneCore
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Synchronization
import Testing

@testable import EuphrosyneEngine

/// An incident's clean-up never deletes a run's Job before a launch of that run, already under way, created it.
@Suite struct LaunchesInFlightTests {
    @Test func settledReturnsAtOnceWithoutLaunchesAndWaitsForTheLastOne() async throws {
        let launches = LaunchesInFlight()
        let incident = UUID()
        await launches.settled(incident)

        let first = launches.begin(incident)
        let second = launches.begin(incident)
        #expect(launches.count(incident) == 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await launches.settled(incident) }
            try await waitUntil("the clean-up to wait") { launches.waiting(incident) == 1 }
            first.end()
            first.end()  // counted once
            #expect(launches.count(incident) == 1)
            #expect(launches.waiting(incident) == 1, "still waiting for the second")
            // Another incident's launches do not hold it.
            launches.begin(UUID()).end()
            second.end()
            try await group.waitForAll()
        }
        #expect(launches.count(incident) == 0 && launches.waiting(incident) == 0)
    }

    /// A launcher whose creation waits for the test, and which records creations and clean-ups in order.
    final class GatedCreationLauncher: RecipeLauncher {
        let events = Mutex<[String]>([])
        private let gate = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

        func open() {
            let waiter = gate.withLock { gate in
                gate.open = true
                defer { gate.waiter = nil }
                return gate.waiter
            }
            waiter?.resume()
        }

        func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
            events.withLock { $0.append("creating \(request.run.name)") }
            // A stop (the test failed, the drain gave up) opens the gate too.
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let isOpen = gate.withLock { gate in
                        if !gate.open { gate.waiter = continuation }
                        return gate.open
                    }
                    if isOpen { continuation.resume() }
                }
            } onCancel: { open() }
            events.withLock { $0.append("created \(request.run.name)") }
            await started()
            return .exited(status: 0, stderrTail: "")
        }

        func cleanUp(incident: UUID, phase: RunPhase) async {
            events.withLock { $0.append("clean-up \(phase.label ?? "all")") }
        }
    }

    /// The run's result arrives (as from a Job an earlier leader created) while its launch is still creating.
    @Test func aCleanUpWaitsForALaunchStillCreatingItsRun() async throws {
        let launcher = GatedCreationLauncher()
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(RecipeCatalog(debugging: [.fake("dummy")], actions: [])), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: RecordingNotifier(),
            store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .seconds(5))
        )
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let opened = try await coordinator.openIncident(payload: ["version": .string("4")])
            let id = opened.id
            let run = try #require(opened.runs.first?.name)
            try await waitUntil("the launch to be creating") { launcher.events.withLock { $0 } == ["creating \(run)"] }

            let result = RecipeResult(incident: id.uuidString.lowercased(), name: "dummy", status: .successful,
                                      results: .init(actions: [], analysis: "fine"))
            _ = await coordinator.deliver(result, via: .callback)
            #expect(try await coordinator.incident(id)?.state == .analysed)
            try await waitUntil("the clean-up to wait for the launch", timeout: .seconds(10)) { coordinator.launchesInFlight.waiting(id) == 1 }
            #expect(launcher.events.withLock { $0 } == ["creating \(run)"])

            launcher.open()
            try await waitUntil("the clean-up") { launcher.events.withLock { $0.count } == 3 }
            #expect(launcher.events.withLock { $0 } == ["creating \(run)", "created \(run)", "clean-up debugging"])
            #expect(coordinator.launchesInFlight.count(id) == 0)
        }
    }
}
