import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Synchronization
import EuphrosyneTestSupport
import Testing

@testable import EuphrosyneLocal

@Suite struct LocalProcessLauncherTests {
    static let incident = UUID(uuidString: "0b3f7a52-9d4e-4c1a-8f00-5e6d7c8b9a01")!

    static func request(entrypoint: String, timeout: Int = 30, data: String = #"{"uuid":"x"}"#,
                        environment: [String: String] = [:]) throws -> LaunchRequest {
        let recipe = try Recipe(name: "probe", kind: .debugging, enabled: true, entrypoint: entrypoint)
        let run = RecipeRun(id: 1, recipe: "probe", kind: .debugging, description: "", name: "probe-bbbbb",
                            timeoutSeconds: timeout, createdAt: Date())
        return LaunchRequest(incidentID: incident, run: run, recipe: recipe, dataFile: Data(data.utf8),
                             aggregatorAddress: "aggregator:8000", redisAddress: "redis:6379", environment: environment)
    }

    static func launcher(_ fixtures: ScriptFixtures, environment: [String: String] = ["PATH": "/usr/bin:/bin"],
                         clock: any Clock<Duration> = ContinuousClock()) -> LocalProcessLauncher {
        LocalProcessLauncher(workDirectory: fixtures.directory, environment: environment,
                             terminationGrace: .milliseconds(500), clock: clock)
    }

    /// Runs `request` until the launcher sleeps on `clock` for its timeout and `ready` holds, then moves the clock
    /// past the timeout; the run's exit.
    static func runPastTheTimeout(_ launcher: LocalProcessLauncher, _ request: LaunchRequest, clock: ManualClock,
                                  once ready: @escaping @Sendable () -> Bool) async throws -> RunExit {
        try await withThrowingTaskGroup(of: RunExit.self) { group in
            group.addTask { await launcher.run(request) {} }
            try await waitUntil("the launcher to sleep on its timeout") { clock.sleepers == 1 && ready() }
            clock.advance(by: request.timeout + .seconds(1))
            return try await group.next()!
        }
    }

    @Test func runsTheEntrypointWithTheOriginalArgvDataFileAndEnvironment() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let out = fixtures.path("out")
        let script = try fixtures.script("probe", """
            for argument in "$@"; do printf '%s\\n' "$argument" >> \(out).argv; done
            cat "$4" > \(out).data
            env > \(out).env
            ls -ld "$(dirname "$4")" | cut -c1-10 > \(out).mode
            """)
        let started = Mutex(false)
        let exit = await Self.launcher(fixtures, environment: ["PATH": "/usr/bin:/bin", "SECRET_TOKEN": "hunter2",
                                                               "JIRA_URL": "https://jira.example"])
            .run(try Self.request(entrypoint: "\(script) --mode 'two words'", data: #"{"uuid":"abc","k":1}"#,
                                  environment: ["EUPHROSYNE_RESULT_URL": "http://127.0.0.1:1/results/x/y"])) {
                started.withLock { $0 = true }
            }

        #expect(exit == .exited(status: 0, stderrTail: ""))
        #expect(started.withLock { $0 })
        let argv = try String(contentsOfFile: out + ".argv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(argv.count == 8)
        #expect(Array(argv.prefix(2)) == ["--mode", "two words"])
        #expect(argv[2] == "--data-file-path" && argv[3].hasSuffix("/data.json"))
        #expect(Array(argv.suffix(4)) == ["--aggregator-address", "aggregator:8000", "--redis-address", "redis:6379"])
        #expect(try String(contentsOfFile: out + ".data", encoding: .utf8) == #"{"uuid":"abc","k":1}"#)
        let environment = try String(contentsOfFile: out + ".env", encoding: .utf8)
        #expect(environment.contains("EUPHROSYNE_RESULT_URL=http://127.0.0.1:1/results/x/y"))
        #expect(environment.contains("JIRA_URL=https://jira.example"))
        #expect(!environment.contains("SECRET_TOKEN"))
        #expect(try String(contentsOfFile: out + ".mode", encoding: .utf8) == "drwx------\n")
        // The run's private directory is gone afterwards.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixtures.directory.path)
            .filter { $0.hasPrefix("euphrosyne-") }
        #expect(leftovers.isEmpty)
    }

    @Test func aRecipeGetsItsResultKeyAndTheSecretsItNamesAndNoOthers() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let out = fixtures.path("out")
        let script = try fixtures.script("probe", "env > \(out).env")
        let launcher = Self.launcher(fixtures, environment: [
            "PATH": "/usr/bin:/bin", "JIRA_URL": "https://jira.example", "JIRA_TOKEN": "jira-secret",
            "PAGER_TOKEN": "pager-secret", "UNRELATED_SECRET": "hunter2", "REDIS_PASSWORD": "redis-secret",
        ])
        let key = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f"

