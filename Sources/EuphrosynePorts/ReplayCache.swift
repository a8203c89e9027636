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
