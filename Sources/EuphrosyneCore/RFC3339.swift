import Foundation

/// Parsing and formatting of RFC 3339 timestamps as Alertmanager and Grafana send them.
///
/// Used by `AlertNotification` for `startsAt`/`endsAt` and by anything that writes timestamps
/// back out (API responses, chat messages). Written by hand because Foundation's
/// `ISO8601DateFormatter` truncates to milliseconds and rejects timestamps without a fraction,
/// while Alertmanager sends anything from zero to nine fractional digits.
///
/// Dates before 1970 are deliberately treated as "not set": Alertmanager encodes an unset
/// `endsAt` as Go's zero time `0001-01-01T00:00:00Z`, and no alert we handle can predate the
/// Unix epoch, so `parse` returns nil for any year before 1970.
public enum RFC3339 {
    /// Parses `YYYY-MM-DD(T|t| )hh:mm:ss[.fraction](Z|z|±hh:mm)`.
    ///
    /// Returns nil for malformed input, out-of-range fields, and years before 1970 (see the
    /// type's documentation). The fraction is kept at full `Double` precision, which is about
    /// a quarter of a microsecond for present-day dates.
    public static func parse(_ text: String) -> Date? {
        var scanner = Scanner(bytes: Array(text.utf8))

        guard let year = scanner.digits(4), scanner.take(UInt8(ascii: "-")),
              let month = scanner.digits(2), scanner.take(UInt8(ascii: "-")),
              let day = scanner.digits(2)
        else { return nil }
        guard scanner.take(UInt8(ascii: "T")) || scanner.take(UInt8(ascii: "t"))
                || scanner.take(UInt8(ascii: " "))
        else { return nil }
        guard let hour = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
              let minute = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
              let second = scanner.digits(2)
        else { return nil }

        var fraction = 0.0
        if scanner.take(UInt8(ascii: ".")) {
            guard let value = scanner.fraction() else { return nil }
            fraction = value
        }

        let offsetSeconds: Int
        if scanner.take(UInt8(ascii: "Z")) || scanner.take(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else {
            let sign: Int
            if scanner.take(UInt8(ascii: "+")) {
                sign = 1
            } else if scanner.take(UInt8(ascii: "-")) {
                sign = -1
            } else {
                return nil
            }
            guard let offsetHours = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
                  let offsetMinutes = scanner.digits(2),
                  offsetHours <= 23, offsetMinutes <= 59
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard scanner.atEnd else { return nil }

        // Go's zero time and any other pre-epoch year mean "unset" to us.
        guard year >= 1970 else { return nil }
        guard (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }

        let days = daysFromCivil(year: year, month: month, day: day)
        let wholeSeconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(wholeSeconds) + fraction)
    }

    /// Formats in UTC with whole seconds, e.g. `2026-11-28T21:13:44Z` (fractions are dropped).
    public static func format(_ date: Date) -> String {
        let (seconds, _) = split(date)
        return civilString(epochSeconds: seconds) + "Z"
    }

    /// Formats in UTC with exactly three fractional digits, e.g. `2026-11-28T21:20:01.123Z`.
    /// Sub-millisecond precision is truncated, as Go's formatting does.
    public static func formatWithMilliseconds(_ date: Date) -> String {
        let (seconds, micros) = split(date)
        let millis = micros / 1000
        let padded = String(millis)
        return civilString(epochSeconds: seconds) + "." + String(repeating: "0", count: 3 - padded.count)
            + padded + "Z"
    }

    /// Formats in UTC with exactly six fractional digits, e.g. `2026-11-28T21:20:01.123456Z`: Kubernetes'
    /// `MicroTime` (a Lease's `acquireTime` and `renewTime`).
    public static func formatWithMicroseconds(_ date: Date) -> String {
        let (seconds, micros) = split(date)
        let padded = String(micros)
        return civilString(epochSeconds: seconds) + "." + String(repeating: "0", count: 6 - padded.count)
            + padded + "Z"
    }

    // MARK: - Calendar arithmetic

    /// Whole seconds and microseconds since the epoch. Rounding to the microsecond first keeps
    /// floating-point noise (x.123 stored as x.12299999) from losing a millisecond.
    private static func split(_ date: Date) -> (seconds: Int, micros: Int) {
        let totalMicros = Int((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = floorDiv(totalMicros, 1_000_000)
        return (seconds, totalMicros - seconds * 1_000_000)
    }

    private static func civilString(epochSeconds: Int) -> String {
        let days = floorDiv(epochSeconds, 86_400)
        let secondOfDay = epochSeconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T"
            + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            + pad(secondOfDay % 60, 2)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    private static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil`.
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    // MARK: - Scanning

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Exactly `count` ASCII digits as a number.
        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard let digit = Self.digit(byte) else { return nil }
                value = value * 10 + digit
            }
            index += count
            return value
        }

        /// One or more digits after a decimal point, as a value in [0, 1).
        mutating func fraction() -> Double? {
            var numerator: Int64 = 0
            var denominator: Int64 = 1
            var count = 0
            while index < bytes.count, let digit = Self.digit(bytes[index]) {
                // Beyond 18 digits Int64 would overflow and Double cannot hold them anyway.
                if count < 18 {
                    numerator = numerator * 10 + Int64(digit)
                    denominator *= 10
                }
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
            return Double(numerator) / Double(denominator)
        }

        private static func digit(_ byte: UInt8) -> Int? {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
        }
    }
}
