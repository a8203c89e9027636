import NIOCore

// List, hash and set commands.

/// `RPUSH key element [element …]`: the list's length afterwards.
public struct RPUSH: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var elements: [ByteBuffer]

    public init(_ key: String, elements: [ByteBuffer]) {
        self.key = key
        self.elements = elements
    }

    public init(_ key: String, _ elements: String...) {
        self.init(key, elements: elements.map { ByteBuffer(string: $0) })
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["RPUSH", key] + elements) }
}

/// `LRANGE key start stop` (inclusive, negative counts from the end).
public struct LRANGE: RedisCommand {
    public typealias Response = [ByteBuffer]
    public var key: String
    public var start: Int
    public var stop: Int

    public init(_ key: String, start: Int, stop: Int) {
        self.key = key
        self.start = start
        self.stop = stop
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("LRANGE", key, start, stop) }
}

/// `LLEN key`.
public struct LLEN: RedisCommand {
    public typealias Response = Int
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("LLEN", key) }
}

/// `HSET key field value [field value …]`: how many fields were added (not updated).
public struct HSET: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var fields: [(field: String, value: ByteBuffer)]

    public init(_ key: String, fields: [(field: String, value: ByteBuffer)]) {
        self.key = key
        self.fields = fields
    }

    public init(_ key: String, _ fields: KeyValuePairs<String, String>) {
        self.init(key, fields: fields.map { (field: $0.key, value: ByteBuffer(string: $0.value)) })
    }

    public func encode(into encoder: inout RESPCommandEncoder) {
        var parts: [any RESPBulkStringEncodable] = ["HSET", key]
        for (field, value) in fields { parts += [field, value] }
        encoder.encodeArray(parts)
    }
}

/// `HGET key field`: the value, or `nil`.
public struct HGET: RedisCommand {
    public typealias Response = ByteBuffer?
    public var key: String
    public var field: String

    public init(_ key: String, field: String) {
        self.key = key
        self.field = field
    }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("HGET", key, field) }
}

/// `HGETALL key`: every field and value (empty for a missing key).
public struct HGETALL: RedisCommand {
    public typealias Response = [String: ByteBuffer]
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("HGETALL", key) }
}

/// `SADD key member [member …]`: how many members were new.
public struct SADD: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var members: [String]

    public init(_ key: String, members: [String]) {
        self.key = key
        self.members = members
    }

    public init(_ key: String, _ members: String...) { self.init(key, members: members) }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["SADD", key] + members) }
}

/// `SREM key member [member …]`: how many members were removed.
public struct SREM: RedisCommand {
    public typealias Response = Int
    public var key: String
    public var members: [String]

    public init(_ key: String, members: [String]) {
        self.key = key
        self.members = members
    }

    public init(_ key: String, _ members: String...) { self.init(key, members: members) }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(["SREM", key] + members) }
}

/// `SMEMBERS key`: all members, in no particular order.
public struct SMEMBERS: RedisCommand {
    public typealias Response = [String]
    public var key: String

    public init(_ key: String) { self.key = key }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("SMEMBERS", key) }
}
