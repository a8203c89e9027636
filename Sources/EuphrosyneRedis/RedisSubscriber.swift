import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Pub/sub for the app: ONE dedicated connection, kept up by ``run()`` (a ServiceLifecycle service), carries every
/// subscription. Consumers call ``subscribe(to:)`` and iterate the returned ``RedisSubscription``. Each channel is
/// subscribed on the server once however many subscriptions it has (reference-counted), unsubscribed when the last
/// one ends, and re-subscribed by itself after a reconnect — each subscription then hears `.subscribed` again.
/// Works over RESP3 (pushes) and RESP2 (subscribe mode: this connection then sends only (UN)SUBSCRIBE and PING).
public final class RedisSubscriber: Service, Sendable {
    public let configuration: RedisConfiguration
    /// Messages each subscription buffers for a slow consumer before dropping the newest.
    public let bufferCapacity: Int
    /// How often an idle connection is PINGed so a dead peer is noticed; `nil` turns it off.
    public let keepAliveInterval: Duration?
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    let state = Mutex(RedisSubscriberState())
    private let droppedCount = Atomic<Int>(0)

    public init(
        configuration: RedisConfiguration,
        bufferCapacity: Int = 1024,
        keepAliveInterval: Duration? = .seconds(30),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.bufferCapacity = max(bufferCapacity, 1)
        self.keepAliveInterval = keepAliveInterval
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Messages dropped so far because a subscription's buffer was full, over all subscriptions.
    public var droppedMessages: Int { droppedCount.load(ordering: .relaxed) }

    /// Channels the server has confirmed and not yet been asked to drop.
    public var activeChannels: Int { state.withLock { $0.activeChannelCount } }

    /// Whether the subscriber's connection is up.
    public var isConnected: Bool { state.withLock { $0.connection?.isActive ?? false } }

    /// How many times a lost connection was re-established.
    public var reconnects: Int { state.withLock { $0.reconnects } }

    /// SUBSCRIBE commands written so far (each may name many channels).
    var subscribeCommandsSent: Int { state.withLock { $0.subscribeCommandsSent } }

    /// Subscribes to one channel. When connected, returns once the server has confirmed (the subscription's first
    /// event is then already `.subscribed`) and throws the server's refusal (e.g. `NOPERM`) or `.timeout`. While
    /// disconnected it returns at once; the subscription hears `.subscribed` when the connection comes up.
    public func subscribe(to channel: String) async throws(RedisError) -> RedisSubscription {
        let subscriptions = try await subscribe(to: [channel])
        guard let subscription = subscriptions.first else { throw RedisError(.unexpectedResponse, message: "no subscription") }
        return subscription
    }

    /// Subscribes to many channels with one SUBSCRIBE; one subscription per channel, in order. All or nothing:
    /// if the server refuses, every subscription of this call ends and the error is thrown.
    public func subscribe(to channels: [String]) async throws(RedisError) -> [RedisSubscription] {
        guard !channels.isEmpty else { return [] }
        let buffers = channels.map { _ in RedisSubscriptionBuffer(capacity: bufferCapacity) }
        let (ids, waiterID) = state.withLock { state in (channels.map { _ in state.makeID() }, state.makeID()) }
        let handles = zip(channels, zip(ids, buffers)).map { channel, entry in
            RedisSubscription.Handle(channel: channel, id: entry.0, buffer: entry.1, subscriber: self)
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, RedisError>, Never>) in
                let immediate: Result<Void, RedisError>? = state.withLock { state in
                    if state.isShutDown { return .failure(RedisError(.connectionClosed, message: "the subscriber has shut down")) }
                    var newChannels: [String] = []
                    var pending = Set<String>()
                    for (index, channel) in channels.enumerated()
                    where state.add(channel: channel, id: ids[index], buffer: buffers[index], newChannels: &newChannels) {
                        pending.insert(channel)
                    }
                    state.subscribe(newChannels)
                    if pending.isEmpty { return .success(()) }
                    if Task.isCancelled { return .failure(RedisError(.cancelled)) }
                    state.waiters[waiterID] = RedisSubscriberState.Waiter(continuation: continuation, pendingChannels: pending)
                    for channel in pending { state.channels[channel]?.waiterIDs.append(waiterID) }
                    return nil
                }
                drainOutbox()
                if let immediate {
                    continuation.resume(returning: immediate)
                    return
                }
                let timeout = configuration.commandTimeout
                eventLoopGroup.any().scheduleTask(in: TimeAmount(timeout)) { [self] in
                    resumeWaiter(waiterID, with: .failure(RedisError(.timeout, message: "no SUBSCRIBE confirmation within \(timeout)")))
                }
            }
        } onCancel: {
            resumeWaiter(waiterID, with: .failure(RedisError(.cancelled, message: "the calling task was cancelled")))
        }
        switch result {
        case .success:
            return handles.map { RedisSubscription(handle: $0) }
        case .failure(let error):
            for handle in handles { handle.cancel() }
            throw error
        }
    }

    private func resumeWaiter(_ id: Int, with result: Result<Void, RedisError>) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: result)
    }

    /// Ends one subscription (idempotent); called by ``RedisSubscription`` on cancel, task cancellation and deinit.
    func release(channel: String, id: Int) {
        let buffer = state.withLock { $0.remove(channel: channel, id: id) }
        buffer?.finish()
        drainOutbox()
    }

    /// Keeps the subscriber connection up until graceful shutdown or cancellation. Call once.
    public func run() async throws {
        let first = state.withLock { state in
            defer { state.isRunning = true }
            return !state.isRunning && !state.isShutDown
        }
        guard first else { throw RedisError(.invalidConfiguration, message: "RedisSubscriber.run() called twice") }
        await cancelWhenGracefulShutdown { [self] in
            await RedisReconnectLoop.run(configuration: configuration, logger: logger) { () throws(RedisError) in
                let generation = state.withLock { $0.generation }
                return try await RedisConnection.connect(
                    configuration: configuration, eventLoopGroup: eventLoopGroup, isSubscriber: true,
                    onPush: { [self] token in handlePush(token, generation: generation) }, logger: logger
                )
            } connected: { connection, isReconnect in
                await serve(connection, isReconnect: isReconnect)
            }
        }
        let (buffers, waiters, connection) = state.withLock { $0.shutDown() }
        for buffer in buffers { buffer.finish() }
        for waiter in waiters { waiter.resume(returning: .failure(RedisError(.connectionClosed, message: "the subscriber has shut down"))) }
        await connection?.close()
    }

    /// Re-subscribes everything on a new connection, PINGs it while idle, and returns when it closes.
    private func serve(_ connection: RedisConnection, isReconnect: Bool) async {
        let channelCount = state.withLock { state in
            state.connected(connection, isReconnect: isReconnect)
            return state.channels.count
        }
        if isReconnect {
            logger.info("Redis subscriber reconnected, re-subscribing", metadata: ["channels": "\(channelCount)"])
        }
        drainOutbox()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await connection.waitUntilClosed() }
            if let keepAliveInterval {
                group.addTask { [logger] in
                    while true {
                        do { try await Task.sleep(for: keepAliveInterval) } catch { return }
                        do {
                            _ = try await connection.execute(RedisRawCommand("PING"))
                        } catch {
                            if Task.isCancelled { return }
                            logger.warning("Redis subscriber keep-alive PING failed, closing", metadata: ["error": "\(error)"])
                            connection.closeSoon()
                            return
                        }
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
        let waiters = state.withLock { $0.disconnected() }
        for waiter in waiters { waiter.resume(returning: .success(())) }
    }

    /// Writes queued SUBSCRIBE/UNSUBSCRIBE commands in the order they were decided. Only one caller writes at a
    /// time, and never under the lock, so a write that fails synchronously can call back into the subscriber.
    func drainOutbox() {
        let isDrainer = state.withLock { state in
            guard !state.isDrainingOutbox, !state.outbox.isEmpty else { return false }
            state.isDrainingOutbox = true
            return true
        }
        guard isDrainer else { return }
        while true {
            let batch = state.withLock { state in
                defer { state.outbox = [] }
                if state.outbox.isEmpty { state.isDrainingOutbox = false }
                return state.outbox
            }
            if batch.isEmpty { return }
            for item in batch {
                // Always through the event loop's task queue, even from the loop itself: a write made directly on
                // the loop could overtake one another thread queued a moment earlier, reordering SUBSCRIBE and
                // UNSUBSCRIBE of a channel on the wire.
                item.connection.channel.eventLoop.execute { [self] in
                    let future = item.connection.send(item.command)
                    guard item.command.kind == .subscribe else { return }
                    future.whenFailure { [self] error in
                        guard let error = error as? RedisError, error.code == .serverError else { return }
                        subscribeFailed(item.command.channels, error: error, generation: item.generation)
                    }
                }
            }
        }
    }

    func recordDrops(_ count: Int) {
        droppedCount.add(count, ordering: .relaxed)
    }

    private func subscribeFailed(_ channels: [String], error: RedisError, generation: Int) {
        logger.error("Redis refused SUBSCRIBE", metadata: ["error": "\(error)", "channels": "\(channels.count)"])
        let (buffers, waiters) = state.withLock { state in
            guard state.generation == generation else { return ([RedisSubscriptionBuffer](), [CheckedContinuation<Result<Void, RedisError>, Never>]()) }
            return state.failSubscribe(channels, error: error)
        }
        for buffer in buffers { buffer.finish() }
        for waiter in waiters { waiter.resume(returning: .failure(error)) }
    }
}
