/// Why an Alertmanager label matcher (or a list of them) could not be parsed.
///
/// Thrown by `AlertMatcher(parsing:)`, `AlertMatcher(name:type:value:)` and `AlertMatchers(parsing:)`.
/// Matchers come from operators (the recipe catalog, the API), so the message is meant to be shown to
/// them as is: it quotes the offending text and names the problem, e.g.
/// `bad matcher "severity~info": expected one of =, !=, =~, !~ after the label name`.
public struct AlertMatcherError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }

    /// A problem with one matcher, quoting the matcher's own text.
    static func matcher(_ text: String, _ problem: String) -> AlertMatcherError {
        AlertMatcherError(message: "bad matcher \(AlertMatcher.quoted(text)): \(problem)")
    }

    /// A problem with the list as a whole (braces, commas), quoting the whole list.
    static func list(_ text: String, _ problem: String) -> AlertMatcherError {
        AlertMatcherError(message: "bad matchers \(AlertMatcher.quoted(text)): \(problem)")
    }
}
