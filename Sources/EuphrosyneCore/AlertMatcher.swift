import Synchronization

/// One label matcher in Alertmanager's syntax, such as `alertname=~"HTTP.*"`, `severity!="info"` or
/// `namespace=prod`.
///
/// Euphrosyne uses matchers to decide which alerts a recipe (or any other rule keyed on alerts) applies
/// to; they are written by operators in the same syntax they already use in Alertmanager routes and
/// silences, so the semantics follow Alertmanager's `pkg/labels` exactly:
/// - a label the alert does not carry counts as the empty string, so `team=""` matches an alert without
///   `team` and `team!=""` requires it to be present and non-empty;
/// - regular expressions are fully anchored: `alertname=~"HTTP"` does not match `HTTPErrors`;
/// - `!=` and `!~` are the exact negations of `=` and `=~`.
///
/// The regular expression is compiled once, when the matcher is built, so a bad pattern is reported to
/// whoever wrote it rather than silently never matching.
public struct AlertMatcher: Sendable, Hashable, CustomStringConvertible {
    /// The four operators Alertmanager accepts; the raw value is the operator as written.
    public enum MatchType: String, Sendable, Hashable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case regexMatch = "=~"
        case regexNoMatch = "!~"

        var isRegex: Bool { self == .regexMatch || self == .regexNoMatch }
    }

    public let name: String
    public let type: MatchType
    /// The unescaped value: the literal to compare for `=`/`!=`, the pattern (unanchored, as written)
    /// for `=~`/`!~`.
    public let value: String
    /// Set exactly when `type.isRegex`.
    private let regex: AnchoredRegex?

    /// Builds a matcher from its parts, checking the label name and compiling the pattern of a regex
    /// matcher. Used by code that assembles matchers itself rather than parsing operator input.
    public init(name: String, type: MatchType, value: String) throws(AlertMatcherError) {
        let text = name + type.rawValue + Self.quoted(value)
        try self.init(name: name, type: type, value: value, text: text)
    }

    /// Parses one matcher, e.g. `alertname=~"HTTP.*"` or `namespace = prod`.
    ///
    /// Values may be double-quoted (with `\"`, `\\` and `\n` escapes; any other backslash is kept
    /// literally, as Alertmanager does, so `"\d+"` is the pattern `\d+`) or unquoted (Alertmanager
    /// 0.22+), in which case the value is the rest of the text, trimmed. Unquoted values may not contain
    /// `"`, `,`, `{` or `}`: those belong to the list syntax and must be quoted.
    public init(parsing text: String) throws(AlertMatcherError) {
        let parts = try Self.parseParts(text)
        try self.init(name: parts.name, type: parts.type, value: parts.value, text: parts.text)
    }

    private init(name: String, type: MatchType, value: String, text: String) throws(AlertMatcherError) {
        guard !name.isEmpty else { throw .matcher(text, "empty label name") }
        guard Self.isValidLabelName(name) else {
            throw .matcher(text, "invalid label name \(Self.quoted(name)): must match [a-zA-Z_][a-zA-Z0-9_]*")
        }
        self.name = name
        self.type = type
        self.value = value
        if type.isRegex {
            do {
                regex = try AnchoredRegex(pattern: value)
            } catch {
                throw .matcher(text, "invalid regular expression: \(error)")
            }
        } else {
            regex = nil
        }
    }

    /// Whether an alert with these labels satisfies the matcher; a missing label counts as "".
    public func matches(_ labels: [String: String]) -> Bool {
        let actual = labels[name] ?? ""
        switch type {
        case .equal: return Self.sameScalars(actual, value)
        case .notEqual: return !Self.sameScalars(actual, value)
        case .regexMatch: return regex?.matches(actual) ?? false
        case .regexNoMatch: return !(regex?.matches(actual) ?? false)
        }
    }

    /// The canonical form, `name<op>"value"` with the value quoted and escaped; parsing it gives back an
    /// equal matcher, so it is safe to store or show to operators.
    public var description: String {
        name + type.rawValue + Self.quoted(value)
    }

    // Equality is on what the operator wrote (name, operator, value), never on the compiled regex.
    // Values compare by Unicode scalars, not by Swift's canonical equivalence, because matching does
    // too: Alertmanager compares bytes, so "é" and "e\u{301}" are different matchers.
    public static func == (lhs: AlertMatcher, rhs: AlertMatcher) -> Bool {
        lhs.name == rhs.name && lhs.type == rhs.type && sameScalars(lhs.value, rhs.value)
    }

    public func hash(into hasher: inout Hasher) {
        // String's hash follows canonical equivalence, which is coarser than `==` above and so consistent.
        hasher.combine(name)
        hasher.combine(type)
        hasher.combine(value)
    }
}

// MARK: - Parsing

extension AlertMatcher {
    private struct Parts {
        var text: String
        var name: String
        var type: MatchType
        var value: String
    }

