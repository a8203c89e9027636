import Logging
import NIOCore

extension RedisConnection {
    /// Brings a fresh channel to a usable state: `HELLO 3 [AUTH u p] [SETNAME n]` in one round trip, or — for
    /// `.resp2` or a server that answers `-NOPROTO` / unknown command — `AUTH` and `CLIENT SETNAME` separately;
    /// then `SELECT db` when the database is not 0.
    static func setUp(channel: any Channel, configuration: RedisConfiguration, logger: Logger) async throws(RedisError) -> RedisConnection {
        // Handshake replies are read through the same request path, before the protocol is known.
        let probe = RedisConnection(channel: channel, protocolVersion: 2, commandTimeout: configuration.commandTimeout, logger: logger)
        var protocolVersion = 2
        if configuration.protocolPreference == .resp3IfAvailable {
            let hello = HELLO(
                protocolVersion: 3, username: configuration.username, password: configuration.password,
                clientName: configuration.clientName
            )
            let reply = try await probe.send(encoded(hello))
            if let message = reply.errorMessage {
                let prefix = message.split(separator: " ", maxSplits: 1).first ?? ""
                if prefix == "NOPROTO" || message.lowercased().hasPrefix("err unknown command") {
                    logger.info("Redis server does not speak RESP3, using RESP2", metadata: ["reply": "\(message)"])
                } else {
                    throw authenticationError(message)
                }
            } else {
                protocolVersion = 3
            }
        }
        if protocolVersion == 2 {
            if let password = configuration.password {
                let auth = configuration.username.map { AUTH(username: $0, password: password) } ?? AUTH(password: password)
                let reply = try await probe.send(encoded(auth))
                if let message = reply.errorMessage { throw authenticationError(message) }
            }
            if let name = configuration.clientName {
                _ = try RedisOK(fromRESP: try await probe.send(encoded(CLIENT.SETNAME(name))))
            }
        }
        if configuration.database != 0 {
            _ = try RedisOK(fromRESP: try await probe.send(encoded(SELECT(configuration.database))))
        }
        logger.debug("Redis connection ready", metadata: ["protocol": "\(protocolVersion)", "server": "\(configuration.host):\(configuration.port)"])
        return RedisConnection(channel: channel, protocolVersion: protocolVersion, commandTimeout: configuration.commandTimeout, logger: logger)
    }

    private static func encoded(_ command: some RedisCommand) -> ByteBuffer {
        var encoder = RESPCommandEncoder()
        command.encode(into: &encoder)
        return encoder.buffer
    }

    /// Errors during the handshake before SELECT are the server refusing us: NOAUTH, WRONGPASS, "AUTH called
    /// without any password configured", or a disabled user.
    private static func authenticationError(_ message: String) -> RedisError {
        RedisError(.authenticationFailed, message: message)
    }
}
