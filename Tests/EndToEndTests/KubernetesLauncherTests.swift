import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Synchronization
import Testing

@testable import EuphrosyneCluster

/// The Job launcher and the ConfigMap registry against the Kubernetes API emulator, whose kubelet runs each pod as
/// a local script: the failure paths a cluster brings (image pulls, deadlines, stops, restarts, API outages) and
/// registry edits.
@Suite struct KubernetesLauncherTests {
    static let namespace = "recipes"

    /// An emulator whose `scripts:1` image holds small shell scripts, a client for it, and a running launcher
    /// whose own deadlines are on `clock` (the Jobs' `activeDeadlineSeconds` are the emulator's, on the wall clock).
    struct Cluster: Sendable {
        let emulator: KubernetesEmulator
        let client: KubernetesClient
        let launcher: KubernetesJobLauncher
        let clock: ManualClock
        let images: URL

        static func with<T: Sendable>(
            leaveRunning: Bool = false, _ body: @Sendable (Cluster) async throws -> T
        ) async throws -> T {
            let images = FileManager.default.temporaryDirectory.appendingPathComponent("images-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: images) }
            try writeExecutableScript(at: images.appendingPathComponent("quick").path, "#!/bin/sh\necho quick done\n")
            try writeExecutableScript(at: images.appendingPathComponent("sleepy").path, "#!/bin/sh\nexec sleep 60\n")
            let emulator = try await KubernetesEmulator.start(
                namespaces: [namespace],
                kubelet: Kubelet.Configuration(images: ["scripts:1": .init(directory: images.path)],
                                               environment: ["PATH": "/usr/bin:/bin"]))
            let token = await emulator.validToken()
            let client = try KubernetesClient(
                configuration: KubernetesConfiguration(server: emulator.baseURL, caPEM: emulator.caPEM,
                                                       credentials: .bearer(TokenSource(token: token))),
                retries: 3)
            let clock = ManualClock()
            let launcher = KubernetesJobLauncher(
                client: client,
                settings: .init(namespace: namespace, deadlineGrace: deadlineGrace,
                                leavesRunsRunningWhenCancelled: leaveRunning),
                clock: clock, now: { clock.date })
            let informers = Task { try await launcher.run() }
            let cluster = Cluster(emulator: emulator, client: client, launcher: launcher, clock: clock, images: images)
            do {
                let result = try await body(cluster)
                informers.cancel()
                _ = await informers.result
                try await client.shutdown()
                await emulator.stop()
                return result
            } catch {
                informers.cancel()
                _ = await informers.result
                try? await client.shutdown()
                await emulator.stop()
                throw error
            }
        }

        func jobs() async -> [JSON] { await emulator.objects(.jobs, namespace: namespace) }
    }

    /// How long past a run's timeout the launcher waits for the Job to fail by itself.
    static let deadlineGrace = Duration.seconds(5)

    static let incident = UUID()

    static func request(_ entrypoint: String, image: String = "scripts:1", timeout: Int = 60, run: Int = 1) throws -> LaunchRequest {
        let recipe = try Recipe(name: "probe", kind: .debugging, enabled: true, image: image, entrypoint: entrypoint)
        let recipeRun = RecipeRun(id: run, recipe: "probe", kind: .debugging, description: "", name: "probe-bbbbb",
                                  timeoutSeconds: timeout, createdAt: Date())
        return LaunchRequest(incidentID: incident, run: recipeRun, recipe: recipe, dataFile: Data("{}".utf8),
                             aggregatorAddress: "", redisAddress: "", environment: [:])
    }

    @Test func aPodThatCannotPullItsImageFailsItsRunAtOnceAndItsJobIsDeleted() async throws {
        try await Cluster.with { cluster in
            let started = ContinuousClock.now
            let exit = await cluster.launcher.run(try Self.request("quick", image: "missing/image:1")) {}
            guard case .launchFailed(let reason) = exit else {
                Issue.record("expected a launch failure, got \(exit)")
                return
            }
            #expect(reason.contains("ErrImagePull") || reason.contains("ImagePullBackOff"), "\(reason)")
            // Well before the run's 60 s deadline, which is when the Job itself would fail.
            #expect(ContinuousClock.now - started < .seconds(30))
            try await waitUntil("the Job to be deleted") { await cluster.jobs().isEmpty }
        }
    }

