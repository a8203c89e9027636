import EuphrosyneCore
import Foundation

/// The pure parts of `prometheus-query`: where expressions come from (the alert's `generatorURL`, the configured
/// `PROMETHEUS_QUERIES`), the placeholders, the threshold of a rule, the step, the trend and the sentences. No I/O
/// here, so each part is tested as a value.
enum PrometheusQueryParts {
    // MARK: generatorURL

    /// The expression in a Prometheus `generatorURL` (`http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1`):
    /// the `g0.expr` parameter (else the lowest-numbered `gN.expr`), form-decoded (`+` is a space). Nil when the
    /// URL has no such parameter or it is empty (Grafana's and other senders' links).
    static func expression(fromGeneratorURL url: String) -> String? {
        guard let questionMark = url.firstIndex(of: "?") else { return nil }
        var query = url[url.index(after: questionMark)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        var best: (index: Int, expression: String)?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = formDecoded(parts[0])
            guard key.hasPrefix("g"), key.hasSuffix(".expr"),
                  let index = Int(key.dropFirst().dropLast(".expr".count)), index >= 0,
                  parts.count == 2
            else { continue }
            let expression = formDecoded(parts[1]).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !expression.isEmpty else { continue }
            if best == nil || index < best!.index { best = (index, expression) }
        }
        return best?.expression
    }

