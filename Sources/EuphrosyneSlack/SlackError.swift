/// The one error of `SlackClient`: every call throws this (or `CancellationError` when its task is cancelled).
/// Callers branch on ``code``; ``error`` is Slack's own error string (`channel_not_found`, `missing_scope`, …).
/// Shaped like `WebexError`.
public struct SlackError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so that adding a code never breaks a caller's
    /// exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case refused, unreachable, unexpectedAnswer, invalidRequest
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Slack answered `{"ok": false}` (with HTTP 200, as it does for most failures) or a `4xx` other than `429`:
        /// not retried. ``SlackError/error`` says why.
        public static let refused = Code(.refused)
        /// Transport errors, `429` or `5xx` until the retry policy gave up.
        public static let unreachable = Code(.unreachable)
        /// An answer that is not Slack's JSON envelope, or lacks what the method documents.
        public static let unexpectedAnswer = Code(.unexpectedAnswer)
        /// The request body could not be encoded; nothing was sent.
        public static let invalidRequest = Code(.invalidRequest)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The Web API method, e.g. `chat.postMessage` (never the token, which is a header).
    public var method: String
    /// The HTTP status, when Slack answered.
    public var statusCode: Int?
    /// Slack's `error` (`channel_not_found`), or what went wrong.
    public var error: String
    /// For `missing_scope`: the scope the method needs and those the token has.
    public var needed: String?
    public var provided: String?

    public init(_ code: Code, method: String, statusCode: Int? = nil, error: String, needed: String? = nil,
                provided: String? = nil) {
        self.code = code
        self.method = method
        self.statusCode = statusCode
        self.error = error
        self.needed = needed
        self.provided = provided
    }

    public var description: String {
        var text = "SlackError(\(code), \(method)"
        if let statusCode { text += ", status \(statusCode)" }
        text += ": \(error)"
        if let needed { text += "; needs scope \(needed)" + (provided.map { ", the token has \($0)" } ?? "") }
        return text + ")"
    }
}
