// Connection commands: the handshake (HELLO, AUTH, SELECT, CLIENT SETNAME) that RedisConnection runs on connect,
// and PING / CLIENT LIST for probes and diagnostics.

/// `PING [message]`: answers `PONG`, or echoes the message. Used for keep-alive and readiness checks.
public struct PING: RedisCommand {
    public typealias Response = String
    public var message: String?

    public init(_ message: String? = nil) { self.message = message }

    public func encode(into encoder: inout RESPCommandEncoder) {
        if let message { encoder.encodeArray("PING", message) } else { encoder.encodeArray("PING") }
    }
}

/// `HELLO protover [AUTH username password] [SETNAME name]`: switches protocol and, in the same round trip,
/// authenticates and names the connection. Sent first by ``RedisConnection``. Answers the server's properties
/// (server, version, proto, id, mode, role, modules) as a map.
public struct HELLO: RedisCommand, CustomStringConvertible {
    public typealias Response = [String: RESPToken]
    public var protocolVersion: Int
    public var username: String?
    public var password: String?
    public var clientName: String?

    /// `password` without `username` authenticates as the `default` user.
    public init(protocolVersion: Int, username: String? = nil, password: String? = nil, clientName: String? = nil) {
        self.protocolVersion = protocolVersion
        self.username = username
        self.password = password
        self.clientName = clientName
    }

    public func encode(into encoder: inout RESPCommandEncoder) {
        var parts: [any RESPBulkStringEncodable] = ["HELLO", protocolVersion]
        if let password { parts += ["AUTH", username ?? "default", password] }
        if let clientName { parts += ["SETNAME", clientName] }
        encoder.encodeArray(parts)
    }

    /// Never shows the password: commands end up in logs and test failures.
    public var description: String {
        "HELLO(\(protocolVersion), user: \(username ?? (password == nil ? "-" : "default")), password: \(password == nil ? "none" : "<redacted>"), name: \(clientName ?? "-"))"
    }
}

/// `AUTH [username] password`: the RESP2 way to authenticate, used when HELLO is unavailable or not wanted.
public struct AUTH: RedisCommand, CustomStringConvertible {
    public typealias Response = RedisOK
    public var username: String?
    public var password: String

    public init(password: String) {
        self.username = nil
        self.password = password
    }

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public func encode(into encoder: inout RESPCommandEncoder) {
        if let username { encoder.encodeArray("AUTH", username, password) } else { encoder.encodeArray("AUTH", password) }
    }

    /// Never shows the password.
    public var description: String { "AUTH(user: \(username ?? "-"), password: <redacted>)" }
}

/// `SELECT index`: switches the connection to a numbered database.
public struct SELECT: RedisCommand {
    public typealias Response = RedisOK
    public var index: Int

    public init(_ index: Int) { self.index = index }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("SELECT", index) }
}

/// The `CLIENT` subcommands the library uses.
public enum CLIENT {
    /// `CLIENT SETNAME name`: names the connection (shown by CLIENT LIST) on the RESP2 path.
    public struct SETNAME: RedisCommand {
        public typealias Response = RedisOK
        public var name: String

        public init(_ name: String) { self.name = name }

        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("CLIENT", "SETNAME", name) }
    }

    /// `CLIENT LIST`: one line per connection (`id=… addr=… name=… sub=…`), for diagnostics and tests.
    public struct LIST: RedisCommand {
        public typealias Response = String

        public init() {}

        public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray("CLIENT", "LIST") }
    }
}
