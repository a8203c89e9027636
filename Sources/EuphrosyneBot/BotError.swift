/// The one error of `BotNotifier`: a notification the original bot did not take. Callers branch on ``code``.
/// Shaped like `RedisError`, `KubernetesError` and `WebexError`.
public struct BotError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so that adding a code never breaks a caller's
    /// exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case refused, unreachable, invalidRequest
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The bot answered a `4xx` other than `429`: not retried; ``BotError/statusCode`` says which.
        public static let refused = Code(.refused)
        /// Transport errors, `429` or `5xx` until the retry policy gave up; ``BotError/message`` holds the last
        /// problem.
        public static let unreachable = Code(.unreachable)
        /// The notification could not be encoded; nothing was sent.
        public static let invalidRequest = Code(.invalidRequest)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The bot's path: `/api/analysis` or `/api/status`.
    public var path: String
    /// The HTTP status the bot answered with, when it answered.
    public var statusCode: Int?
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, path: String, statusCode: Int? = nil, message: String = "", underlying: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.statusCode = statusCode
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var text = "BotError(\(code), POST \(path)"
        if let statusCode { text += ", status \(statusCode)" }
        if !message.isEmpty { text += ": \(message)" }
        if let underlying { text += ", underlying: \(underlying)" }
        return text + ")"
    }
}