    /// A leader that created a run's Job and stopped before recording the run as started: the next leader launches
    /// the run again, and finds the Job instead of starting a second one.
    @Test func aLaunchRepeatedAfterAFailoverFollowsTheJobAlreadyThere() async throws {
        try await Cluster.with { cluster in
            let request = try Self.request("quick", run: 4)
            #expect(await cluster.launcher.run(request) {} == .exited(status: 0, stderrTail: "quick done"))
            let again = await cluster.launcher.run(request) {}
            #expect(again == .exited(status: 0, stderrTail: "quick done"), "\(again)")
            let jobs = await cluster.jobs()
            #expect(jobs.count == 1)
            #expect(jobs.first?["metadata"]["name"].string == "probe-\(KubernetesJobLauncher.incidentTag(Self.incident))-4")
            let creations = await cluster.emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") }
            #expect(creations.map(\.status) == [201, 409], "\(creations)")
            #expect(await cluster.emulator.objects(.configMaps, namespace: Self.namespace).count == 1)
        }
    }

    @Test func aJobOfTheSameNameFromAnotherIncidentIsNotTakenForThisRuns() async throws {
        try await Cluster.with { cluster in
            let request = try Self.request("quick", run: 5)
            var squatter = try JSON.parse(#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"labels":{"uuid":"someone-else","euphrosyne.io/run":"5"}},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"scripts:1","command":["quick"]}]}}}}"#)
            squatter["metadata"]["name"] = .string(KubernetesJobLauncher.jobName(for: request))
            _ = try await cluster.emulator.seed(.jobs, namespace: Self.namespace, squatter)
            let exit = await cluster.launcher.run(request) {}
            guard case .launchFailed(let reason) = exit else {
                Issue.record("expected a launch failure, got \(exit)")
                return
            }
            #expect(reason.contains("exists and belongs to another run (uuid=someone-else, euphrosyne.io/run=5)"), "\(reason)")
        }
    }

    @Test func aJobTheClusterFailsAtItsDeadlineTimesOut() async throws {
        try await Cluster.with { cluster in
            // The emulator's job controller fails the Job after its `activeDeadlineSeconds` (1 s, on the wall clock).
            let exit = await cluster.launcher.run(try Self.request("sleepy", timeout: 1)) {}
            #expect(exit == .timedOut)
        }
    }

    @Test func aJobThatOutlivesTheLaunchersDeadlineIsDeletedAndTimesOut() async throws {
        try await Cluster.with { cluster in
            // The Job's own deadline (60 s) is far away on the wall clock; the launcher's is on the test's clock.
            let request = try Self.request("sleepy", timeout: 60)
            let launcher = cluster.launcher
            let run = Task { await launcher.run(request) {} }
            try await waitUntil("the pod to run") { await cluster.emulator.runningProcessCount == 1 }
            try await waitUntil("the launcher to wait for the deadline") { cluster.clock.sleepers == 1 }
            cluster.clock.advance(by: request.timeout + Self.deadlineGrace)
            #expect(await run.value == .timedOut)
            try await waitUntil("the Job and its process gone") {
                let jobs = await cluster.jobs()
                let processes = await cluster.emulator.runningProcessCount
                return jobs.isEmpty && processes == 0
            }
        }
    }

    @Test func aRunCancelledBeforeItsJobIsCreatedStillCreatesItAndItsStopDeletesIt() async throws {
        try await Cluster.with { cluster in
            let request = try Self.request("sleepy")
            request.cancellation.cancel(reason: "the alert resolved")
            let launcher = cluster.launcher
            let exit = await withTaskGroup(of: RunExit.self) { group in
                group.cancelAll()
                group.addTask {
                    #expect(Task.isCancelled)
                    return await launcher.run(request) {}
                }
                return await group.next()!
            }
            // Created whole despite the cancellation, so the stop knew the Job and deleted it.
            #expect(exit == .cancelled(reason: "the alert resolved"), "\(exit)")
            let log = await cluster.emulator.requestLog
            #expect(log.contains { $0.method == "POST" && $0.path.hasSuffix("/jobs") && (200..<300).contains($0.status) }, "\(log)")
            #expect(log.contains { $0.method == "DELETE" && $0.path.contains("/jobs/") && (200..<300).contains($0.status) }, "\(log)")
            try await waitUntil("the Job and its process gone") {
                let jobs = await cluster.jobs()
                let processes = await cluster.emulator.runningProcessCount
                return jobs.isEmpty && processes == 0
            }
        }
    }

    @Test func theDebuggingRunsOfAnIncidentShareOneDataConfigMap() async throws {
        try await Cluster.with { cluster in
            let launcher = cluster.launcher
            let first = try Self.request("quick", run: 1)
            let second = try Self.request("quick", run: 2)
            async let firstExit = launcher.run(first) {}
            async let secondExit = launcher.run(second) {}
            let exits = await [firstExit, secondExit]
            #expect(exits == Array(repeating: .exited(status: 0, stderrTail: "quick done"), count: 2))
            let jobs = await cluster.jobs()
            let configMaps = await cluster.emulator.objects(.configMaps, namespace: Self.namespace)
            #expect(jobs.count == 2)
            #expect(configMaps.count == 1)
            #expect(Set(jobs.map { $0["metadata"]["ownerReferences"][0]["name"].string })
                == [configMaps.first?["metadata"]["name"].string])
        }
    }