    /// `application/x-www-form-urlencoded` decoding, as Go's `url.QueryEscape` encodes: `+` is a space. Malformed
    /// escapes are kept as they are.
    static func formDecoded(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Percent-encodes everything but the unreserved characters of RFC 3986, for query parameters.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    // MARK: PROMETHEUS_QUERIES

    /// One entry of `PROMETHEUS_QUERIES`: a name and an expression that may hold `$label` placeholders.
    struct ConfiguredQuery: Sendable, Hashable {
        var name: String
        var template: String
    }

    /// Parses `PROMETHEUS_QUERIES`: entries `name=expression` separated by `;` or newlines; `;;` stands for a `;`
    /// inside an expression. The name is what comes before the first `=` (letters, digits, `_`, `-`, `.`, `:`),
    /// the expression everything after it, both trimmed. Blank entries are skipped; a name given twice, an entry
    /// without `=`, an empty name or expression are errors, named in the message.
    static func configuredQueries(_ text: String) throws(ConfigurationError) -> [ConfiguredQuery] {
        var entries: [String] = []
        var current = ""
        var characters = Substring(text)
        while let character = characters.first {
            characters = characters.dropFirst()
            if character == ";" {
                if characters.first == ";" {
                    current.append(";")
                    characters = characters.dropFirst()
                } else {
                    entries.append(current)
                    current = ""
                }
            } else if character.isNewline {
                entries.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        entries.append(current)

        var queries: [ConfiguredQuery] = []
        for entry in entries {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigurationError("PROMETHEUS_QUERIES entry \"\(trimmed)\" has no \"=\": write name=expression")
            }
            let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let template = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.:".contains($0)) })
            else {
                throw ConfigurationError(
                    "PROMETHEUS_QUERIES entry \"\(trimmed)\" has no usable name before \"=\" (letters, digits, _ - . :)"
                )
            }
            guard !template.isEmpty else {
                throw ConfigurationError("PROMETHEUS_QUERIES entry \"\(name)\" has an empty expression")
            }
            guard !queries.contains(where: { $0.name == name }) else {
                throw ConfigurationError("PROMETHEUS_QUERIES names \"\(name)\" twice")
            }
            queries.append(ConfiguredQuery(name: name, template: template))
        }
        return queries
    }

    struct ConfigurationError: Error, Hashable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Fills `$label` and `${label}` placeholders from `labels`; `$$` is a `$`, and a `$` not followed by a label
    /// name stays as it is (regex anchors such as `=~"api$"`). Values are escaped for a double-quoted PromQL string
    /// (`\`, `"`, newlines), so write placeholders inside double quotes: `up{job="$job"}`.
    ///
    /// Returns the expression, or the labels the alert lacks (sorted, each once).
    static func fill(_ template: String, labels: [String: String]) -> Result<String, MissingLabels> {
        var output = ""
        var missing: [String] = []
        let scalars = Array(template.unicodeScalars)
        var index = 0
        func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
        }
        func isNamePart(_ scalar: Unicode.Scalar) -> Bool { isNameStart(scalar) || ("0"..."9").contains(scalar) }
        func substitute(_ name: String) {
            if let value = labels[name] {
                output += escapedForString(value)
            } else if !missing.contains(name) {
                missing.append(name)
            }
        }
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$", index + 1 < scalars.count else {
                output.unicodeScalars.append(scalar)
                index += 1
                continue
            }
            let next = scalars[index + 1]
            if next == "$" {
                output += "$"
                index += 2
            } else if next == "{",
                      let close = scalars[(index + 2)...].firstIndex(of: "}"),
                      close > index + 2, isNameStart(scalars[index + 2]),
                      scalars[(index + 2)..<close].allSatisfy(isNamePart) {
                substitute(String(String.UnicodeScalarView(scalars[(index + 2)..<close])))
                index = close + 1
            } else if isNameStart(next) {
                var end = index + 1
                while end < scalars.count, isNamePart(scalars[end]) { end += 1 }
                substitute(String(String.UnicodeScalarView(scalars[(index + 1)..<end])))
                index = end
            } else {
                output += "$"
                index += 1
            }
        }
        return missing.isEmpty ? .success(output) : .failure(MissingLabels(names: missing.sorted()))
    }

    struct MissingLabels: Error, Hashable {
        var names: [String]
    }

    /// A label value inside a double-quoted PromQL string.
    static func escapedForString(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default: result.append(character)
            }
        }
        return result
    }

    // MARK: The rule's threshold

    /// A comparison against a number, as alerting rules end: `> 0.9`, `== 1`.
    struct Threshold: Sendable, Hashable, CustomStringConvertible {
        var comparison: String
        var value: Double

        func holds(_ sample: Double) -> Bool {
            switch comparison {
            case "==": return sample == value
            case "!=": return sample != value
            case ">": return sample > value
            case "<": return sample < value
            case ">=": return sample >= value
            case "<=": return sample <= value
            default: return false
            }
        }

        var description: String { "\(comparison) \(formatted(value))" }
    }

    /// Splits a rule expression of the form `VALUE op NUMBER` (or `NUMBER op VALUE`), the comparison at the top
    /// level, into the value's expression and the threshold, so the value can be queried over the whole window
    /// (a comparison filters out the samples where the condition was false). Nil when the expression is anything
    /// else: no top-level comparison, more than one, a comparison between two vectors, or `and`/`or`/`unless` at
    /// the top level.
    static func splitComparison(_ expression: String) -> (value: String, threshold: Threshold)? {
        var characters = Array(expression)
        var depth = 0
        var quote: Character?
        var comparisons: [(range: Range<Int>, comparison: String)] = []
        var index = 0
        var word = ""
        func endWord() -> Bool {
            defer { word = "" }
            return depth == 0 && ["and", "or", "unless"].contains(word.lowercased())
        }
        while index < characters.count {
            let character = characters[index]
            if let open = quote {
                if character == "\\", open != "`" {
                    index += 2
                    continue
                }
                if character == open { quote = nil }
                index += 1
                continue
            }
            if character.isLetter || character.isNumber || character == "_" || character == ":" {
                word.append(character)
                index += 1
                continue
            }
            if endWord() { return nil }
            switch character {
            case "\"", "'", "`":
                quote = character
            case "#":
                // A comment runs to the end of the line; blanked, so it is not part of the threshold.
                while index < characters.count, !characters[index].isNewline {
                    characters[index] = " "
                    index += 1
                }
                continue
            case "(", "[", "{":
                depth += 1
            case ")", "]", "}":
                depth -= 1
            case "=", "!", ">", "<":
                let next = index + 1 < characters.count ? characters[index + 1] : " "
                if depth == 0 {
                    if next == "=" {
                        comparisons.append((index..<(index + 2), String([character, next])))
                        index += 2
                        continue
                    }
                    if character == ">" || character == "<" {
                        comparisons.append((index..<(index + 1), String(character)))
                    }
                }
            default:
                break
            }
            index += 1
        }
        if endWord() { return nil }
        guard comparisons.count == 1, let found = comparisons.first else { return nil }
        let left = String(characters[..<found.range.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        var right = String(characters[found.range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        if right.lowercased().hasPrefix("bool"), right.dropFirst(4).first?.isWhitespace ?? false {
            right = right.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !left.isEmpty, !right.isEmpty else { return nil }
        if let threshold = number(right), number(left) == nil {
            return (left, Threshold(comparison: found.comparison, value: threshold))
        }
        if let threshold = number(left), number(right) == nil {
            let mirrored = [">": "<", "<": ">", ">=": "<=", "<=": ">="][found.comparison] ?? found.comparison
            return (right, Threshold(comparison: mirrored, value: threshold))
        }
        return nil
    }

    /// A PromQL number literal in decimal (`0.9`, `-1`, `1e3`, `+Inf`, `NaN`); nil for anything else.
    private static func number(_ text: String) -> Double? {
        guard let first = text.first, first.isNumber || "+-.".contains(first) || "iInN".contains(first) else {
            return nil
        }
        return Double(text)
    }

    // MARK: Window, step, trend

    /// The step, in whole seconds (at least 1), that keeps a range query over `range` seconds to at most
    /// `maxPoints` points (Prometheus returns `floor(range / step) + 1` of them).
    static func step(forRange range: TimeInterval, maxPoints: Int = 200) -> Int {
        guard range > 0, maxPoints > 1 else { return 1 }
        return max(1, Int((range / Double(maxPoints - 1)).rounded(.up)))
    }

    enum Trend: String, Sendable, Hashable {
        case rising, falling, flat
    }

    /// The trend of `values` (in time order; NaN and infinities ignored): the mean of the last third against the
    /// mean of the first third. Flat unless they differ by more than 10 % of the window's range (max − min) and
    /// more than 1 % of their own magnitude, so noise and small wobbles on a large value stay flat. Nil with fewer
    /// than two finite values.
    static func trend(_ values: [Double]) -> (trend: Trend, first: Double, last: Double)? {
        let finite = values.filter(\.isFinite)
        guard finite.count >= 2, let minimum = finite.min(), let maximum = finite.max() else { return nil }
        let third = max(1, finite.count / 3)
        let first = finite.prefix(third).reduce(0, +) / Double(third)
        let last = finite.suffix(third).reduce(0, +) / Double(third)
        let difference = last - first
        let magnitude = max(abs(first), abs(last))
        if maximum == minimum || abs(difference) <= 0.1 * (maximum - minimum) || abs(difference) <= 0.01 * magnitude {
            return (.flat, first, last)
        }
        return (difference > 0 ? .rising : .falling, first, last)
    }

    // MARK: Sentences

    /// One sample: Unix time and value.
    struct Sample: Sendable, Hashable {
        var time: Double
        var value: Double
    }

    /// One series of a range query.
    struct Series: Sendable, Hashable {
        var labels: [String: String]
        /// In time order.
        var samples: [Sample]

        /// Whether this series is the alert's: every label but `__name__` has the alert's value (an alert's labels
        /// are its series' labels plus the rule's).
        func belongs(to alertLabels: [String: String]) -> Bool {
            labels.allSatisfy { $0.key == "__name__" || alertLabels[$0.key] == $0.value }
        }
    }

    /// The window a range query covers: `start` is on the step grid that ends exactly at `end`.
    struct Window: Sendable, Hashable {
        var start: Date
        var end: Date
        var step: Int

        /// From `lead` seconds before `from` (clamped to `end`) to `end`, at most 200 points, `end` in whole seconds.
        init(from: Date, lead: TimeInterval, end: Date) {
            let endSeconds = end.timeIntervalSince1970.rounded(.down)
            let wanted = min(from.timeIntervalSince1970 - lead, endSeconds)
            let range = endSeconds - wanted
            let step = PrometheusQueryParts.step(forRange: range)
            self.step = step
            self.end = Date(timeIntervalSince1970: endSeconds)
            self.start = Date(timeIntervalSince1970: endSeconds - (range / Double(step)).rounded(.down) * Double(step))
        }

        init(start: Date, end: Date, step: Int) {
            self.start = start
            self.end = end
            self.step = step
        }
    }

    /// The sentence about one series: current value, min and max, trend, and when the threshold was crossed (or,
    /// without one, when the series appeared or vanished within the window).
    static func describe(_ series: Series, window: Window, threshold: Threshold?) -> String {
        let name = seriesName(series.labels)
        let samples = series.samples.filter { !$0.value.isNaN }
        guard let last = samples.last else { return "\(name) has no value in the window" }
        var parts: [String] = []
        let halfStep = Double(window.step) / 2
        let endTime = window.end.timeIntervalSince1970
        if last.time >= endTime - halfStep {
            parts.append("\(name) is \(formatted(last.value)) now")
        } else {
            parts.append("\(name) was last \(formatted(last.value)) at \(time(last.time)), no value since")
        }
        let values = samples.map(\.value)
        if let minimum = values.min(), let maximum = values.max() {
            parts.append(minimum == maximum
                ? "\(formatted(minimum)) over the whole window"
                : "min \(formatted(minimum)), max \(formatted(maximum)) over the window")
        }
        if let trend = trend(values) {
            switch trend.trend {
            case .flat: parts.append("flat")
            case .rising, .falling:
                parts.append("\(trend.trend.rawValue) (first third ≈ \(formatted(trend.first)), last third ≈ \(formatted(trend.last)))")
            }
        }
        let startTime = window.start.timeIntervalSince1970
        if let threshold {
            let holds = samples.map { threshold.holds($0.value) }
            if holds.last == true {
                let since = (holds.lastIndex(of: false).map { $0 + 1 }) ?? 0
                if since == 0 && samples[0].time <= startTime + halfStep {
                    parts.append("\(threshold) throughout the window")
                } else if threshold.comparison == "==" || threshold.comparison == "!=" {
                    parts.append("\(threshold) since \(time(samples[since].time))")
                } else {
                    parts.append("crossed \(threshold) at \(time(samples[since].time))")
                }
            } else if let lastHeld = holds.lastIndex(of: true) {
                parts.append("no longer \(threshold) since \(time(samples[lastHeld + 1].time))")
            } else {
                parts.append("never \(threshold) in the window")
            }
        } else {
            if samples[0].time > startTime + halfStep {
                parts.append("first seen at \(time(samples[0].time))")
            }
        }
        return parts.joined(separator: "; ")
    }

    /// `name{a="1", b="2"}`, labels sorted, `__name__` in front; `{}` for a series without labels.
    static func seriesName(_ labels: [String: String]) -> String {
        let name = labels["__name__"] ?? ""
        let rest = labels.filter { $0.key != "__name__" }.sorted { $0.key < $1.key }
        if rest.isEmpty { return name.isEmpty ? "{}" : name }
        return name + "{" + rest.map { "\($0.key)=\"\(escapedForString($0.value))\"" }.joined(separator: ", ") + "}"
    }

    /// A sample value as a person reads it: integers in full, others to four significant digits.
    static func formatted(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.4g", value)
        if text.contains("e") {
            // %g writes e+06; people read 1.2e6 more easily.
            text = text.replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-")
                .replacingOccurrences(of: "e+", with: "e")
        }
        return text
    }

    /// RFC 3339 in UTC, whole seconds.
    static func time(_ unix: Double) -> String {
        time(Date(timeIntervalSince1970: unix))
    }

    static func time(_ date: Date) -> String {
        RFC3339.format(date)
    }

    /// A duration in whole seconds as Prometheus writes it (`1h5m`, `30s`), for the graph's `range_input`.
    static func duration(_ seconds: Int) -> String {
        guard seconds > 0 else { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    /// The Prometheus UI's graph of `expression` over `window`: `BASE/graph?g0.expr=…&g0.tab=0&g0.range_input=…
    /// &g0.end_input=…` (the window's end, in UTC, as the UI writes it).
    static func graphURL(base: String, expression: String, window: Window) -> String {
        let range = Int((window.end.timeIntervalSince(window.start)).rounded(.up))
        // The UI reads `YYYY-MM-DD HH:mm:ss` in UTC.
        let end = RFC3339.format(window.end).replacingOccurrences(of: "T", with: " ")
            .replacingOccurrences(of: "Z", with: "")
        return base + "/graph?g0.expr=" + percentEncoded(expression) + "&g0.tab=0&g0.range_input="
            + duration(max(60, range)) + "&g0.end_input=" + percentEncoded(end)
    }
}
