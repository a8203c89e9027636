import NIOCore

extension RedisSubscriber {
    /// Handles one pub/sub frame from the connection (a RESP3 push or a RESP2 pub/sub array), on the event loop:
    /// confirmations drive the channel state machine, messages go to the channel's subscriptions.
    func handlePush(_ token: RESPToken, generation: Int) {
        let parts: [RESPToken]
        switch token.value {
        case .push(let children), .array(let children): parts = Swift.Array(children)
        default: return
        }
        guard parts.count >= 3, let kind = try? String(fromRESP: parts[0]), let channel = try? String(fromRESP: parts[1]) else {
            return
        }
        switch kind.lowercased() {
        case "message":
            guard let payload = try? ByteBuffer(fromRESP: parts[2]) else { return }
            let buffers = state.withLock { state -> [RedisSubscriptionBuffer] in
                guard state.generation == generation, let entry = state.channels[channel], entry.phase == .active else { return [] }
                return Swift.Array(entry.subscriptions.values)
            }
            guard !buffers.isEmpty else { return }
            // A copy, so a buffered message does not pin the whole read buffer it arrived in.
            var copy = ByteBufferAllocator().buffer(capacity: payload.readableBytes)
            copy.writeImmutableBuffer(payload)
            var dropped = 0
            for buffer in buffers where !buffer.yieldMessage(copy) { dropped += 1 }
            if dropped > 0 { recordDrops(dropped) }
        case "subscribe":
            let ready = state.withLock { state in
                state.generation == generation ? state.confirmSubscribe(channel) : []
            }
            for waiter in ready { waiter.resume(returning: .success(())) }
        case "unsubscribe":
            state.withLock { state in
                if state.generation == generation { state.confirmUnsubscribe(channel) }
            }
            drainOutbox()
        default:
            break
        }
    }
}
