import NIOCore

/// A type a reply can be decoded into. Every ``RedisCommand`` names its `Response` as one of these, and
/// ``RedisClient/execute(_:)`` decodes the reply token with it. Conformances throw ``RedisError/Code/serverError``
/// (with the server's text) for error replies and ``RedisError/Code/unexpectedResponse`` for a reply of another shape.
public protocol RESPTokenDecodable {
    init(fromRESP token: RESPToken) throws(RedisError)
}

extension RESPToken {
    /// Throws the server error this token carries, if it is an error reply.
    func throwIfError() throws(RedisError) {
        if let message = errorMessage { throw RedisError(.serverError, message: message) }
    }

    func unexpected(_ expected: String) -> RedisError {
        RedisError(.unexpectedResponse, message: "expected \(expected), got \(self)")
    }
}

extension RESPToken: RESPTokenDecodable {
    /// The token itself; an error reply still throws, so raw commands surface server errors like typed ones.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        try token.throwIfError()
        self = token
    }
}

extension Optional: RESPTokenDecodable where Wrapped: RESPTokenDecodable {
    /// `nil` for any null (`$-1`, `*-1`, `_`), else the wrapped type's decoding.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        if case .null = token.value {
            self = .none
        } else {
            self = .some(try Wrapped(fromRESP: token))
        }
    }
}
