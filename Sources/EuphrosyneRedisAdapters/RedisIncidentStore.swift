import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneRedis
import Foundation
import Logging
import NIOCore
import Synchronization

/// Keeps incidents in Redis, so a restarted reconciler (or another replica) finds them and resumes the open ones.
///
/// Layout, every key with a TTL of `retentionSeconds` refreshed on each save:
/// - `euphrosyne:incident:<uuid>`: a hash with `revision` and `data` (the incident as JSON);
/// - `euphrosyne:incidents`: a sorted set of incident UUIDs scored by creation time (milliseconds), for listing;
/// - `euphrosyne:incidents:open`: the set of incidents that are not closed, for resuming;
/// - `euphrosyne:group:<hash>`: the incident holding a notification group (`Incident.identity`, hashed because a
///   group key can be long and hold any character), claimed by the script that saves a new incident's first
///   version and deleted by the save that closes it.
/// A save is one Lua script, so a slower writer never replaces a newer revision. The same script keeps the index
/// at `capacity` incidents at most, deleting the oldest closed ones beyond it, so a flood of short-lived incidents
/// cannot fill Redis before their retention ends.
///
/// An incident that does not decode (written by another program, or damaged) is skipped by lists and resumes,
/// logged and counted (`undecodableIncidents`), never allowed to break them.
public struct RedisIncidentStore: IncidentStore {
    public let client: RedisClient
    public let retentionSeconds: Int
    /// Incidents kept at most (`--max-stored-incidents`); open ones are never deleted to make room.
    public let capacity: Int
    /// With leader election: the token every write carries, so a stale leader's writes are refused.
    public let fence: RedisFence?
    private let undecodable = UndecodableCount()
    private let logger: Logger

    static let indexKey = "euphrosyne:incidents"
    static let openKey = "euphrosyne:incidents:open"
    static func incidentKey(_ id: UUID) -> String { "euphrosyne:incident:\(id.uuidString.lowercased())" }
    static func groupKey(_ identity: String) -> String { "euphrosyne:group:\(Incident.identityDigest(identity))" }

    /// `saveScript` for a new incident, first claiming its group. KEYS and ARGV as `saveScript`, plus ARGV[7]: the
    /// stale holder that may be replaced ("" for none). Returns the holder, saving nothing, when another incident
    /// holds the group; otherwise saves and returns 1.
    static let createScript = RedisFence.check(keyIndex: 5, argumentIndex: 9) + """
        local holder = redis.call('GET', KEYS[4])
        if holder and holder ~= ARGV[5] and holder ~= ARGV[7] then return holder end
        if ARGV[6] == '1' then redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[3]) end
        """ + "\n" + saveBody

    /// KEYS: incident, index, open, group, fence. ARGV: revision, data, retention seconds, created-at ms, uuid,
    /// open (1/0), (7: used by createScript), capacity, fencing token ("" without leader election). Refused
    /// (`FENCED`) when the token is older than the newest leader's: nothing changes.
    static let saveScript = RedisFence.check(keyIndex: 5, argumentIndex: 9) + saveBody

    static let saveBody = """
        local current = redis.call('HGET', KEYS[1], 'revision')
        if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'data', ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
        redis.call('EXPIRE', KEYS[2], ARGV[3])
        local holdsGroup = redis.call('GET', KEYS[4]) == ARGV[5]
        if ARGV[6] == '1' then
          redis.call('SADD', KEYS[3], ARGV[5])
          redis.call('EXPIRE', KEYS[3], ARGV[3])
          if holdsGroup then redis.call('EXPIRE', KEYS[4], ARGV[3]) end
        else
          redis.call('SREM', KEYS[3], ARGV[5])
          if holdsGroup then redis.call('DEL', KEYS[4]) end
        end
        local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[8])
        if excess > 0 then
          local removed = 0
          for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess + 99)) do
            if removed >= excess then break end
            if redis.call('SISMEMBER', KEYS[3], id) == 0 then
              redis.call('DEL', 'euphrosyne:incident:' .. id)
              redis.call('ZREM', KEYS[2], id)
              removed = removed + 1
            end
          end
        end
        return 1
        """

    public init(client: RedisClient, retentionSeconds: Int = 7 * 86_400, capacity: Int = 10_000,
                fence: RedisFence? = nil, logger: Logger = Logger(label: "euphrosyne.store.redis")) {
        precondition(capacity > 0, "capacity must be positive")
        self.client = client
        self.fence = fence
        self.retentionSeconds = retentionSeconds
        self.capacity = capacity
        self.logger = logger
    }

