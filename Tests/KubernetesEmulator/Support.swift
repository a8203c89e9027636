import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Timestamp {
    /// `metav1.Time`: RFC 3339, UTC, whole seconds.
    static func rfc3339(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// RFC 3339 with nanoseconds, as `kubectl logs --timestamps` prints.
    static func rfc3339Nano(_ date: Date) -> String {
        let whole = rfc3339(date).dropLast()
        let fraction = date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)
        return "\(whole).\(String(format: "%09d", Int(fraction * 1_000_000_000)))Z"
    }

    /// Parses `2026-11-28T21:13:44Z` (a fraction is tolerated and dropped).
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// kubectl's `HumanDuration`-style age: `5s`, `3m2s`, `4h`, `2d`.
    static func age(since date: Date?, now: Date = Date()) -> String {
        guard let date else { return "<unknown>" }
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 48 { return "\(hours)h" }
        return "\(hours / 24)d"
    }
}

enum Names {
    /// The alphabet of apiserver `pkg/storage/names/generate.go` (no vowels, no confusable digits).
    static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    static func randomSuffix(_ count: Int = 5) -> String {
        String((0..<count).map { _ in alphabet.randomElement()! })
    }

    /// `generateName` + 5 random characters, the prefix cut to 58 so the result stays within 63.
    static func generate(from prefix: String) -> String {
        String(prefix.prefix(58)) + randomSuffix()
    }
}

enum Query {
    /// `a=1&b=x%20y` → decoded pairs (later keys win, `+` is a space as in Go's `url.ParseQuery`).
    static func parse(_ raw: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in raw.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(String(parts[0]))
            let value = parts.count > 1 ? decode(String(parts[1])) : ""
            if result[key] == nil { result[key] = value }
        }
        return result
    }

    static func decode(_ text: String) -> String {
        let replaced = text.replacingOccurrences(of: "+", with: " ")
        return replaced.removingPercentEncoding ?? replaced
    }
}

extension Duration {
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