        // A recipe declaring secretEnv: its names, passed through; not the Jira variables.
        var request = try Self.request(entrypoint: script)
        request.recipe.secretEnv = ["PAGER_TOKEN": SecretKeyReference(secret: "pager", key: "token"),
                                    "MISSING_TOKEN": SecretKeyReference(secret: "x", key: "y", optional: true)]
        request.resultKey = key
        #expect(await launcher.run(request) {} == .exited(status: 0, stderrTail: ""))
        let declared = try String(contentsOfFile: out + ".env", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(declared.contains("EUPHROSYNE_RESULT_KEY=\(key)"))
        #expect(declared.contains("PAGER_TOKEN=pager-secret"))
        #expect(declared.contains("REDIS_PASSWORD=redis-secret"))
        #expect(!declared.contains { $0.hasPrefix("JIRA_") || $0.hasPrefix("MISSING_TOKEN") || $0.hasPrefix("UNRELATED") })

        // A recipe declaring nothing: the Jira variables, as the original did; nothing it did not ask for.
        let plain = launcher.environment(for: try Self.request(entrypoint: script))
        #expect(plain["JIRA_URL"] == "https://jira.example" && plain["JIRA_TOKEN"] == "jira-secret")
        #expect(plain["PAGER_TOKEN"] == nil && plain["UNRELATED_SECRET"] == nil)
        #expect(plain["EUPHROSYNE_RESULT_KEY"] == nil, "no key in the request, none in the environment")

        // Declared empty: neither.
        var empty = try Self.request(entrypoint: script)
        empty.recipe.secretEnv = [:]
        let none = launcher.environment(for: empty)
        #expect(none.keys.sorted() == ["PATH", "REDIS_PASSWORD"])
    }

