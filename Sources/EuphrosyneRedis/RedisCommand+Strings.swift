import NIOCore

// String and generic key commands.

/// `GET key`: the value, or `nil` when the key does not exist.
public struct GET: RedisCommand {
    public typealias Response = ByteBuffer?
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("GET", key) }
}

/// `SET key value [NX|XX] [EX seconds|PX milliseconds]`. Answers `RedisOK` when set and `nil` when an NX/XX
/// condition was not met.
public struct SET: RedisCommand {
    public typealias Response = RedisOK?

    /// How long the key lives.
    public enum Expiration: Hashable, Sendable {
        case seconds(Int)
        case milliseconds(Int)
    }

    /// When the write happens.
    public enum Condition: Hashable, Sendable {
        case always
        /// `NX`: only if the key does not exist yet.
        case ifNotExists
        /// `XX`: only if the key already exists.
        case ifExists
    }

    public var key: String
    public var value: ByteBuffer
    public var expiration: Expiration?
    public var condition: Condition

    public init(_ key: String, value: ByteBuffer, expiration: Expiration? = nil, condition: Condition = .always) {
        self.key = key
        self.value = value
        self.expiration = expiration
        self.condition = condition
    }

    public init(_ key: String, value: String, expiration: Expiration? = nil, condition: Condition = .always) {
        self.init(key, value: ByteBuffer(string: value), expiration: expiration, condition: condition)
    }

    public func encode(into encoder: inout RESPCommandEncoder) {
        var parts: [any RESPBulkStringEncodable] = ["SET", key, value]
        switch expiration {
        case .seconds(let seconds): parts += ["EX", seconds]
        case .milliseconds(let milliseconds): parts += ["PX", milliseconds]
        case nil: break
        }
        switch condition {
        case .always: break
        case .ifNotExists: parts.append("NX")
        case .ifExists: parts.append("XX")
        }
        encoder.encodeArray(parts)
    }
}

/// `DEL key [key …]`: how many keys were removed.
public struct DEL: RedisCommand {
    public typealias Response = Int
    public var keys: [String]

    public init(_ keys: [String]) { self.keys = keys }
    public init(_ keys: String...) { self.keys = keys }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["DEL"] + keys) }
}

/// `EXISTS key [key …]`: how many of the keys exist.
public struct EXISTS: RedisCommand {
    public typealias Response = Int
    public var keys: [String]

    public init(_ keys: [String]) { self.keys = keys }
    public init(_ keys: String...) { self.keys = keys }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["EXISTS"] + keys) }
}

/// `EXPIRE key seconds`: `true` when the timeout was set (the key exists).
public struct EXPIRE: RedisCommand {
    public typealias Response = Bool
    public var key: String
    public var seconds: Int

    public init(_ key: String, seconds: Int) {
        self.key = key
        self.seconds = seconds
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("EXPIRE", key, seconds) }
}

/// `TTL key`: seconds to live, `-1` without expiry, `-2` when the key does not exist.
public struct TTL: RedisCommand {
    public typealias Response = Int
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("TTL", key) }
}
