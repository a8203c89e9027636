/// The pure state of a ``RedisSubscriber``, kept under its mutex: every channel's little state machine and the
/// subscriptions counted on it, the `subscribe()` calls waiting for confirmations, and the SUBSCRIBE/UNSUBSCRIBE
/// commands decided but not yet written. Methods only change state and queue commands; the subscriber writes the
/// queued commands after unlocking, in order.
struct RedisSubscriberState {
    /// One channel's life on the server: unsubscribed (no entry) → subscribing → active → unsubscribing → gone.
    struct Channel {
        enum Phase: Equatable {
            /// SUBSCRIBE sent (or to be sent once connected); waiting for the confirmation.
            case subscribing
            /// Confirmed; messages flow.
            case active
            /// UNSUBSCRIBE sent after the last subscription left. If subscriptions came back meanwhile,
            /// `resubscribe` sends SUBSCRIBE again once the server confirmed the unsubscribe.
            case unsubscribing(resubscribe: Bool)
        }

        var phase: Phase
        /// The reference count: channel's subscriptions by id.
        var subscriptions: [Int: RedisSubscriptionBuffer] = [:]
        /// `subscribe()` calls waiting for this channel to become active.
        var waiterIDs: [Int] = []
    }

    /// A `subscribe()` call waiting for its channels' confirmations.
    struct Waiter {
        var continuation: CheckedContinuation<Result<Void, RedisError>, Never>
        var pendingChannels: Set<String>
    }

    struct OutgoingCommand {
        var connection: RedisConnection
        var generation: Int
        var command: PubSubCommand
    }

    var channels: [String: Channel] = [:]
    var waiters: [Int: Waiter] = [:]
    var outbox: [OutgoingCommand] = []
    var isDrainingOutbox = false
    var connection: RedisConnection?
    /// Bumped for each connection; pushes and failures tagged with an older generation are stale and ignored.
    var generation = 0
    var nextID = 0
    var isRunning = false
    var isShutDown = false
    var reconnects = 0
    /// SUBSCRIBE commands written, for tests that check one channel is subscribed once.
    var subscribeCommandsSent = 0

    mutating func makeID() -> Int {
        nextID += 1
        return nextID
    }

    var activeChannelCount: Int { channels.values.count { $0.phase == .active } }

    private mutating func send(_ kind: PubSubCommand.Kind, _ channelNames: [String]) {
        guard let connection, !channelNames.isEmpty else { return }
        outbox.append(OutgoingCommand(connection: connection, generation: generation, command: PubSubCommand(kind: kind, channels: channelNames)))
        if kind == .subscribe { subscribeCommandsSent += 1 }
    }

    /// Adds a subscription. SUBSCRIBE is queued only for a channel nobody listened to; a channel already active
    /// confirms at once. Returns whether the channel still needs the server's confirmation.
    mutating func add(channel name: String, id: Int, buffer: RedisSubscriptionBuffer, newChannels: inout [String]) -> Bool {
        guard var channel = channels[name] else {
            var channel = Channel(phase: .subscribing)
            channel.subscriptions[id] = buffer
            channels[name] = channel
            newChannels.append(name)
            return connection != nil
        }
        channel.subscriptions[id] = buffer
        switch channel.phase {
        case .active:
            buffer.yieldSubscribed()
        case .subscribing:
            break
        case .unsubscribing:
            channel.phase = .unsubscribing(resubscribe: true)
        }
        channels[name] = channel
        return channel.phase != .active && connection != nil
    }

    mutating func subscribe(_ channelNames: [String]) {
        send(.subscribe, channelNames)
    }

    /// Removes a subscription; the channel's last one queues UNSUBSCRIBE (or just forgets a channel never sent).
    /// Returns the removed buffer so the caller can finish it.
    mutating func remove(channel name: String, id: Int) -> RedisSubscriptionBuffer? {
        guard var channel = channels[name], let buffer = channel.subscriptions.removeValue(forKey: id) else { return nil }
        if channel.subscriptions.isEmpty {
            switch channel.phase {
            case .active, .subscribing:
                if connection != nil {
                    channel.phase = .unsubscribing(resubscribe: false)
                    send(.unsubscribe, [name])
                } else {
                    channels[name] = nil
                    return buffer
                }
            case .unsubscribing:
                channel.phase = .unsubscribing(resubscribe: false)
            }
        }
        channels[name] = channel
        return buffer
    }

