import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `ChildProcess`'s waits, with real processes. The `/bin/sh -c` fixtures are test programs; nothing in Sources runs a
/// shell.
@Suite struct ChildProcessTests {
    static func shell(_ script: String) async throws -> ChildProcess {
        try await ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", script],
                                     environment: ["PATH": "/usr/bin:/bin"])
    }

    /// Whether `pid` is gone altogether: exited and reaped (a zombie still answers `kill(pid, 0)`).
    static func isReaped(_ pid: pid_t) -> Bool {
        kill(pid, 0) == -1 && errno == ESRCH
    }

    @Test func reportsTheExitStatusAndTheSignalThatEndedIt() async throws {
        let exited = try await Self.shell("exit 7")
        #expect(await exited.wait() == 7)
        #expect(exited.hasExited)
        #expect(await exited.waitIgnoringCancellation() == 7, "a later wait gets the same status")
        #expect(await exited.waitIgnoringCancellation(upTo: .zero) == 7)

        let killed = try await Self.shell("kill -KILL $$")
        #expect(await killed.wait() == -SIGKILL)

        let terminated = try await Self.shell("kill -TERM $$")
        #expect(await terminated.waitIgnoringCancellation() == -SIGTERM)
    }

    @Test func aWaitWhoseTaskIsCancelledReturnsNilAndTheProcessRunsOn() async throws {
        let process = try await Self.shell("exec sleep 300")
        // Cancelled while suspended.
        let waiting = Task { await process.wait() }
        try await waitUntil("the wait to suspend") { process.suspendedWaiters == 1 }
        waiting.cancel()
        #expect(await waiting.value == nil)
        #expect(process.suspendedWaiters == 0)

        // Cancelled before it starts.
        let early = await withTaskGroup(of: Int32?.self) { group in
            group.cancelAll()
            group.addTask { await process.wait() }
            return await group.next() ?? -1
        }
        #expect(early == nil)

        #expect(!process.hasExited)
        process.signalGroup(SIGKILL)
        #expect(await process.waitIgnoringCancellation() == -SIGKILL)
    }

    @Test func theBoundedWaitGivesUpOnAProcessThatIgnoresSIGTERMEvenInACancelledTask() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let ready = fixtures.path("ready")
        let process = try await Self.shell("trap '' TERM; : > \(ready); sleep 300")
        try await waitUntil("the trap to be set") { FileManager.default.fileExists(atPath: ready) }
        process.signalGroup(SIGTERM)

        let grace = Duration.milliseconds(300)
        let clock = ContinuousClock()
        let (status, elapsed) = await withTaskGroup(of: (Int32?, Duration).self) { group in
            group.cancelAll()
            group.addTask {
                let start = clock.now
                let status = await process.waitIgnoringCancellation(upTo: grace)
                return (status, clock.now - start)
            }
            return await group.next()!
        }
        #expect(status == nil)
        #expect(elapsed >= grace, "the cancelled task's wait ended before its grace")
        #expect(!process.hasExited)

        process.signalGroup(SIGKILL)
        let killed = await withTaskGroup(of: Int32.self) { group in
            group.cancelAll()
            group.addTask { await process.waitIgnoringCancellation() }
            return await group.next()!
        }
        #expect(killed == -SIGKILL)
    }

    @Test func theBoundedWaitReturnsTheStatusWhenTheProcessExitsWithinIt() async throws {
        let fixtures = try ScriptFixtures()
        defer { fixtures.remove() }
        let ready = fixtures.path("ready")
        let process = try await Self.shell("trap 'exit 5' TERM; : > \(ready); sleep 300 & wait")
        try await waitUntil("the trap to be set") { FileManager.default.fileExists(atPath: ready) }
        let status = await withTaskGroup(of: Int32?.self) { group in
            group.cancelAll()
            group.addTask {
                process.signalGroup(SIGTERM)
                return await process.waitIgnoringCancellation(upTo: .seconds(30))
            }
            return await group.next()!
        }
        #expect(status == 5)
    }

    @Test func manyConcurrentChildrenAreAllReaped() async throws {
        let count = 64
        var spawned: [(index: Int, process: ChildProcess)] = []
        for index in 0..<count {
            spawned.append((index, try await Self.shell("exit \(index)")))
        }
        let children = spawned
        // Half are waited for, concurrently; the other half nobody waits for, and they are reaped all the same.
        let statuses = await withTaskGroup(of: (Int, Int32?).self) { group in
            for (index, process) in children where index.isMultiple(of: 2) {
                group.addTask { (index, await process.wait()) }
            }
            var statuses: [Int: Int32?] = [:]
            for await (index, status) in group { statuses[index] = status }
            return statuses
        }
        #expect(statuses.count == count / 2)
        for (index, status) in statuses { #expect(status == Int32(index)) }
        try await waitUntil("every child to be reaped") { children.allSatisfy { $0.process.hasExited } }
        for (index, process) in children {
            #expect(Self.isReaped(process.pid), "child \(index) was left a zombie")
            #expect(await process.waitIgnoringCancellation() == Int32(index))
        }
    }
}
