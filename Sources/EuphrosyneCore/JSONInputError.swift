/// Why an inbound JSON body was rejected.
///
/// Thrown by `JSONValue.parseObject(_:)` and `AlertNotification.decode(_:)`; the webhook
/// listener turns it into a 400 response, so `description` is written for the sender.
public struct JSONInputError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What is wrong, e.g. `malformed JSON: ...` or `expected a JSON object, got an array`.
    public var message: String
    /// Where in the document the problem is, e.g. `alerts[0].labels`, when known.
    public var path: String?

    public init(message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }

    public var description: String {
        guard let path, !path.isEmpty else { return message }
        return "\(path): \(message)"
    }
}
