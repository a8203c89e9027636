import Logging

/// The loop both ``RedisClient`` and ``RedisSubscriber`` run in `run()`: connect, hand the connection over until
/// it closes, wait a jittered back-off, connect again — until the task is cancelled (graceful shutdown).
enum RedisReconnectLoop {
    /// `connected` is called with each new connection and whether it replaces a lost one; it returns when the
    /// connection has closed. Cancellation closes the current connection and ends the loop.
    static func run(
        configuration: RedisConfiguration,
        logger: Logger,
        connect: () async throws(RedisError) -> RedisConnection,
        connected: (RedisConnection, _ isReconnect: Bool) async -> Void
    ) async {
        var failedAttempts = 0
        var hadConnection = false
        while !Task.isCancelled {
            do {
                let connection = try await connect()
                failedAttempts = 0
                await withTaskCancellationHandler {
                    await connected(connection, hadConnection)
                } onCancel: {
                    connection.closeSoon()
                }
                hadConnection = true
                if Task.isCancelled { break }
                logger.warning("Redis connection lost, reconnecting", metadata: ["redis": "\(configuration.host):\(configuration.port)"])
            } catch {
                failedAttempts += 1
                let level: Logger.Level = error.code == .authenticationFailed ? .error : .warning
                logger.log(level: level, "Cannot connect to Redis", metadata: [
                    "redis": "\(configuration.host):\(configuration.port)", "error": "\(error)", "attempt": "\(failedAttempts)",
                ])
            }
            do {
                try await Task.sleep(for: configuration.reconnectBackoff.delay(forAttempt: max(failedAttempts, 1)))
            } catch {
                break
            }
        }
    }
}
