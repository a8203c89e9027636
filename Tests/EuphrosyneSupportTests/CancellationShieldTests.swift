import EuphrosyneSupport
import EuphrosyneTestSupport
import Synchronization
import Testing

/// Work sent through a `CancellationShield` finishes whatever happens to the task that asked for it; without a
/// shield that finished it runs on the caller's task. Gates stand where a slow request would be.
@Suite struct CancellationShieldTests {
    /// Runs `body` with `shield` running in a task group, then finishes it and waits for it to return.
    static func withRunning<T: Sendable>(
        _ shield: CancellationShield, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await shield.run() }
            let result = try await body()
            shield.finish()
            try await group.waitForAll()
            return result
        }
    }

    @Test func workAskedForByACancelledTaskRunsToTheEndAndReturnsItsValue() async throws {
        let shield = CancellationShield()
        try await Self.withRunning(shield) {
            let started = Gate()
            let release = Gate()
            let outcome = await withTaskGroup(of: String.self) { group in
                // The caller is cancelled before it asks, and stays cancelled while the work waits.
                group.cancelAll()
                group.addTask {
                    #expect(Task.isCancelled)
                    return await shield.perform {
                        started.open()
                        await release.wait()
                        return Task.isCancelled ? "cancelled" : "done"
                    }
                }
                await started.wait()
                release.open()
                return await group.next() ?? "no result"
            }
            #expect(outcome == "done")
        }
    }

    @Test func anOptionalResultComesBackAsItIsAndTheWorkRunsOnce() async throws {
        let shield = CancellationShield()
        let runs = Mutex(0)
        let result: Int? = try await Self.withRunning(shield) {
            await shield.perform { () -> Int? in
                runs.withLock { $0 += 1 }
                return nil
            }
        }
        #expect(result == nil)
        #expect(runs.withLock { $0 } == 1)
    }

    @Test func workAskedForBeforeTheShieldRunsWaitsForIt() async throws {
        let shield = CancellationShield()
        let wasCancelled = try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask { await Self.cancelledCaller { await shield.perform { Task.isCancelled } } }
            group.addTask {
                await shield.run()
                return nil
            }
            let first = try await group.next()!
            shield.finish()
            try await group.waitForAll()
            return first
        }
        #expect(wasCancelled == false)
    }

    @Test func workAskedForAfterFinishRunsOnTheCallersTask() async throws {
        let shield = CancellationShield()
        try await Self.withRunning(shield) {}
        #expect(await Self.cancelledCaller { await shield.perform { Task.isCancelled } })
        // A shield runs once.
        await shield.run()
        #expect(await Self.cancelledCaller { await shield.perform { Task.isCancelled } })
    }

    @Test func finishingLetsTheSubmittedWorkEndBeforeRunReturns() async throws {
        let shield = CancellationShield()
        let started = Gate()
        let release = Gate()
        let order = Order()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await shield.run()
                order.note("run returned")
            }
            group.addTask {
                await shield.perform {
                    started.open()
                    await release.wait()
                    order.note("work done")
                }
            }
            await started.wait()
            // What the owner does on a graceful shutdown: nothing new is taken, the work under way goes on.
            shield.finish()
            #expect(await Self.cancelledCaller { await shield.perform { Task.isCancelled } })
            release.open()
            try await group.waitForAll()
        }
        #expect(order.events == ["work done", "run returned"])
    }

    /// What happened, in order, from any task.
    final class Order: Sendable {
        private let noted = Mutex<[String]>([])

        var events: [String] { noted.withLock { $0 } }

        func note(_ event: String) { noted.withLock { $0.append(event) } }
    }

    /// `body`'s result, run on a task cancelled before it starts.
    static func cancelledCaller<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
        await withTaskGroup(of: T.self) { group in
            group.cancelAll()
            group.addTask { await body() }
            return await group.next()!
        }
    }
}