    @Test func jobStatusesNameTheJobFromTheMomentItIsCreated() async throws {
        try await Cluster.with { cluster in
            let request = try Self.request("quick")
            let launcher = cluster.launcher
            let seen = Mutex<[JobStatus]?>(nil)
            // Asked as soon as the launcher says the run started, the Job cache may not have seen the Job yet; the
            // status still names the Job (not the run).
            let task = Task {
                await launcher.run(request) {
                    let statuses = await launcher.jobStatuses(incident: Self.incident)
                    seen.withLock { $0 = statuses }
                }
            }
            try await waitUntil("the statuses taken at start") { seen.withLock { $0 } != nil }
            let jobNames = await cluster.jobs().compactMap { $0["metadata"]["name"].string }
            let statuses = try #require(seen.withLock { $0 })
            #expect(statuses.map(\.name) == jobNames, "\(statuses)")
            #expect(await task.value == .exited(status: 0, stderrTail: "quick done"))
        }
    }

    @Test func aStopRequestDeletesTheJobAndItsPod() async throws {
        try await Cluster.with(leaveRunning: true) { cluster in
            let request = try Self.request("sleepy")
            let launcher = cluster.launcher
            let task = Task { await launcher.run(request) {} }
            try await waitUntil("the pod to run") { await cluster.emulator.runningProcessCount == 1 }
            // A resolve asks for the stop; even a launcher that leaves runs running on shutdown stops this one.
            request.cancellation.cancel(reason: "the alert resolved")
            task.cancel()
            let stopped = await task.value
            #expect(stopped == .cancelled(reason: "the alert resolved"), "\(stopped)")
            try await waitUntil("the Job and its process gone") {
                let jobs = await cluster.jobs()
                let processes = await cluster.emulator.runningProcessCount
                return jobs.isEmpty && processes == 0
            }
        }
    }

