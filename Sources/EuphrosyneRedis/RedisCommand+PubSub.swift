import NIOCore

// Pub/sub and scripting commands the app sends through RedisClient. SUBSCRIBE/UNSUBSCRIBE are internal: only
// RedisSubscriber sends them, on its own connection, because their replies do not follow request/response.

/// `PUBLISH channel message`: how many subscribers received it (on this server).
public struct PUBLISH: RedisCommand {
    public typealias Response = Int
    public var channel: String
    public var message: ByteBuffer

    public init(_ channel: String, message: ByteBuffer) {
        self.channel = channel
        self.message = message
    }

    public init(_ channel: String, message: String) { self.init(channel, message: ByteBuffer(string: message)) }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("PUBLISH", channel, message) }
}

/// `EVAL script numkeys key… arg…`: runs a Lua script; the reply is whatever the script returns.
public struct EVAL: RedisCommand {
    public typealias Response = RESPToken
    public var script: String
    public var keys: [String]
    public var arguments: [String]

    public init(_ script: String, keys: [String] = [], arguments: [String] = []) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
    }

    public func encode(into encoder: inout RESPCommandEncoder) {
        var parts: [any RESPBulkStringEncodable] = ["EVAL", script, keys.count]
        parts += keys
        parts += arguments
        encoder.encodeArray(parts)
    }
}

/// `SUBSCRIBE` / `UNSUBSCRIBE` with many channels, as RedisSubscriber sends them. No response type: the server
/// answers with one confirmation per channel, which the connection handler counts.
struct PubSubCommand: Sendable {
    enum Kind: String, Sendable {
        case subscribe
        case unsubscribe
    }

    var kind: Kind
    var channels: [String]

    func encode(into encoder: inout RESPCommandEncoder) {
        encoder.encodeArray([kind.rawValue.uppercased()] + channels)
    }
}