    /// Incidents skipped because they did not decode, since start.
    public var undecodableIncidents: Int { undecodable.value.load(ordering: .relaxed) }

    public var isDurable: Bool { true }

    public func save(_ incident: Incident) async throws {
        _ = try await write(EVAL(Self.saveScript, keys: keys(of: incident),
                                 arguments: arguments(of: incident) + ["", String(capacity), fencingToken]))
    }

    private func keys(of incident: Incident) -> [String] {
        [Self.incidentKey(incident.id), Self.indexKey, Self.openKey, Self.groupKey(incident.identity), RedisFence.key]
    }

    private var fencingToken: String { fence?.token.map(String.init) ?? "" }

    /// Runs a write; a refusal for a newer leader's token tells the fence.
    private func write(_ script: EVAL) async throws -> RESPToken {
        do {
            return try await client.execute(script)
        } catch where error.serverErrorPrefix == "FENCED" {
            fence?.refused()
            throw error
        }
    }

    private func arguments(of incident: Incident) throws -> [String] {
        [
            String(incident.revision), String(decoding: try Self.encoder.encode(incident), as: UTF8.self),
            String(retentionSeconds), String(Int64(incident.createdAt.timeIntervalSince1970 * 1000)),
            incident.id.uuidString.lowercased(), incident.state.isClosed ? "0" : "1",
        ]
    }

    public func create(_ incident: Incident, replacing stale: UUID?) async throws -> UUID? {
        let reply = try await write(EVAL(
            Self.createScript, keys: keys(of: incident),
            arguments: arguments(of: incident) + [stale?.uuidString.lowercased() ?? "", String(capacity), fencingToken]
        ))
        guard case .bulkString(let holder) = reply.value else { return nil }
        return UUID(uuidString: String(buffer: holder))
    }

    /// The incident, or nil when there is none or it does not decode (logged and counted).
    public func incident(_ id: UUID) async throws -> Incident? {
        guard let data = try await client.execute(HGET(Self.incidentKey(id), field: "data")) else { return nil }
        do {
            return try Self.decoder.decode(Incident.self, from: Data(data.readableBytesView))
        } catch {
            undecodable.value.add(1, ordering: .relaxed)
            logger.error("skipping an incident that does not decode", metadata: [
                "incident": "\(id.uuidString.lowercased())", "error": "\(error)",
            ])
            return nil
        }
    }

    public func list(offset: Int, limit: Int) async throws -> IncidentPage {
        // Index entries of incidents past their retention point at keys that have expired: drop them first.
        let cutoff = (Date().timeIntervalSince1970 - Double(retentionSeconds)) * 1000
        _ = try await client.execute(ZREMRANGEBYSCORE(Self.indexKey, min: .negativeInfinity, max: .exclusive(cutoff)))
        let total = try await client.execute(ZCARD(Self.indexKey))
        guard limit > 0, offset < total else { return IncidentPage(incidents: [], total: total) }
        let ids = try await client.execute(ZREVRANGE(Self.indexKey, start: offset, stop: offset + limit - 1))
        return IncidentPage(incidents: try await fetch(ids.compactMap(UUID.init(uuidString:))), total: total)
    }

    public func openIncidents() async throws -> [Incident] {
        let ids = try await client.execute(SMEMBERS(Self.openKey)).compactMap(UUID.init(uuidString:))
        let incidents = try await fetch(ids)
        let gone = Set(ids).subtracting(incidents.map(\.id))
        if !gone.isEmpty {
            _ = try await client.execute(SREM(Self.openKey, members: gone.map { $0.uuidString.lowercased() }))
        }
        return incidents.filter { !$0.state.isClosed }.sorted { $0.createdAt < $1.createdAt }
    }

    /// The incidents with these ids that still exist, in the order given; the reads are pipelined.
    private func fetch(_ ids: [UUID]) async throws -> [Incident] {
        try await withThrowingTaskGroup(of: (Int, Incident?).self) { group in
            for (index, id) in ids.enumerated() {
                group.addTask { (index, try await incident(id)) }
            }
            var found = [Incident?](repeating: nil, count: ids.count)
            for try await (index, incident) in group { found[index] = incident }
            return found.compactMap { $0 }
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()
}

/// The count behind `RedisIncidentStore.undecodableIncidents`, shared by copies of the store.
private final class UndecodableCount: Sendable {
    let value = Atomic<Int>(0)
}
