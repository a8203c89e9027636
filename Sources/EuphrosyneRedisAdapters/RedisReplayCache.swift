import EuphrosynePorts
import EuphrosyneRedis
import Foundation

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
