import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The command client the app uses: one connection kept up by ``run()`` (a ServiceLifecycle service, reconnecting
/// with jittered back-off after a loss), shared by every caller of ``execute(_:)`` with commands pipelined over it.
/// Pub/sub subscriptions go through ``RedisSubscriber`` instead. Creating a client starts nothing; `run()` does.
public final class RedisClient: Service, Sendable {
    public let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    private struct State {
        var connection: RedisConnection?
        var waiters: [Int: CheckedContinuation<Result<RedisConnection, RedisError>, Never>] = [:]
        var nextWaiterID = 0
        var isRunning = false
        var isShutDown = false
        var reconnects = 0
    }

    private let state = Mutex(State())

    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Whether a connection is up right now — for readiness probes.
    public var isConnected: Bool { state.withLock { $0.connection?.isActive ?? false } }

    /// How many times a lost connection was re-established.
    public var reconnects: Int { state.withLock { $0.reconnects } }

    /// Keeps a connection up until graceful shutdown or cancellation. Call once (the service group does).
    public func run() async throws {
        let first = state.withLock { state in
            defer { state.isRunning = true }
            return !state.isRunning
        }
        guard first else { throw RedisError(.invalidConfiguration, message: "RedisClient.run() called twice") }
        await cancelWhenGracefulShutdown { [self] in
            await RedisReconnectLoop.run(configuration: configuration, logger: logger) { () throws(RedisError) in
                try await RedisConnection.connect(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
            } connected: { connection, isReconnect in
                let waiters = state.withLock { state in
                    state.connection = connection
                    if isReconnect { state.reconnects += 1 }
                    defer { state.waiters = [:] }
                    return state.waiters.values
                }
                if isReconnect { logger.info("Redis connection re-established") }
                for waiter in waiters { waiter.resume(returning: .success(connection)) }
                await connection.waitUntilClosed()
                state.withLock { $0.connection = nil }
            }
        }
        let (connection, waiters) = state.withLock { state in
            state.isShutDown = true
            defer {
                state.connection = nil
                state.waiters = [:]
            }
            return (state.connection, state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: .failure(RedisError(.notConnected, message: "the client has shut down"))) }
        await connection?.close()
    }

    /// Runs one command on the shared connection and decodes its reply. While disconnected it waits for the
    /// connection up to the command timeout, then throws `.notConnected`. Server error replies throw `.serverError`
    /// with the server's text; a command is never retried (it may have run), so a loss mid-flight throws
    /// `.connectionClosed`.
    public func execute<Command: RedisCommand>(_ command: Command) async throws(RedisError) -> Command.Response {
        var attempts = 0
        while true {
            do {
                return try await connection().execute(command)
            } catch where error.code == .connectionClosed && error.underlying is CommandNotSent && attempts < 3 {
                // The connection died before the command was written: nothing ran, so waiting for the next
                // connection and sending it there is safe.
                attempts += 1
            }
        }
    }

    /// The live connection, waiting for one up to the command timeout.
    func connection() async throws(RedisError) -> RedisConnection {
        if let connection = state.withLock({ $0.connection }), connection.isActive { return connection }
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<RedisConnection, RedisError>, Never>) in
                let immediate: Result<RedisConnection, RedisError>? = state.withLock { state in
                    if state.isShutDown { return .failure(RedisError(.notConnected, message: "the client has shut down")) }
                    if let connection = state.connection, connection.isActive { return .success(connection) }
                    if Task.isCancelled { return .failure(RedisError(.cancelled)) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                    return
                }
                let timeout = configuration.commandTimeout
                eventLoopGroup.any().scheduleTask(in: TimeAmount(timeout)) { [self] in
                    resumeWaiter(id, with: .failure(RedisError(.notConnected, message: "no Redis connection within \(timeout)")))
                }
            }
        } onCancel: {
            resumeWaiter(id, with: .failure(RedisError(.cancelled, message: "the calling task was cancelled")))
        }
        return try result.get()
    }

    private func resumeWaiter(_ id: Int, with result: Result<RedisConnection, RedisError>) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: result)
    }
}
