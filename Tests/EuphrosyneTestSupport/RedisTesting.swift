import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneRedis
import Foundation
import Logging
import NIOCore
import Synchronization

/// Starts a private redis-server for `body` and stops it afterwards, whatever happens.
public func withRedisServer<T: Sendable>(
    arguments: [String] = [], _ body: @Sendable (RedisServerProcess) async throws -> T
) async throws -> T {
    let server = try await RedisServerProcess.start(arguments: arguments)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

extension RedisServerProcess {
    /// A configuration for this server, with a client name so `CLIENT LIST` tells connections apart.
    public nonisolated func configuration(name: String? = nil) -> RedisConfiguration {
        var configuration = try! RedisConfiguration(address: "127.0.0.1:\(port)")
        configuration.clientName = name
        // A server just started on a loaded machine may take seconds to accept: tests wait for it rather than
        // fail at the production default of 5 s. Tests of the timeouts themselves set their own.
        configuration.commandTimeout = .seconds(30)
        configuration.connectTimeout = .seconds(30)
        return configuration
    }

    /// Runs the real `redis-cli` against this server and returns its output.
    public nonisolated func cli(_ arguments: [String]) async throws -> String {
        try await runProgram(try RedisServerProcess.executable(named: "redis-cli"),
                             ["-h", "127.0.0.1", "-p", String(port)] + arguments).output
    }
}

/// Lets tasks wait until a test opens it.
public final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    public func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    public func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// A launcher whose "recipes" report over Redis the way RecipeKit does (durable copy, then PUBLISH) after an
/// optional gate, then exit 0 — recipe runs without processes, for tests at scale.
public final class RedisPublishingLauncher: RecipeLauncher {
    public enum Mode: Sendable {
        /// Durable copy, then PUBLISH: what RecipeKit does.
        case durableThenPublish
        /// Only the durable copy, and the run goes on: the message was lost; only a catch-up finds the result.
        case durableOnly
    }

    private let client: RedisClient
    private let gate: Gate?
    private let mode: Mode
    private let launched = Atomic<Int>(0)

    public init(client: RedisClient, gate: Gate? = nil, mode: Mode = .durableThenPublish) {
        self.client = client
        self.gate = gate
        self.mode = mode
    }

    public var launches: Int { launched.load(ordering: .relaxed) }

    public func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
        launched.add(1, ordering: .relaxed)
        await started()
        await gate?.wait()
        let incident = request.incidentID.uuidString.lowercased()
        let result = RecipeResult(incident: incident, name: request.recipe.name, status: .successful,
                                  results: .init(actions: ["jira"], analysis: "seen by \(request.recipe.name)"))
        let payload = ByteBuffer(bytes: result.encoded())
        // Retried like RecipeKit does: Redis may be restarting right now.
        var reported = false
        var lastError = ""
        for _ in 0..<50 where !reported {
            do {
                let key = ResultDelivery.durableKey(incident: incident)
                _ = try await client.execute(RPUSH(key, elements: [payload]))
                if mode == .durableThenPublish {
                    _ = try await client.execute(PUBLISH(incident, message: payload))
                }
                reported = true
            } catch {
                lastError = "\(error)"
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        guard reported else { return .exited(status: 1, stderrTail: "could not report: \(lastError)") }
        if mode == .durableOnly {
            do {
                try await Task.sleep(for: request.timeout)
                return .timedOut
            } catch {
                return .cancelled(reason: "stopped")
            }
        }
        return .exited(status: 0, stderrTail: "")
    }
}
