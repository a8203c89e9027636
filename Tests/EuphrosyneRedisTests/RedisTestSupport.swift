import EuphrosyneTestSupport
import EuphrosyneRedis
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// Shared helpers for the Redis tests: quiet loggers, deadline-based waiting, running services for a test's body.
enum RedisTestSupport {
    /// Silent unless REDIS_TEST_LOG is set, so test output stays readable; set it to debug a failure.
    static let logger: Logger = {
        guard ProcessInfo.processInfo.environment["REDIS_TEST_LOG"] != nil else {
            return Logger(label: "euphrosyne-redis-tests") { _ in SwiftLogNoOpLogHandler() }
        }
        var logger = Logger(label: "euphrosyne-redis-tests") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .debug
        return logger
    }()

    struct TimedOut: Error, CustomStringConvertible {
        var description: String
    }

    /// Polls `condition` until it holds or `timeout` passes (then throws): for states that settle asynchronously.
    static func eventually(
        _ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        if try await condition() { return }
        throw TimedOut(description: "timed out waiting for \(what)")
    }

    /// Runs `services` for the duration of `body`, then cancels them and waits until they stopped.
    static func withRunning<T: Sendable>(
        _ services: [any Service], _ body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services {
                group.addTask { try await service.run() }
            }
            do {
                let result = try await body()
                group.cancelAll()
                try await group.waitForAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// The next `count` events of a subscription, failing after `timeout`.
    static func events(
        _ subscription: RedisSubscription, count: Int, timeout: Duration = .seconds(15)
    ) async throws -> [RedisSubscriptionEvent] {
        try await withThrowingTaskGroup(of: [RedisSubscriptionEvent]?.self) { group in
            group.addTask {
                var iterator = subscription.makeAsyncIterator()
                var events: [RedisSubscriptionEvent] = []
                while events.count < count, let event = await iterator.next() { events.append(event) }
                return events
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else {
                throw TimedOut(description: "timed out waiting for \(count) events on \(subscription.channel)")
            }
            return first
        }
    }

    static func configuration(_ server: RedisServerProcess, _ preference: RedisConfiguration.ProtocolPreference = .resp3IfAvailable) -> RedisConfiguration {
        RedisConfiguration(
            host: "127.0.0.1", port: server.port, protocolPreference: preference,
            commandTimeout: .seconds(30), reconnectBackoff: RedisReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        )
    }

    /// Runs a command-line tool (redis-cli) to completion and returns its standard output.
    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        try await runProgram(try RedisServerProcess.executable(named: tool), arguments).output
    }
}

extension RESPToken {
    /// Frames exactly one token from a test string, requiring every byte to be consumed.
    static func parse(_ text: String) throws -> RESPToken {
        var buffer = ByteBuffer(string: text)
        guard let token = try RESPToken(consuming: &buffer) else { throw RedisTestSupport.TimedOut(description: "incomplete frame") }
        #expect(buffer.readableBytes == 0)
        return token
    }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}
