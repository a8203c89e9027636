import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis, set up (protocol, auth, name, database) and ready for commands. ``RedisClient`` and
/// ``RedisSubscriber`` each keep one and replace it after a loss; tools may use one directly. Commands may be sent
/// from many tasks at once: they are pipelined and each gets its own reply.
public final class RedisConnection: Sendable {
    let channel: any Channel
    /// The RESP version agreed with the server: 3 after a successful `HELLO 3`, else 2.
    public let protocolVersion: Int
    let commandTimeout: Duration
    let logger: Logger

    init(channel: any Channel, protocolVersion: Int, commandTimeout: Duration, logger: Logger) {
        self.channel = channel
        self.protocolVersion = protocolVersion
        self.commandTimeout = commandTimeout
        self.logger = logger
    }

    /// Opens and sets up a connection. Throws `.timeout` / `.connectionFailed` when the server cannot be reached,
    /// `.authenticationFailed` when it refuses the credentials, `.serverError` when SELECT fails.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws(RedisError) -> RedisConnection {
        try await connect(configuration: configuration, eventLoopGroup: eventLoopGroup, isSubscriber: false, onPush: nil, logger: logger)
    }

    /// `isSubscriber` makes RESP2 pub/sub arrays go to `onPush` like RESP3 pushes do.
    static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        isSubscriber: Bool,
        onPush: (@Sendable (RESPToken) -> Void)?,
        logger: Logger
    ) async throws(RedisError) -> RedisConnection {
        let handlerLogger = logger
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(routesRESP2PubSub: isSubscriber, onPush: onPush, logger: handlerLogger)
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch let error as ChannelError where error == .connectTimeout(TimeAmount(configuration.connectTimeout)) {
            throw RedisError(.timeout, message: "connect to \(configuration.host):\(configuration.port) timed out", underlying: error)
        } catch {
            throw RedisError(.connectionFailed, message: "cannot connect to \(configuration.host):\(configuration.port)", underlying: error)
        }
        do {
            return try await setUp(channel: channel, configuration: configuration, logger: logger)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Runs one command and decodes its reply. Error replies throw `.serverError` with the server's text; no reply
    /// within the command timeout throws `.timeout`; a lost connection throws `.connectionClosed`.
    public func execute<Command: RedisCommand>(_ command: Command) async throws(RedisError) -> Command.Response {
        var encoder = RESPCommandEncoder(buffer: channel.allocator.buffer(capacity: 64))
        command.encode(into: &encoder)
        let token = try await send(encoder.buffer)
        return try Command.Response(fromRESP: token)
    }

    /// Sends encoded bytes as one request and waits for its reply token (error replies are returned, not thrown).
    func send(_ bytes: ByteBuffer) async throws(RedisError) -> RESPToken {
        let promise = channel.eventLoop.makePromise(of: RESPToken.self)
        let request = RedisOutboundRequest(bytes: bytes, reply: .single(promise, timeout: TimeAmount(commandTimeout)))
        channel.writeAndFlush(request, promise: writeFailurePromise(failing: promise))
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(RedisError(.cancelled, message: "the calling task was cancelled"))
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connectionClosed, underlying: error)
        }
    }

    /// Sends SUBSCRIBE/UNSUBSCRIBE without waiting; the future completes once every channel is confirmed, or fails
    /// with the server's error (e.g. NOPERM) or `.connectionClosed`.
    func send(_ command: PubSubCommand) -> EventLoopFuture<Void> {
        var encoder = RESPCommandEncoder(buffer: channel.allocator.buffer(capacity: 32 + command.channels.count * 16))
        command.encode(into: &encoder)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let request = RedisOutboundRequest(
            bytes: encoder.buffer,
            reply: .pubSub(command.kind, confirmations: command.channels.count, promise)
        )
        channel.writeAndFlush(request, promise: writeFailurePromise(failing: promise))
        return promise.futureResult
    }

    /// A write promise whose failure fails `reply` too. Without it a write to a channel that has already closed
    /// (its handler removed, so nothing queues the request) would leave the caller waiting forever.
    private func writeFailurePromise<Value>(failing reply: EventLoopPromise<Value>) -> EventLoopPromise<Void> {
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            // Failing an already-answered promise is a no-op, so a late write error cannot override a reply.
            if let error = error as? RedisError {
                reply.fail(error)
            } else if let error = error as? ChannelError, error == .ioOnClosedChannel {
                reply.fail(RedisError(.connectionClosed, message: "connection is closed", underlying: CommandNotSent()))
            } else {
                reply.fail(RedisError(.connectionClosed, message: "write failed", underlying: error))
            }
        }
        return written
    }

    /// Whether the TCP connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Closes the connection; pending commands fail with `.connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    func closeSoon() {
        channel.close(promise: nil)
    }

    /// Returns when the connection has closed, for whatever reason.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
