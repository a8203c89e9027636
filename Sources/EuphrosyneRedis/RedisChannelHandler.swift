import Logging
import NIOCore

/// What ``RedisConnection`` writes into its channel: the encoded command and what to do with the answer.
struct RedisOutboundRequest: Sendable {
    enum Reply: Sendable {
        /// One reply completes the promise; it fails with `.timeout` after `timeout`.
        case single(EventLoopPromise<RESPToken>, timeout: TimeAmount?)
        /// SUBSCRIBE/UNSUBSCRIBE: done after `confirmations` push confirmations of `kind`, or failed by an error reply.
        case pubSub(PubSubCommand.Kind, confirmations: Int, EventLoopPromise<Void>)
    }

    var bytes: ByteBuffer
    var reply: Reply
}

/// Marks a `.connectionClosed` for a command that never reached the socket, so it is safe to send again.
struct CommandNotSent: Error {}

/// The NIO handler under every Redis connection. Inbound it frames tokens, skips attributes, hands pushes (RESP3
/// `>` frames, or RESP2 pub/sub arrays on a subscriber connection) to `onPush`, and matches every other reply to the
/// oldest pending request — replies come back in the order the commands went out, so many can be in flight.
/// When the channel closes or the peer breaks the protocol, every pending request fails.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisOutboundRequest
    typealias OutboundOut = ByteBuffer

    private enum Pending {
        case single(EventLoopPromise<RESPToken>, Scheduled<Void>?)
        case pubSub(PubSubCommand.Kind, remaining: Int, EventLoopPromise<Void>)

        func fail(_ error: RedisError) {
            switch self {
            case .single(let promise, let timeout):
                timeout?.cancel()
                promise.fail(error)
            case .pubSub(_, _, let promise):
                promise.fail(error)
            }
        }
    }

    /// Words that start RESP2 pub/sub arrays; only looked for on subscriber connections, where the server allows
    /// nothing but (UN)SUBSCRIBE and PING, so a normal reply can never look like one.
    private static let pubSubKinds: Set<String> = [
        "message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
    ]

    private var buffer = ByteBuffer()
    private var pending = CircularBuffer<Pending>(initialCapacity: 16)
    private var isClosed = false
    private let routesRESP2PubSub: Bool
    private let onPush: (@Sendable (RESPToken) -> Void)?
    private let logger: Logger

    init(routesRESP2PubSub: Bool, onPush: (@Sendable (RESPToken) -> Void)?, logger: Logger) {
        self.routesRESP2PubSub = routesRESP2PubSub
        self.onPush = onPush
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if isClosed {
            let error = RedisError(.connectionClosed, message: "connection is closed", underlying: CommandNotSent())
            switch request.reply {
            case .single(let reply, _): reply.fail(error)
            case .pubSub(_, _, let reply): reply.fail(error)
            }
            promise?.fail(error)
            return
        }
        switch request.reply {
        case .single(let reply, let timeout):
            let scheduled = timeout.map { timeout in
                // The entry stays queued after a timeout: its reply will still come, in order, and must be consumed.
                context.eventLoop.scheduleTask(in: timeout) {
                    reply.fail(RedisError(.timeout, message: "no reply within \(timeout)"))
                }
            }
            pending.append(.single(reply, scheduled))
        case .pubSub(let kind, let confirmations, let reply):
            pending.append(.pubSub(kind, remaining: confirmations, reply))
        }
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer.writeBuffer(&incoming)
        }
        do {
            while let token = try RESPToken(consuming: &buffer) {
                try handle(token)
            }
        } catch {
            logger.error("Redis protocol error, closing the connection", metadata: ["error": "\(error)"])
            failAll(error)
            context.close(promise: nil)
            return
        }
        if buffer.readableBytes == 0 {
            // Let go of the read buffer's storage; token slices handed out keep what they need.
            buffer = ByteBuffer()
        } else if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
        }
    }

    private func handle(_ token: RESPToken) throws(RedisError) {
        if token.isAttribute { return }
        if token.isPush {
            countConfirmation(token)
            onPush?(token)
            return
        }
        if routesRESP2PubSub, let kind = Self.pubSubKind(of: token), Self.pubSubKinds.contains(kind) {
            countConfirmation(token, kind: kind)
            onPush?(token)
            return
        }
        guard let head = pending.popFirst() else {
            logger.warning("Redis reply with no request waiting for it", metadata: ["reply": "\(token)"])
            return
        }
        switch head {
        case .single(let promise, let timeout):
            timeout?.cancel()
            promise.succeed(token)
        case .pubSub(_, _, let promise):
            // SUBSCRIBE/UNSUBSCRIBE answer only with confirmations; a plain reply here is their error (NOPERM…).
            guard let message = token.errorMessage else {
                throw RedisError(.protocolError, message: "unexpected reply \(token) to a pub/sub command")
            }
            promise.fail(RedisError(.serverError, message: message))
        }
    }

    /// Counts a subscribe/unsubscribe confirmation against the oldest pending pub/sub command of that kind.
    private func countConfirmation(_ token: RESPToken, kind knownKind: String? = nil) {
        guard let kind = knownKind ?? Self.pubSubKind(of: token),
              case .pubSub(let expected, let remaining, let promise)? = pending.first,
              kind == expected.rawValue
        else { return }
        if remaining <= 1 {
            _ = pending.popFirst()
            promise.succeed(())
        } else {
            pending[pending.startIndex] = .pubSub(expected, remaining: remaining - 1, promise)
        }
    }

    /// The lowercased first word of an array or push frame (`message`, `subscribe`, `pong`…).
    static func pubSubKind(of token: RESPToken) -> String? {
        switch token.value {
        case .array(let children), .push(let children):
            guard let first = children.first(where: { _ in true }) else { return nil }
            switch first.value {
            case .bulkString(let bytes), .simpleString(let bytes): return String(buffer: bytes).lowercased()
            default: return nil
            }
        default:
            return nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, message: "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("Redis connection error", metadata: ["error": "\(error)"])
        failAll(RedisError(.connectionClosed, message: "connection error", underlying: error))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        isClosed = true
        while let entry = pending.popFirst() { entry.fail(error) }
    }
}