    @Test func aShutdownLeavesTheJobRunningAndARestartFollowsItAgain() async throws {
        try await Cluster.with(leaveRunning: true) { cluster in
            let request = try Self.request("sleepy", run: 7)
            let launcher = cluster.launcher
            let task = Task { await launcher.run(request) {} }
            try await waitUntil("the pod to run") { await cluster.emulator.runningProcessCount == 1 }
            task.cancel()
            let left = await task.value
            #expect(left == .cancelled(reason: "left running while the reconciler restarts"), "\(left)")
            #expect(await cluster.jobs().count == 1)

            // The next reconciler finds the Job of run 7 and follows it until it ends (here: a stop request).
            let cancellation = RunCancellation()
            let reattached = Task {
                await launcher.reattach(incident: Self.incident, run: request.run,
                                        until: cluster.clock.date.addingTimeInterval(60), cancellation: cancellation)
            }
            // Following: waiting for the Job, and for its deadline on the test's clock: what was left of the run
            // (60 s by the test's clock) and the grace.
            try await waitUntil("the launcher to follow the Job again") { cluster.clock.sleepers == 1 }
            #expect(cluster.clock.nextWake.map { cluster.clock.now.duration(to: $0) } == .seconds(60) + Self.deadlineGrace)
            cancellation.cancel(reason: "the alert resolved")
            reattached.cancel()
            let followed = await reattached.value
            #expect(followed == .cancelled(reason: "the alert resolved"), "\(String(describing: followed))")
            try await waitUntil("the Job gone") { await cluster.jobs().isEmpty }
            try await waitUntil("the launcher to see it gone") {
                await launcher.jobStatuses(incident: Self.incident)?.isEmpty == true
            }
            // A run whose Job is gone cannot be followed.
            #expect(await launcher.reattach(incident: Self.incident, run: request.run, until: Date(),
                                            cancellation: RunCancellation()) == nil)
        }
    }

    @Test func aPersistentAPIFailureFailsTheRunInsteadOfHanging() async throws {
        try await Cluster.with { cluster in
            await cluster.emulator.failNextRequests(1_000, status: 500, matching: "configmaps")
            let started = ContinuousClock.now
            let exit = await cluster.launcher.run(try Self.request("quick")) {}
            guard case .launchFailed(let reason) = exit else {
                Issue.record("expected a launch failure, got \(exit)")
                return
            }
            #expect(reason.contains("500"), "\(reason)")
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }

    @Test func aSucceededJobReportsItsLogTail() async throws {
        try await Cluster.with { cluster in
            let exit = await cluster.launcher.run(try Self.request("quick")) {}
            #expect(exit == .exited(status: 0, stderrTail: "quick done"))
            #expect(await cluster.emulator.requestLog.contains { $0.method == "GET" && $0.path.hasSuffix("/log") })
        }
    }

    @Test func aSucceededJobWhoseResultIsInNeedsNoLog() async throws {
        try await Cluster.with { cluster in
            var request = try Self.request("quick")
            request.hasReported = { true }
            let exit = await cluster.launcher.run(request) {}
            #expect(exit == .exited(status: 0, stderrTail: ""))
            #expect(await !cluster.emulator.requestLog.contains { $0.path.hasSuffix("/log") })
        }
    }

    // MARK: Registry

    static func registry(_ debugging: String) -> JSON {
        let data = ["debugging": debugging, "actions": "{}"]
        let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
        return try! JSON.parse(#"{"metadata":{"name":"orpheus-operator-recipes"},"data":"# + encoded + "}")
    }

    @Test func theRegistryFollowsEditsAndKeepsTheLastGoodOne() async throws {
        try await Cluster.with { cluster in
            _ = try await cluster.emulator.seed(.configMaps, namespace: Self.namespace, Self.registry("""
                first:
                  enabled: true
                  image: scripts:1
                  entrypoint: quick
                """))
            let registry = ConfigMapRecipeRegistry(client: cluster.client, namespace: Self.namespace)
            let running = Task { try await registry.run() }
            #expect(await registry.catalog().debugging.map(\.name) == ["first"])

            // An edit (here: replaced) takes effect without a restart.
            try await cluster.client.delete(ConfigMap.self, name: "orpheus-operator-recipes", namespace: Self.namespace)
            _ = try await cluster.emulator.seed(.configMaps, namespace: Self.namespace, Self.registry("""
                second:
                  enabled: true
                  image: scripts:1
                  entrypoint: quick
                """))
            try await waitUntil("the edited registry") { await registry.catalog().debugging.map(\.name) == ["second"] }

            // A broken edit keeps the last good registry.
            try await cluster.client.delete(ConfigMap.self, name: "orpheus-operator-recipes", namespace: Self.namespace)
            _ = try await cluster.emulator.seed(.configMaps, namespace: Self.namespace, Self.registry("second: [unclosed"))
            try await waitUntil("the broken edit to be seen") {
                await cluster.emulator.requestLog.contains { $0.isWatch } // the informer is watching
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(await registry.catalog().debugging.map(\.name) == ["second"])
            running.cancel()
        }
    }
}
