import NIOCore
import Synchronization

/// The bounded queue between the subscriber's connection (which yields events on the event loop) and one
/// subscription's consumer task (which awaits them). Only messages count against the capacity: control events
/// (`.subscribed`, and one `.dropped` marker per overflow) always get in, so a consumer can always catch up.
final class RedisSubscriptionBuffer: Sendable {
    private struct State {
        var events = CircularBuffer<RedisSubscriptionEvent>()
        var bufferedMessages = 0
        /// Messages dropped since the last buffered one; surfaced as one `.dropped` event at that point.
        var pendingDrops = 0
        var waiting: CheckedContinuation<RedisSubscriptionEvent?, Never>?
        var isFinished = false
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// Queues a message; returns `false` when it had to be dropped because the buffer is full.
    func yieldMessage(_ payload: ByteBuffer) -> Bool {
        var accepted = true
        let waiter: CheckedContinuation<RedisSubscriptionEvent?, Never>? = state.withLock { state in
            if state.isFinished { return nil }
            if let waiting = state.waiting {
                state.waiting = nil
                return waiting
            }
            if state.bufferedMessages >= capacity {
                state.pendingDrops += 1
                accepted = false
                return nil
            }
            if state.pendingDrops > 0 {
                state.events.append(.dropped(count: state.pendingDrops))
                state.pendingDrops = 0
            }
            state.events.append(.message(payload))
            state.bufferedMessages += 1
            return nil
        }
        waiter?.resume(returning: .message(payload))
        return accepted
    }

    /// Queues `.subscribed` (once: a consumer that has not read the previous one needs only one).
    func yieldSubscribed() {
        let waiter: CheckedContinuation<RedisSubscriptionEvent?, Never>? = state.withLock { state in
            if state.isFinished { return nil }
            if let waiting = state.waiting {
                state.waiting = nil
                return waiting
            }
            if state.events.last != .subscribed { state.events.append(.subscribed) }
            return nil
        }
        waiter?.resume(returning: .subscribed)
    }

    /// Ends the sequence: the consumer gets what is buffered, then `nil`.
    func finish() {
        let waiter = state.withLock { state in
            state.isFinished = true
            defer { state.waiting = nil }
            return state.waiting
        }
        waiter?.resume(returning: nil)
    }

    /// The next event, waiting for one; `nil` once finished and drained. One consumer at a time: a second concurrent
    /// caller gets `nil`.
    func next() async -> RedisSubscriptionEvent? {
        await withCheckedContinuation { continuation in
            let immediate: RedisSubscriptionEvent?? = state.withLock { state in
                if let event = state.events.popFirst() {
                    if case .message = event { state.bufferedMessages -= 1 }
                    return .some(event)
                }
                if state.pendingDrops > 0 {
                    defer { state.pendingDrops = 0 }
                    return .some(.dropped(count: state.pendingDrops))
                }
                if state.isFinished || state.waiting != nil { return .some(nil) }
                state.waiting = continuation
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
