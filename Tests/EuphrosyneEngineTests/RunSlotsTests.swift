import EuphrosynePorts
import EuphrosyneTestSupport
import Synchronization
import Testing

@testable import EuphrosyneEngine

@Suite struct RunSlotsTests {
    @Test func neverHandsOutMoreThanItsCapacityAndServesWaitersInOrder() async throws {
        let slots = RunSlots(capacity: 2)
        #expect(await slots.acquire())
        #expect(await slots.acquire())
        let order = OrderLog()
        // Each waiter queues before the next one asks, so the order is known.
        var waiters: [Task<Bool, Never>] = []
        for index in 1...3 {
            waiters.append(Task {
                let acquired = await slots.acquire()
                order.append(index)
                return acquired
            })
            try await waitUntil("waiter \(index) queued") { slots.statistics.waiting == index }
        }
        #expect(slots.statistics.inUse == 2)
        slots.release()
        try await waitUntil("the first waiter served") { order.values == [1] }
        // One release at a time: two resumed waiters would race to log themselves.
        slots.release()
        try await waitUntil("the second waiter served") { order.values == [1, 2] }
        slots.release()
        for waiter in waiters { #expect(await waiter.value) }
        #expect(order.values == [1, 2, 3])
        #expect(slots.statistics == .init(capacity: 2, inUse: 2, waiting: 0, peakInUse: 2, waits: 3))
        slots.release()
        slots.release()
        #expect(slots.statistics.inUse == 0)
    }

    @Test func aCancelledWaiterLeavesTheQueueWithoutASlot() async throws {
        let slots = RunSlots(capacity: 1)
        #expect(await slots.acquire())
        let waiter = Task { await slots.acquire() }
        try await waitUntil("the waiter queued") { slots.statistics.waiting == 1 }
        waiter.cancel()
        #expect(await waiter.value == false)
        #expect(slots.statistics.waiting == 0)
        slots.release()
        #expect(slots.statistics.inUse == 0)
        // A task cancelled before it asks gets nothing either.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await slots.acquire()
        }
        #expect(await early.value == false)
        #expect(slots.statistics.inUse == 0)
    }

    @Test func aCancellationRequestWakesItsWaiterAndKeepsTheFirstReason() async {
        let cancellation = RunCancellation()
        let waiter = Task { await cancellation.wait() }
        cancellation.cancel(reason: "the alert resolved")
        cancellation.cancel(reason: "later")
        await waiter.value
        #expect(cancellation.reason == "the alert resolved")
    }
}

/// Appends from many tasks, read back in order.
final class OrderLog: Sendable {
    private let log = Mutex<[Int]>([])
    func append(_ value: Int) { log.withLock { $0.append(value) } }
    var values: [Int] { log.withLock { $0 } }
}
