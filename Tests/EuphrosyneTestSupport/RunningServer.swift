import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Runs Hummingbird routers on loopback ports the OS picks, for the duration of a test body, and stops them after.
public enum RunningServer {
    /// Starts one server per router on 127.0.0.1:0, calls `body` with their ports (in order), then shuts them down.
    public static func with<Result: Sendable>(
        _ routers: [Router<BasicRequestContext>],
        _ body: @Sendable ([Int]) async throws -> Result
    ) async throws -> Result {
        let ports = PortCollector(count: routers.count)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        let applications = routers.enumerated().map { index, router in
            Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in await ports.set(index, channel.localAddress?.port ?? 0) },
                logger: logger
            )
        }
        return try await with(services: applications, ports: ports, logger: logger, body)
    }

    /// Runs arbitrary services in one `ServiceGroup` while `body` runs; `ports` is filled by their
    /// `onServerRunning` callbacks.
    public static func with<Result: Sendable>(
        services: [any Service], ports: PortCollector, logger: Logger = Logger(label: "test-services"),
        _ body: @Sendable ([Int]) async throws -> Result
    ) async throws -> Result {
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: logger
        ))
        return try await withThrowingTaskGroup(of: Result?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            let allPorts = try await ports.all(timeout: .seconds(30))
            do {
                let result = try await body(allPorts)
                await group.triggerGracefulShutdown()
                while let next = try await tasks.next() { _ = next }
                return result
            } catch {
                // Shut down gracefully here too: cancelling a server while it still holds accepted connections
                // traps in NIO (apple/swift-nio#2813), which would hide the test's own failure.
                await group.triggerGracefulShutdown()
                while (try? await tasks.next()) != nil {}
                throw error
            }
        }
    }
}

/// Collects the ports servers report once they listen, and lets a test wait for all of them.
public actor PortCollector {
    private var ports: [Int?]
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(count: Int) {
        ports = Array(repeating: nil, count: count)
    }

    public func set(_ index: Int, _ port: Int) {
        ports[index] = port
        if ports.allSatisfy({ $0 != nil }) {
            for waiter in waiters { waiter.resume() }
            waiters = []
        }
    }

    public func all(timeout: Duration) async throws -> [Int] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ports.contains(where: { $0 == nil }) {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "servers to start listening") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return ports.map { $0! }
    }
}

/// A condition a test waited for did not happen in time.
public struct TestTimeout: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// Waits until `condition` holds, polling, or throws after `timeout`. Tests wait for conditions, never for a
/// sleep to be long enough.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), pollEvery interval: Duration = .milliseconds(20),
    _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
        try await Task.sleep(for: interval)
    }
}
