/// A list of Alertmanager label matchers that must all match (AND), such as
/// `{alertname=~"HTTP.*", severity!="info"}`.
///
/// This is the selector operators write to say which alerts something applies to — a recipe, a
/// routing rule — in the two forms Alertmanager's configuration uses: one string of comma-separated
/// matchers, optionally in braces, or a list of strings with one matcher each. An empty list matches
/// every alert, as an empty Alertmanager route does.
public struct AlertMatchers: Sendable, Hashable, CustomStringConvertible {
    public var matchers: [AlertMatcher]

    public init(_ matchers: [AlertMatcher] = []) {
        self.matchers = matchers
    }

    /// Parses `{a="x", b!~"y|z"}` or `a="x",b!~"y|z"`. Commas inside quoted values do not split.
    /// `""` and `{}` give the empty list; an empty entry (`a="x",` or `a="x",,b="y"`) is an error
    /// rather than being skipped, because it is almost always a matcher lost in editing.
    public init(parsing text: String) throws(AlertMatcherError) {
        var scalars = AlertMatcher.trimmed(Array(text.unicodeScalars))
        let shown = String(String.UnicodeScalarView(scalars))
        if scalars.first == "{" {
            guard scalars.count >= 2, scalars.last == "}" else { throw .list(shown, "missing closing \"}\"") }
            scalars = AlertMatcher.trimmed(Array(scalars.dropFirst().dropLast()))
        }
        guard !scalars.isEmpty else {
            self.init()
            return
        }

        let entries = Self.splitOnCommas(scalars)
        var matchers: [AlertMatcher] = []
        matchers.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            if entry.allSatisfy(\.properties.isWhitespace) {
                let problem =
                    if position == entries.count - 1 { "trailing comma" }
                    else if position == 0 { "leading comma" }
                    else { "empty matcher between commas" }
                throw .list(shown, problem)
            }
            matchers.append(try AlertMatcher(parsing: String(String.UnicodeScalarView(entry))))
        }
        self.init(matchers)
    }

    /// Parses a list with one matcher per string, as in Alertmanager's `matchers:` configuration
    /// lists; an empty array matches every alert.
    public init(parsing list: [String]) throws(AlertMatcherError) {
        var matchers: [AlertMatcher] = []
        matchers.reserveCapacity(list.count)
        for text in list {
            matchers.append(try AlertMatcher(parsing: text))
        }
        self.init(matchers)
    }

    /// Whether an alert with these labels satisfies every matcher.
    public func matches(_ labels: [String: String]) -> Bool {
        matchers.allSatisfy { $0.matches(labels) }
    }

    /// `{a="x", b!~"y|z"}`, which `init(parsing:)` reads back to an equal list.
    public var description: String {
        "{" + matchers.map(\.description).joined(separator: ", ") + "}"
    }

    /// Splits on commas outside double quotes, tracking backslash escapes so that `"a\",b"` stays whole.
    /// An unterminated quote simply runs to the end; the matcher parser then reports it.
    private static func splitOnCommas(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var entries: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        var insideQuotes = false
        var escaped = false
        for (index, scalar) in scalars.enumerated() {
            if escaped {
                escaped = false
                continue
            }
            switch scalar {
            case "\\": escaped = true
            case "\"": insideQuotes.toggle()
            case "," where !insideQuotes:
                entries.append(scalars[start..<index])
                start = index + 1
            default: break
            }
        }
        entries.append(scalars[start...])
        return entries
    }
}
