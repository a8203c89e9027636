import NIOCore

// Sorted-set commands.

/// `ZADD key score member [score member …]`: how many members were added (not updated).
public struct ZADD: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var members: [(score: Double, member: String)]

    public init(_ key: String, members: [(score: Double, member: String)]) {
        self.key = key
        self.members = members
    }

    public init(_ key: String, score: Double, member: String) { self.init(key, members: [(score, member)]) }

    public func encode(into encoder: inout RESPCommandEncoder) {
        var parts: [any RESPBulkStringEncodable] = ["ZADD", key]
        for (score, member) in members { parts += [score, member] }
        encoder.encodeArray(parts)
    }
}

/// `ZREM key member [member …]`: how many members were removed.
public struct ZREM: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var members: [String]

    public init(_ key: String, members: [String]) {
        self.key = key
        self.members = members
    }

    public init(_ key: String, _ members: String...) { self.init(key, members: members) }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["ZREM", key] + members) }
}

/// `ZREVRANGE key start stop`: members by rank, highest score first.
public struct ZREVRANGE: RedisCommand {
    public typealias Response = [String]
    public var key: String
    public var start: Int
    public var stop: Int

    public init(_ key: String, start: Int, stop: Int) {
        self.key = key
        self.start = start
        self.stop = stop
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("ZREVRANGE", key, start, stop) }
}

/// `ZCARD key`: the number of members.
public struct ZCARD: RedisCommand {
    public typealias Response = Int
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("ZCARD", key) }
}

/// `ZREMRANGEBYSCORE key min max`: how many members were removed.
public struct ZREMRANGEBYSCORE: RedisCommand {
    public typealias Response = Int

    /// One end of a score range, as Redis spells it: `5`, `(5` (exclusive), `-inf`, `+inf`.
    public enum Bound: Hashable, Sendable, RESPBulkStringEncodable {
        case inclusive(Double)
        case exclusive(Double)
        case negativeInfinity
        case positiveInfinity

        public func encodeBulkString(into buffer: inout ByteBuffer) {
            switch self {
            case .inclusive(let score): score.encodeBulkString(into: &buffer)
            case .exclusive(let score): ("(" + (score.isInfinite ? (score > 0 ? "+inf" : "-inf") : String(score))).encodeBulkString(into: &buffer)
            case .negativeInfinity: "-inf".encodeBulkString(into: &buffer)
            case .positiveInfinity: "+inf".encodeBulkString(into: &buffer)
            }
        }
    }

    public var key: String
    public var min: Bound
    public var max: Bound

    public init(_ key: String, min: Bound, max: Bound) {
        self.key = key
        self.min = min
        self.max = max
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("ZREMRANGEBYSCORE", key, min, max) }
}
