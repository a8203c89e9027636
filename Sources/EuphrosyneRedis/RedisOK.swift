/// The `+OK` status reply. The response type of commands that answer only "done" (SELECT, AUTH, SET without
/// conditions…); decoding anything else fails, so a caller of such a command learns about surprises.
public struct RedisOK: RESPTokenDecodable, Hashable, Sendable {
    public init() {}

    public init(fromRESP token: RESPToken) throws(RedisError) {
        try token.throwIfError()
        guard case .simpleString(let text) = token.value, String(buffer: text) == "OK" else {
            throw token.unexpected("+OK")
        }
    }
}