    /// Splits one matcher into name, operator and unescaped value. Works on Unicode scalars, like
    /// Alertmanager's loop over runes, so a combining mark after a quote cannot hide the quote.
    private static func parseParts(_ raw: String) throws(AlertMatcherError) -> Parts {
        let scalars = trimmed(Array(raw.unicodeScalars))
        let text = String(String.UnicodeScalarView(scalars))
        guard !scalars.isEmpty else { throw .matcher(text, "empty matcher") }

        var index = 0
        // The name runs to the operator or whitespace; validity is checked afterwards so that
        // `foo-bar="x"` is reported as a bad name rather than a missing operator.
        while index < scalars.count, !"=!~".unicodeScalars.contains(scalars[index]),
              !scalars[index].properties.isWhitespace {
            index += 1
        }
        let name = String(String.UnicodeScalarView(scalars[..<index]))
        guard !name.isEmpty else { throw .matcher(text, "empty label name") }
        guard isValidLabelName(name) else {
            throw .matcher(text, "invalid label name \(quoted(name)): must match [a-zA-Z_][a-zA-Z0-9_]*")
        }
        index = skipWhitespace(scalars, from: index)

        let type: MatchType
        let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
        switch (index < scalars.count ? scalars[index] : nil, next) {
        case ("=", "~"): type = .regexMatch
        case ("=", _): type = .equal
        case ("!", "="): type = .notEqual
        case ("!", "~"): type = .regexNoMatch
        default: throw .matcher(text, "expected one of =, !=, =~, !~ after the label name")
        }
        index = skipWhitespace(scalars, from: index + type.rawValue.unicodeScalars.count)

        let rest = scalars[index...]
        let value: String
        if rest.first == "\"" {
            value = try parseQuoted(rest.dropFirst(), text: text)
        } else {
            value = try parseUnquoted(rest, text: text)
        }
        return Parts(text: text, name: name, type: type, value: value)
    }

    /// The body of a quoted value, starting after the opening quote; only whitespace may follow the
    /// closing quote.
    private static func parseQuoted(_ body: ArraySlice<Unicode.Scalar>, text: String) throws(AlertMatcherError) -> String {
        var value = String.UnicodeScalarView()
        var index = body.startIndex
        while index < body.endIndex {
            let scalar = body[index]
            if scalar == "\\", index + 1 < body.endIndex {
                appendEscape(body[index + 1], to: &value)
                index += 2
                continue
            }
            if scalar == "\"" {
                guard body[(index + 1)...].allSatisfy(\.properties.isWhitespace) else {
                    throw .matcher(text, "unexpected text after the closing quote")
                }
                return String(value)
            }
            value.append(scalar)
            index += 1
        }
        throw .matcher(text, "unterminated quoted value")
    }

    /// An unquoted value (already trimmed, as the whole matcher is). Escapes are honoured as in quoted
    /// values, matching Alertmanager, which unescapes both forms the same way.
    private static func parseUnquoted(_ body: ArraySlice<Unicode.Scalar>, text: String) throws(AlertMatcherError) -> String {
        var value = String.UnicodeScalarView()
        var index = body.startIndex
        while index < body.endIndex {
            let scalar = body[index]
            if scalar == "\\", index + 1 < body.endIndex {
                appendEscape(body[index + 1], to: &value)
                index += 2
                continue
            }
            switch scalar {
            case "\"":
                throw .matcher(text, "unquoted value contains a double quote; quote the value and write it as \\\"")
            case ",", "{", "}":
                throw .matcher(text, "unquoted value contains \"\(scalar)\"; quote values that contain commas or braces")
            default:
                value.append(scalar)
            }
            index += 1
        }
        return String(value)
    }

    /// Alertmanager's escapes: `\n`, `\"`, `\\`; any other escape is a literal backslash plus the
    /// character, which keeps regex escapes such as `\d` and `\.` working inside quotes.
    private static func appendEscape(_ scalar: Unicode.Scalar, to value: inout String.UnicodeScalarView) {
        switch scalar {
        case "n": value.append("\n")
        case "\"", "\\": value.append(scalar)
        default:
            value.append("\\")
            value.append(scalar)
        }
    }

    /// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`, ASCII only.
    static func isValidLabelName(_ name: String) -> Bool {
        var scalars = name.unicodeScalars.makeIterator()
        guard let first = scalars.next(), first == "_" || isASCIILetter(first) else { return false }
        while let scalar = scalars.next() {
            guard scalar == "_" || isASCIILetter(scalar) || ("0"..."9").contains(scalar) else { return false }
        }
        return true
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    static func trimmed(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return [] }
        return Array(scalars[start...end])
    }

    private static func skipWhitespace(_ scalars: [Unicode.Scalar], from start: Int) -> Int {
        var index = start
        while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
        return index
    }

    /// `"..."` with `\`, `"` and newlines escaped: the inverse of the quoted-value parser, also used to
    /// quote offending text in error messages.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    static func sameScalars(_ lhs: String, _ rhs: String) -> Bool {
        lhs.unicodeScalars.elementsEqual(rhs.unicodeScalars)
    }
}

// MARK: - Regular expressions

extension AlertMatcher {
    /// A compiled, fully anchored pattern.
    ///
    /// `Regex<AnyRegexOutput>` is not `Sendable`, so it lives behind a `Mutex`; a `final class` holding
    /// only the mutex is `Sendable` without `@unchecked`. Matching is short and alert rates are low, so
    /// serialising concurrent matches of the same matcher costs nothing that matters, whereas
    /// recompiling the pattern on every call would.
    private final class AnchoredRegex: Sendable {
        private let compiled: Mutex<Regex<AnyRegexOutput>>

        init(pattern: String) throws {
            // Compile the pattern on its own first: wrapped, a pattern like `a)|(b` would compile as
            // `^(?:a)|(b)$` and silently lose its anchoring.
            _ = try Regex(pattern)
            // Anchored as Prometheus does, and matched with `wholeMatch` as well so that `$` cannot
            // accept a trailing newline. Unicode-scalar semantics mirror RE2, which matches runes:
            // `.` is one code point, not one grapheme cluster.
            let regex = try Regex("^(?:" + pattern + ")$").matchingSemantics(.unicodeScalar)
            compiled = Mutex(regex)
        }

        func matches(_ value: String) -> Bool {
            compiled.withLock { value.wholeMatch(of: $0) != nil }
        }
    }
}
