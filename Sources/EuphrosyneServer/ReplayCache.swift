import EuphrosyneRedis
import Foundation
import Synchronization

/// Remembers the signed API requests already accepted, so each is accepted once within the replay window.
///
/// `APIAuthenticationMiddleware` asks it after a signature verified. One replica uses `InMemoryReplayCache`; with
/// Redis configured `serve` uses `RedisReplayCache`, which every replica shares, so a request captured on its way to
/// one replica cannot be replayed to another.
public protocol ReplayCache: Sendable {
    /// True the first time this key's `signature` is offered while its timestamp (`sentAt`) is inside `window`;
    /// false for a repeat. Throws when it cannot tell (the shared store is unreachable): the request is then
    /// refused, never let through.
    func admit(keyID: String, signature: String, sentAt: Date, now: Date, window: TimeInterval) async throws -> Bool
}

/// The replay cache of one process: accepted signatures kept until their timestamp leaves the window.
public final class InMemoryReplayCache: ReplayCache {
    private let seen = Mutex<[String: Date]>([:])

    public init() {}

    public func admit(keyID: String, signature: String, sentAt: Date, now: Date, window: TimeInterval) -> Bool {
        let key = keyID + "\n" + signature
        return seen.withLock { seen in
            if seen.count > 1_000 { seen = seen.filter { now.timeIntervalSince($0.value) <= window } }
            if let earlier = seen[key], now.timeIntervalSince(earlier) <= window { return false }
            seen[key] = sentAt
            return true
        }
    }
}

/// The replay cache in Redis, shared by every replica: `SET euphrosyne:replay:<key id>:<signature> 1 NX EX <ttl>`,
/// where the key lives until the signature's timestamp leaves the window (after that the timestamp check refuses
/// it anyway).
public struct RedisReplayCache: ReplayCache {
    public let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    static func key(keyID: String, signature: String) -> String {
        "euphrosyne:replay:\(keyID):\(signature.hasPrefix("sha256=") ? String(signature.dropFirst(7)) : signature)"
    }

    public func admit(keyID: String, signature: String, sentAt: Date, now: Date, window: TimeInterval) async throws -> Bool {
        let remaining = Int((sentAt.timeIntervalSince(now) + window).rounded(.up)) + 1
        let reply = try await client.execute(SET(
            Self.key(keyID: keyID, signature: signature), value: "1",
            expiration: .seconds(max(1, remaining)), condition: .ifNotExists
        ))
        return reply != nil
    }
}
