/// The one error type of EuphrosyneRedis: every `throws(RedisError)` in the library, from the RESP codec to
/// ``RedisClient/execute(_:)``, throws this. Callers branch on ``code`` (compare with `==` against the static
/// members); ``message`` carries the server's own text for server errors.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so that adding a code never breaks a caller's
    /// exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionClosed, connectionFailed, timeout, serverError, protocolError, authenticationFailed
            case unexpectedResponse, notConnected, invalidConfiguration, cancelled
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection went away while the request was in flight (or before it was answered).
        public static let connectionClosed = Code(.connectionClosed)
        /// The TCP connection could not be opened (refused, unresolvable host…).
        public static let connectionFailed = Code(.connectionFailed)
        /// No answer within the configured deadline (connect or command).
        public static let timeout = Code(.timeout)
        /// The server answered with an error reply (`-ERR …`, `-WRONGTYPE …`); ``RedisError/message`` holds its text.
        public static let serverError = Code(.serverError)
        /// The peer sent bytes that are not valid RESP; the connection is closed.
        public static let protocolError = Code(.protocolError)
        /// `HELLO … AUTH` / `AUTH` was refused; ``RedisError/message`` holds the server's text.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// A valid reply of a type the caller's response type cannot be decoded from.
        public static let unexpectedResponse = Code(.unexpectedResponse)
        /// The client had no connection and none came up within the command timeout.
        public static let notConnected = Code(.notConnected)
        /// A configuration or address string that cannot be used.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The calling task was cancelled while waiting.
        public static let cancelled = Code(.cancelled)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// Human-readable detail; for ``Code/serverError`` and ``Code/authenticationFailed`` the server's error text,
    /// e.g. `WRONGPASS invalid username-password pair or user is disabled.`
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, message: String = "", underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The first word of a server error (`ERR`, `WRONGTYPE`, `NOAUTH`, `NOPERM`…), when this error came from the server.
    public var serverErrorPrefix: String? {
        guard code == .serverError || code == .authenticationFailed, !message.isEmpty else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// Equality is on the code alone: the message is detail for people, not for branching.
    public static func == (lhs: RedisError, rhs: RedisError) -> Bool { lhs.code == rhs.code }

    public var description: String {
        var text = "RedisError(\(code)"
        if !message.isEmpty { text += ": \(message)" }
        if let underlying { text += ", underlying: \(underlying)" }
        return text + ")"
    }
}