    /// The server confirmed a SUBSCRIBE: the channel turns active and every subscription hears `.subscribed`.
    /// Returns the waiters now complete.
    mutating func confirmSubscribe(_ name: String) -> [CheckedContinuation<Result<Void, RedisError>, Never>] {
        // A confirmation for a channel being unsubscribed is from before the UNSUBSCRIBE; the phase stands.
        guard var channel = channels[name], channel.phase == .subscribing else { return [] }
        channel.phase = .active
        for buffer in channel.subscriptions.values { buffer.yieldSubscribed() }
        let ready = releaseWaiters(of: &channel, channel: name)
        channels[name] = channel
        return ready
    }

    private mutating func releaseWaiters(of channel: inout Channel, channel name: String) -> [CheckedContinuation<Result<Void, RedisError>, Never>] {
        var ready: [CheckedContinuation<Result<Void, RedisError>, Never>] = []
        for waiterID in channel.waiterIDs {
            guard var waiter = waiters[waiterID] else { continue }
            waiter.pendingChannels.remove(name)
            if waiter.pendingChannels.isEmpty {
                waiters[waiterID] = nil
                ready.append(waiter.continuation)
            } else {
                waiters[waiterID] = waiter
            }
        }
        channel.waiterIDs = []
        return ready
    }

    /// The server confirmed an UNSUBSCRIBE: the channel is gone, unless subscriptions came back meanwhile.
    mutating func confirmUnsubscribe(_ name: String) {
        guard let channel = channels[name], case .unsubscribing(let resubscribe) = channel.phase else { return }
        if resubscribe, !channel.subscriptions.isEmpty {
            channels[name]?.phase = .subscribing
            send(.subscribe, [name])
        } else {
            channels[name] = nil
        }
    }

    /// The server refused a SUBSCRIBE (e.g. NOPERM): its channels that were still subscribing end, their
    /// subscriptions finish, and their waiters fail. Returns what to finish and fail outside the lock.
    mutating func failSubscribe(
        _ names: [String], error: RedisError
    ) -> (buffers: [RedisSubscriptionBuffer], waiters: [CheckedContinuation<Result<Void, RedisError>, Never>]) {
        var buffers: [RedisSubscriptionBuffer] = []
        var failed: [CheckedContinuation<Result<Void, RedisError>, Never>] = []
        for name in names {
            guard let channel = channels[name], channel.phase == .subscribing else { continue }
            buffers += channel.subscriptions.values
            for waiterID in channel.waiterIDs {
                if let waiter = waiters.removeValue(forKey: waiterID) { failed.append(waiter.continuation) }
            }
            channels[name] = nil
        }
        return (buffers, failed)
    }

    /// A new connection is up: everything that should be subscribed is, in one SUBSCRIBE.
    mutating func connected(_ connection: RedisConnection, isReconnect: Bool) {
        self.connection = connection
        if isReconnect { reconnects += 1 }
        let pending = channels.filter { $0.value.phase == .subscribing }.map(\.key)
        send(.subscribe, pending.sorted())
    }

    /// The connection is gone: nothing is subscribed on the server any more. Channels with subscriptions go back
    /// to subscribing (re-sent on the next connection), the others are forgotten. Waiting `subscribe()` calls
    /// return: their subscriptions stay registered and will hear `.subscribed` after the reconnect.
    mutating func disconnected() -> [CheckedContinuation<Result<Void, RedisError>, Never>] {
        connection = nil
        generation += 1
        for (name, channel) in channels {
            if channel.subscriptions.isEmpty {
                channels[name] = nil
            } else {
                channels[name]?.phase = .subscribing
                channels[name]?.waiterIDs = []
            }
        }
        defer { waiters = [:] }
        return waiters.values.map(\.continuation)
    }

    /// The subscriber stops: every subscription finishes and every waiter fails.
    mutating func shutDown() -> (buffers: [RedisSubscriptionBuffer], waiters: [CheckedContinuation<Result<Void, RedisError>, Never>], connection: RedisConnection?) {
        isShutDown = true
        let buffers = channels.values.flatMap { $0.subscriptions.values }
        let pending = waiters.values.map(\.continuation)
        let connection = self.connection
        channels = [:]
        waiters = [:]
        outbox = []
        self.connection = nil
        generation += 1
        return (buffers, pending, connection)
    }
}
