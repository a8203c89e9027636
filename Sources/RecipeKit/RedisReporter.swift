import EuphrosyneCore
import EuphrosyneRedis
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore

/// Reports a result over Redis, as the original SDK did, and durably: it first appends the result to the
/// incident's list (`ResultDelivery.durableKey`, with a TTL), then PUBLISHes it on the incident's channel. A
/// reconciler that was reconnecting or restarting when the message went out still finds the durable copy.
///
/// Used when the recipe is given `--redis-address`. Credentials, when Redis needs them, come from `REDIS_USERNAME`
/// and `REDIS_PASSWORD` (never from argv, which the original contract fixes).
public struct RedisReporter: ResultReporter {
    public var configuration: RedisConfiguration
    public var attempts: Int

    public init(configuration: RedisConfiguration, attempts: Int = 5) {
        self.configuration = configuration
        self.attempts = max(1, attempts)
    }

    /// A reporter for `--redis-address` (`host:port` or a `redis://` URL), with credentials from the environment.
    public init(address: String, environment: [String: String]) throws(RecipeError) {
        do {
            var configuration = try RedisConfiguration(address: address)
            if let password = environment["REDIS_PASSWORD"], !password.isEmpty {
                configuration.password = password
                configuration.username = environment["REDIS_USERNAME"].flatMap { $0.isEmpty ? nil : $0 }
            }
            configuration.clientName = "euphrosyne-recipe"
            self.init(configuration: configuration)
        } catch {
            throw .usage("--redis-address \"\(address)\" is not usable: \(error)")
        }
    }

    public func report(_ result: RecipeResult) async throws(RecipeError) {
        let payload = ByteBuffer(bytes: result.encoded())
        let key = ResultDelivery.durableKey(incident: result.incident)
        let client = RedisClient(configuration: configuration, logger: Logger(label: "recipekit.redis"))
        // 200 ms, doubling, without jitter or cap.
        let policy = RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(200),
                                 maxDelay: .seconds(Int64(Int32.max)), jittered: false)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                defer { group.cancelAll() }
                try await policy.run { (_: Int) -> RetryPolicy.Attempt<Void> in
                    do {
                        _ = try await client.execute(RPUSH(key, elements: [payload]))
                        _ = try await client.execute(EXPIRE(key, seconds: ResultDelivery.durableKeyTTL))
                        _ = try await client.execute(PUBLISH(result.incident, message: payload))
                        return .done(())
                    } catch {
                        return .retry(problem: "\(error)")
                    }
                } giveUp: { attempts, problem in
                    RecipeError.reporting(
                        "could not report the result to Redis at \(configuration.host):\(configuration.port) after "
                            + "\(attempts) attempts: \(problem)"
                    )
                }
            }
        } catch let error as RecipeError {
            throw error
        } catch {
            throw .reporting("could not report the result to Redis: \(error)")
        }
    }
}
