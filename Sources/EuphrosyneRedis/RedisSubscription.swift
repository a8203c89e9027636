/// One consumer's subscription to one channel, from ``RedisSubscriber/subscribe(to:)``: an async sequence of
/// ``RedisSubscriptionEvent``s. It ends — and the subscriber sends UNSUBSCRIBE if it was the channel's last
/// subscription — when ``cancel()`` is called, when the task iterating it is cancelled, when the consumer stops
/// iterating and drops it, or when the subscriber shuts down. Iterate it from one task at a time.
public struct RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = RedisSubscriptionEvent
    public typealias Failure = Never

    let handle: Handle

    /// The channel this subscription listens to.
    public var channel: String { handle.channel }

    /// Ends this subscription now.
    public func cancel() { handle.cancel() }

    public func makeAsyncIterator() -> Iterator { Iterator(handle: handle) }

    /// The consumer's cursor. Cancelling the task waiting in `next()` ends the subscription.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = RedisSubscriptionEvent
        public typealias Failure = Never

        let handle: Handle

        public mutating func next() async -> RedisSubscriptionEvent? {
            let handle = self.handle
            return await withTaskCancellationHandler {
                await handle.buffer.next()
            } onCancel: {
                handle.cancel()
            }
        }
    }

    /// Owned by the consumer side only (the subscriber keeps the buffer, not this), so that when the last copy of
    /// the subscription and its iterators goes away, `deinit` releases the channel.
    final class Handle: Sendable {
        let channel: String
        let id: Int
        let buffer: RedisSubscriptionBuffer
        let subscriber: RedisSubscriber

        init(channel: String, id: Int, buffer: RedisSubscriptionBuffer, subscriber: RedisSubscriber) {
            self.channel = channel
            self.id = id
            self.buffer = buffer
            self.subscriber = subscriber
        }

        func cancel() {
            subscriber.release(channel: channel, id: id)
        }

        deinit {
            subscriber.release(channel: channel, id: id)
        }
    }
}
