/// Where and how to connect to Redis: address, credentials, database, protocol, timeouts and reconnect back-off.
/// Built by the app from its settings (often with ``init(address:)``) and given to ``RedisClient`` and
/// ``RedisSubscriber``. The password is never logged and never appears in ``description``.
public struct RedisConfiguration: Sendable, CustomStringConvertible, CustomReflectable {
    /// Which RESP version to speak.
    public enum ProtocolPreference: Hashable, Sendable {
        /// `HELLO 3` first; fall back to RESP2 (with a separate `AUTH`) when the server refuses it.
        case resp3IfAvailable
        /// Never send HELLO: RESP2 with `AUTH`, `CLIENT SETNAME`, as for old servers and proxies.
        case resp2
    }

    public var host: String
    public var port: Int
    /// An ACL user; `nil` with a password means the `default` user (`requirepass`).
    public var username: String?
    public var password: String?
    public var database: Int
    public var protocolPreference: ProtocolPreference
    public var connectTimeout: Duration
    /// How long one command may wait for its reply — and, while disconnected, for a connection.
    public var commandTimeout: Duration
    public var reconnectBackoff: RedisReconnectBackoff
    /// Shown by `CLIENT LIST`, to tell our connections apart on a shared server.
    public var clientName: String?

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        protocolPreference: ProtocolPreference = .resp3IfAvailable,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        reconnectBackoff: RedisReconnectBackoff = RedisReconnectBackoff(),
        clientName: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.protocolPreference = protocolPreference
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectBackoff = reconnectBackoff
        self.clientName = clientName
    }

    /// Everything but the password (shown only as set or not).
    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        var text = "redis://"
        if let username { text += username + (password == nil ? "@" : ":<redacted>@") } else if password != nil { text += ":<redacted>@" }
        text += "\(hostText):\(port)/\(database)"
        return text + " (\(protocolPreference == .resp2 ? "resp2" : "resp3"), name: \(clientName ?? "-"))"
    }

    /// Keeps `dump()` and debuggers from printing the password through the default mirror.
    public var customMirror: Mirror {
        Mirror(self, children: ["description": description], displayStyle: .struct)
    }
}

/// Exponential back-off with full jitter between reconnect attempts: attempt n waits a random duration in
/// `0 … min(initial × 2^(n-1), maximum)`. Full jitter spreads a fleet of clients out after a Redis restart.
public struct RedisReconnectBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The pause before reconnect attempt `attempt` (counted from 1).
    public func delay(forAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(initial * (1 << exponent), maximum)
        let ceilingSeconds = Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18
        guard ceilingSeconds > 0 else { return .zero }
        return .seconds(Double.random(in: 0...ceilingSeconds))
    }
}