    @Test func findsTheEntrypointOnTheSearchPath() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        _ = try fixtures.script("my-recipe", "exit 0")
        var launcher = Self.launcher(fixtures)
        launcher.extraSearchPaths = [fixtures.directory.path]
        #expect(await launcher.run(try Self.request(entrypoint: "my-recipe")) {} == .exited(status: 0, stderrTail: ""))
    }

    @Test func aMissingEntrypointFailsToLaunch() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let exit = await Self.launcher(fixtures).run(try Self.request(entrypoint: "no-such-recipe-binary")) {
            Issue.record("must not report a start")
        }
        #expect(exit == .launchFailed(reason: "no executable \"no-such-recipe-binary\" found on PATH"))
    }

    @Test func aCrashReportsItsStatusAndTheTailOfStderr() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let script = try fixtures.script("crash", """
            i=0; while [ $i -lt 40 ]; do echo "noise line $i" >&2; i=$((i+1)); done
            echo "fatal: cannot reach aggregator" >&2
            exit 3
            """)
        let exit = await Self.launcher(fixtures).run(try Self.request(entrypoint: script)) {}
        guard case .exited(let status, let tail) = exit else {
            Issue.record("expected an exit, got \(exit)")
            return
        }
        #expect(status == 3)
        #expect(tail.hasSuffix("fatal: cannot reach aggregator"))
        #expect(tail.split(separator: "\n").count == 20)
        #expect(!tail.contains("noise line 0\n"))
    }

    @Test func aHangingRecipeIsStoppedAtItsTimeoutWithWhatItStarted() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let childPID = fixtures.path("child.pid")
        // The script ignores SIGTERM, so the launcher must escalate; its child must die with it (process group).
        let script = try fixtures.script("hang", """
            trap '' TERM
            sleep 300 &
            echo $! > \(childPID)
            wait
            """)
        let clock = ManualClock()
        let exit = try await Self.runPastTheTimeout(
            Self.launcher(fixtures, clock: clock), try Self.request(entrypoint: script, timeout: 60), clock: clock
        ) { (try? String(contentsOfFile: childPID, encoding: .utf8))?.hasSuffix("\n") == true }
        #expect(exit == .timedOut)
        let pid = Int32(try String(contentsOfFile: childPID, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        try await waitUntil("the recipe's child to be killed") { kill(pid, 0) != 0 }
    }

    @Test func cancellingTheRunStopsTheProcess() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let script = try fixtures.script("sleepy", "exec sleep 300")
        let launcher = Self.launcher(fixtures)
        let request = try Self.request(entrypoint: script, timeout: 300)
        let started = Mutex(false)
        let task = Task { await launcher.run(request) { started.withLock { $0 = true } } }
        try await waitUntil("the recipe to start") { started.withLock { $0 } }
        task.cancel()
        #expect(await task.value == .cancelled(reason: "the reconciler stopped the run"))
    }

    @Test func aCancelledRunThatIgnoresSIGTERMGetsItsGraceThenSIGKILL() async throws {
        // `stop` runs in the cancelled task: its grace must still last (a cancelled task's sleep returns at once),
        // and the process must be reaped before the run returns.
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let pidFile = fixtures.path("pid")
        let script = try fixtures.script("stubborn", "trap '' TERM\necho $$ > \(pidFile)\nexec sleep 300")
        let launcher = Self.launcher(fixtures)
        let request = try Self.request(entrypoint: script, timeout: 300)
        let (exit, stopping) = try await withThrowingTaskGroup(of: RunExit.self) { group in
            group.addTask { await launcher.run(request) {} }
            try await waitUntil("its pid") {
                (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true
            }
            let cancelled = ContinuousClock.now
            group.cancelAll()
            let exit = try await group.next()!
            return (exit, ContinuousClock.now - cancelled)
        }
        #expect(exit == .cancelled(reason: "the reconciler stopped the run"))
        #expect(stopping >= launcher.terminationGrace, "SIGKILL came before the grace ended")
        let pid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the process was not reaped")
    }


    @Test func aRunCanBeLeftRunningWhenTheReconcilerStops() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let marker = fixtures.path("finished")
        let go = fixtures.path("go")
        // Waits for the test's go-ahead, so it is certainly still running when the reconciler "stops".
        let script = try fixtures.script("patient", "while [ ! -f \(go) ]; do sleep 0.05; done; cat \"$2\" > \(marker)")
        var launcher = Self.launcher(fixtures)
        launcher.leavesRunsRunningWhenCancelled = true
        let request = try Self.request(entrypoint: script, timeout: 300, data: #"{"uuid":"kept"}"#)
        let started = Mutex(false)
        let task = Task { await launcher.run(request) { started.withLock { $0 = true } } }
        try await waitUntil("the recipe to start") { started.withLock { $0 } }
        task.cancel()
        #expect(await task.value == .cancelled(reason: "left running while the reconciler restarts"))
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        // The process finishes on its own and still finds its data file.
        try await waitUntil("the detached recipe to finish") { FileManager.default.fileExists(atPath: marker) }
        try await waitUntil("the data file to be copied") {
            (try? String(contentsOfFile: marker, encoding: .utf8)) == #"{"uuid":"kept"}"#
        }
    }

    @Test func aRunStoppedOnRequestIsStoppedEvenWhereAShutdownWouldLeaveIt() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let pidFile = fixtures.path("pid")
        let script = try fixtures.script("resolved", "echo $$ > \(pidFile)\nexec sleep 300")
        var launcher = Self.launcher(fixtures)
        launcher.leavesRunsRunningWhenCancelled = true
        let request = try Self.request(entrypoint: script, timeout: 300)
        let started = Mutex(false)
        let task = Task { await launcher.run(request) { started.withLock { $0 = true } } }
        try await waitUntil("the recipe to start") { started.withLock { $0 } }
        try await waitUntil("its pid") { (try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") == true }
        request.cancellation.cancel(reason: "the alert resolved")
        task.cancel()
        #expect(await task.value == .cancelled(reason: "the alert resolved"))
        let pid = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the process was left running")
    }

    @Test func aRecipeStoppedAtItsTimeoutGetsSIGTERMFirst() async throws {
        // The reconciler's own threads block most signals; the recipe must not inherit that, or SIGTERM never
        // reaches it and it cannot clean up before the SIGKILL.
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let marker = fixtures.path("terminated")
        let ready = fixtures.path("ready")
        let script = try fixtures.script("graceful", """
            trap 'echo cleaned-up > \(marker); exit 0' TERM
            : > \(ready)
            sleep 300 &
            wait
            """)
        let clock = ManualClock()
        var configured = Self.launcher(fixtures, clock: clock)
        configured.terminationGrace = .seconds(20)
        let launcher = configured
        let request = try Self.request(entrypoint: script, timeout: 60)
        let exit = try await withThrowingTaskGroup(of: RunExit.self) { group in
            group.addTask { await launcher.run(request) {} }
            try await waitUntil("the launcher to sleep on its timeout") {
                clock.sleepers == 1 && FileManager.default.fileExists(atPath: ready)
            }
            clock.advance(by: request.timeout + .seconds(1))
            // The grace passes on this clock only if SIGTERM did not stop the recipe: then the SIGKILL ends the run,
            // and the marker's absence fails the test, instead of a hang.
            do {
                try await waitUntil("the recipe to clean up on SIGTERM", timeout: .seconds(60)) {
                    FileManager.default.fileExists(atPath: marker)
                }
            } catch {
                clock.advance(by: launcher.terminationGrace)
            }
            return try await group.next()!
        }
        #expect(exit == .timedOut)
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "cleaned-up\n",
                "SIGTERM did not reach the recipe; it was stopped by the SIGKILL")
    }
}
