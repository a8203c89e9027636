import EuphrosyneRedis
import NIOCore
import Synchronization

/// Fencing for several replicas: a token that only grows, issued to each new leader and checked by every incident
/// write, so a leader that was paused past its Lease (a GC stall, `SIGSTOP`, a frozen node) and wakes up cannot
/// overwrite what the new leader wrote. The leader election alone cannot promise that (client-go says so).
///
/// `acquire()` takes the next token in `euphrosyne:fence` (one script: the value plus one, stored), which at once
/// makes every older token stale. `RedisIncidentStore` then sends the token with each save; its script refuses a
/// token older than the stored one (`FENCED`) and changes nothing. The replica that gets a refusal learns it is no
/// longer the leader: `fenced()` returns, and it stops acting.
public final class RedisFence: Sendable {
    static let key = "euphrosyne:fence"

    /// Takes the next token: the stored one plus one (0 when none), stored. GET and SET only, which the shipped
    /// Redis ACL of the reconciler allows.
    static let acquireScript = """
        local token = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
        redis.call('SET', KEYS[1], token)
        return token
        """

    /// The check every incident write starts with, when it carries a token (ARGV[`index`]): refused when a newer
    /// token was issued. KEYS[`keyIndex`] is `euphrosyne:fence`.
    static func check(keyIndex: Int, argumentIndex: Int) -> String {
        """
        if ARGV[\(argumentIndex)] ~= '' then
          local current = tonumber(redis.call('GET', KEYS[\(keyIndex)]) or '0')
          if tonumber(ARGV[\(argumentIndex)]) < current then
            return redis.error_reply('FENCED a newer leader holds fencing token ' .. current)
          end
        end

        """
    }

    private let client: RedisClient
    private let state = Mutex<(token: Int?, fenced: Bool)>((nil, false))
    private let fencings = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    public init(client: RedisClient) {
        self.client = client
    }

    /// The token of this leadership; nil before `acquire()` (writes then carry none and are not checked).
    public var token: Int? { state.withLock { $0.token } }

    /// Whether a write was refused for a newer token.
    public var isFenced: Bool { state.withLock { $0.fenced } }

    /// Takes a new token for a leadership that just started; every older one is stale from now on.
    @discardableResult
    public func acquire() async throws -> Int {
        let reply = try await client.execute(EVAL(Self.acquireScript, keys: [Self.key], arguments: []))
        guard case .number(let token) = reply.value else {
            throw RedisError(.unexpectedResponse, message: "the fencing token script answered \(reply.value)")
        }
        state.withLock { $0 = (Int(token), false) }
        return Int(token)
    }

    /// Tells the fence that a write was refused for a newer token.
    func refused() {
        let first = state.withLock { state -> Bool in
            defer { state.fenced = true }
            return !state.fenced
        }
        if first { fencings.continuation.yield() }
    }

    /// Returns once a write of this replica was refused for a newer leader's token. For one caller: whatever stops
    /// the replica acting. Throws `CancellationError` when cancelled first.
    public func fenced() async throws {
        if isFenced { return }
        for await _ in fencings.stream { return }
        throw CancellationError()
    }
}
