/// The one error of `WebexClient`: every call throws this (or `CancellationError` when its task is cancelled).
/// Callers branch on ``code``; ``statusCode``, ``message`` and ``trackingID`` carry what Webex said, for people and
/// for Webex support. Shaped like `RedisError` and `KubernetesError`.
public struct WebexError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so that adding a code never breaks a caller's
    /// exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case refused, unreachable, unexpectedAnswer, invalidRequest
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Webex answered a `4xx` other than `429` (a wrong token, an unknown room, a message too long): not
        /// retried. ``WebexError/statusCode`` and ``WebexError/message`` say why.
        public static let refused = Code(.refused)
        /// Transport errors, `429` or `5xx` until the retry policy gave up; ``WebexError/message`` holds the last
        /// problem.
        public static let unreachable = Code(.unreachable)
        /// A `2xx` whose body is not what the API documents; ``WebexError/underlying`` is the decoding error.
        public static let unexpectedAnswer = Code(.unexpectedAnswer)
        /// The request body could not be encoded; nothing was sent.
        public static let invalidRequest = Code(.invalidRequest)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The request, as `METHOD /path` (never the token, which is a header).
    public var request: String
    /// The HTTP status Webex answered with, when it answered.
    public var statusCode: Int?
    /// Webex's own `message`, or what went wrong.
    public var message: String
    /// Webex's `trackingId` header, which its support asks for.
    public var trackingID: String?
    public var underlying: (any Error)?

    public init(_ code: Code, request: String, statusCode: Int? = nil, message: String = "", trackingID: String? = nil,
                underlying: (any Error)? = nil) {
        self.code = code
        self.request = request
        self.statusCode = statusCode
        self.message = message
        self.trackingID = trackingID
        self.underlying = underlying
    }

    public var description: String {
        var text = "WebexError(\(code), \(request)"
        if let statusCode { text += ", status \(statusCode)" }
        if !message.isEmpty { text += ": \(message)" }
        if let trackingID { text += " (trackingId \(trackingID))" }
        if let underlying { text += ", underlying: \(underlying)" }
        return text + ")"
    }
}
