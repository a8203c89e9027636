import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneRedis
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Results published by recipes on Redis channel `<incident uuid>`, the contract of the original system, collected
/// over the one connection of a `RedisSubscriber` for every open incident.
///
/// Pub/sub is at-most-once, so each time an incident's channel becomes active (first subscribe, and again after a
/// reconnect) or its buffer overflowed, the source also reads the incident's durable result list
/// (`ResultDelivery.durableKey`), which RecipeKit appends to before publishing. A result may therefore arrive twice;
/// the incident ignores the duplicate. A `Service`: `run()` hosts one consuming task per watched incident.
public final class RedisResultSource: ResultSource, Service {
    private let subscriber: RedisSubscriber
    private let client: RedisClient
    private let logger: Logger
    /// Watched incidents, with their subscription once it exists.
    private let subscriptions = Mutex<[UUID: RedisSubscription?]>([:])
    private let consumers: AsyncStream<@Sendable () async -> Void>
    private let consumerContinuation: AsyncStream<@Sendable () async -> Void>.Continuation
    private let resultContinuation: AsyncStream<RecipeResult>.Continuation
    private let malformed = Atomic<Int>(0)
    public let incomingResults: AsyncStream<RecipeResult>?
    /// The pause before subscribing again to a channel Redis refused: from 200 ms, doubling, at most 5 s, jittered.
    static let resubscribeBackoff = RetryPolicy(maxAttempts: .max, initialDelay: .milliseconds(200), maxDelay: .seconds(5))

    /// A recipe publishes and exits: its message may land after the exit is seen.
    public var resultsMayTrailExit: Bool { true }

    public init(subscriber: RedisSubscriber, client: RedisClient,
                logger: Logger = Logger(label: "euphrosyne.results.redis")) {
        self.subscriber = subscriber
        self.client = client
        self.logger = logger
        (consumers, consumerContinuation) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
        let (results, continuation) = AsyncStream.makeStream(of: RecipeResult.self)
        incomingResults = results
        resultContinuation = continuation
    }

    /// Messages on result channels that were not a result in the wire schema.
    public var malformedMessages: Int { malformed.load(ordering: .relaxed) }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await consumer in consumers.cancelOnGracefulShutdown() {
                group.addTask { await consumer() }
            }
            group.cancelAll()
        }
        resultContinuation.finish()
    }

    public func recipeEnvironment(incident: UUID, secret: String) -> [String: String] { [:] }

    public nonisolated(nonsending) func watch(incident: UUID) async {
        let isNew = subscriptions.withLock { wanted in
            guard wanted[incident] == nil else { return false }
            wanted[incident] = .some(nil)
            return true
        }
        guard isNew else { return }
        consumerContinuation.yield { [self] in await follow(incident) }
    }

    public nonisolated(nonsending) func unwatch(incident: UUID) async {
        subscriptions.withLock { $0.removeValue(forKey: incident) }??.cancel()
    }

    /// Subscribes to the incident's channel (retrying while Redis is unreachable) and forwards what arrives, until
    /// the incident is unwatched.
    private func follow(_ incident: UUID) async {
        let channel = ResultDelivery.channel(incident: incident)
        var attempt = 0
        while !Task.isCancelled {
            let subscription: RedisSubscription
            do {
                subscription = try await subscriber.subscribe(to: channel)
            } catch {
                attempt += 1
                logger.warning("cannot subscribe to the incident's result channel; retrying", metadata: [
                    "incident": "\(channel)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                let pause = Self.resubscribeBackoff.delay(afterAttempt: attempt)
                do { try await Task.sleep(for: pause) } catch { return }
                guard subscriptions.withLock({ $0[incident] != nil }) else { return }
                continue
            }
            let stillWanted = subscriptions.withLock { wanted in
                guard wanted[incident] != nil else { return false }
                wanted[incident] = .some(subscription)
                return true
            }
            guard stillWanted else {
                subscription.cancel()
                return
            }
            for await event in subscription {
                switch event {
                case .subscribed, .dropped:
                    await catchUp(incident)
                case .message(let payload):
                    forward(payload, incident: incident)
                }
            }
            // The subscription ended: unwatched (done), or the subscriber stopped under it (subscribe again).
            guard subscriptions.withLock({ $0[incident] != nil }) else { return }
            do { try await Task.sleep(for: .milliseconds(100)) } catch { return }
        }
    }

    /// Reads every durable copy of the incident's results and forwards them.
    private func catchUp(_ incident: UUID) async {
        for result in await storedResults(incident: incident) {
            resultContinuation.yield(result)
        }
    }

    public func storedResults(incident: UUID) async -> [RecipeResult] {
        let key = ResultDelivery.durableKey(incident: incident.uuidString)
        do {
            return try await client.execute(LRANGE(key, start: 0, stop: -1)).compactMap { decode($0, incident: incident) }
        } catch {
            logger.warning("cannot read the durable results; relying on pub/sub", metadata: [
                "incident": "\(incident.uuidString.lowercased())", "error": "\(error)",
            ])
            return []
        }
    }

    private func forward(_ payload: ByteBuffer, incident: UUID) {
        if let result = decode(payload, incident: incident) { resultContinuation.yield(result) }
    }

    private func decode(_ payload: ByteBuffer, incident: UUID) -> RecipeResult? {
        do {
            return try payload.withUnsafeReadableBytes { bytes throws(JSONInputError) in try RecipeResult.decode(bytes) }
        } catch {
            malformed.add(1, ordering: .relaxed)
            logger.warning("ignoring a message that is not a recipe result", metadata: [
                "incident": "\(incident.uuidString.lowercased())", "error": "\(error)",
            ])
            return nil
        }
    }
}
