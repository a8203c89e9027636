import Foundation
import Testing
@testable import EuphrosyneCore

@Suite struct RFC3339Tests {
    /// 2026-11-28T21:13:44Z, computed independently of the parser under test.
    private static let reference: TimeInterval = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: 2026, month: 11, day: 28, hour: 21, minute: 13, second: 44)
        return calendar.date(from: components)!.timeIntervalSince1970
    }()

    @Test func parsesAlertmanagerNanoseconds() throws {
        let date = try #require(RFC3339.parse("2026-11-28T21:13:44.511671691Z"))
        #expect(abs(date.timeIntervalSince1970 - (Self.reference + 0.511671691)) < 1e-6)
        // Microseconds survive, which ISO8601DateFormatter would have truncated.
        let micros = (date.timeIntervalSince1970 - Self.reference) * 1_000_000
        #expect(micros.rounded() == 511_672)
    }

    @Test func parsesWithoutFraction() throws {
        let date = try #require(RFC3339.parse("2026-11-28T21:13:44Z"))
        #expect(date.timeIntervalSince1970 == Self.reference)
    }

    @Test(arguments: [
        ("2026-11-28T21:13:44.5Z", 0.5),
        ("2026-11-28T21:13:44.51Z", 0.51),
        ("2026-11-28T21:13:44.123Z", 0.123),
        ("2026-11-28T21:13:44.123456Z", 0.123456),
        ("2026-11-28T21:13:44.000000001Z", 0.000000001),
        ("2026-11-28T21:13:44.1234567891234Z", 0.1234567891234),
    ])
    func parsesAnyFractionLength(text: String, fraction: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(abs(date.timeIntervalSince1970 - Self.reference - fraction) < 1e-6)
    }

    @Test func appliesPositiveOffset() throws {
        let date = try #require(RFC3339.parse("2021-10-12T09:51:03.157076+02:00"))
        let utc = try #require(RFC3339.parse("2021-10-12T07:51:03.157076Z"))
        #expect(date == utc)
    }

    @Test func appliesNegativeOffsetAcrossMidnight() throws {
        let date = try #require(RFC3339.parse("2026-11-28T22:30:00-05:30"))
        #expect(RFC3339.format(date) == "2026-11-29T04:00:00Z")
    }

    @Test func acceptsZeroOffsetAndAlternativeSeparators() throws {
        let expected = Date(timeIntervalSince1970: Self.reference)
        #expect(RFC3339.parse("2026-11-28T21:13:44+00:00") == expected)
        #expect(RFC3339.parse("2026-11-28T21:13:44-00:00") == expected)
        #expect(RFC3339.parse("2026-11-28t21:13:44z") == expected)
        #expect(RFC3339.parse("2026-11-28 21:13:44Z") == expected)
    }

    @Test func goZeroTimeMeansUnset() {
        #expect(RFC3339.parse("0001-01-01T00:00:00Z") == nil)
    }

    @Test func datesBeforeTheEpochAreTreatedAsUnset() {
        // Documented behaviour: any pre-1970 year is "unset", not only Go's zero time.
        #expect(RFC3339.parse("1969-12-31T23:59:59Z") == nil)
        #expect(RFC3339.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
    }

    @Test func leapDay() throws {
        let date = try #require(RFC3339.parse("2024-02-29T12:00:00Z"))
        #expect(RFC3339.format(date) == "2024-02-29T12:00:00Z")
        #expect(RFC3339.parse("2000-02-29T00:00:00Z") != nil)
        #expect(RFC3339.parse("2025-02-29T12:00:00Z") == nil)
        #expect(RFC3339.parse("2100-02-29T12:00:00Z") == nil)
    }

    @Test(arguments: [
        "",
        "garbage",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T21:60:00Z",
        "2026-11-28T21:13:60Z",
        "2026-11-28T21:13Z",
        "2026-11-28T21:13:44",
        "2026-11-28",
        "2026-11-28X21:13:44Z",
        "2026-11-28T21:13:44.Z",
        "2026-11-28T21:13:44.5",
        "2026-11-28T21:13:44+0200",
        "2026-11-28T21:13:44+02",
        "2026-11-28T21:13:44+24:00",
        "2026-11-28T21:13:44Zjunk",
        "26-11-28T21:13:44Z",
        "2026-1-28T21:13:44Z",
        " 2026-11-28T21:13:44Z",
        "２０２６-11-28T21:13:44Z",
    ])
    func rejectsMalformed(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsWholeSecondsInUTC() {
        let date = Date(timeIntervalSince1970: Self.reference + 0.999)
        #expect(RFC3339.format(date) == "2026-11-28T21:13:44Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }

    @Test func formatsMilliseconds() throws {
        let date = try #require(RFC3339.parse("2026-11-28T21:20:01.123Z"))
        #expect(RFC3339.formatWithMilliseconds(date) == "2026-11-28T21:20:01.123Z")
        let whole = try #require(RFC3339.parse("2026-11-28T21:20:01Z"))
        #expect(RFC3339.formatWithMilliseconds(whole) == "2026-11-28T21:20:01.000Z")
        let early = try #require(RFC3339.parse("2026-11-28T21:20:01.007Z"))
        #expect(RFC3339.formatWithMilliseconds(early) == "2026-11-28T21:20:01.007Z")
        // Sub-millisecond digits are truncated, not rounded.
        let nanos = try #require(RFC3339.parse("2026-11-28T21:13:44.511671691Z"))
        #expect(RFC3339.formatWithMilliseconds(nanos) == "2026-11-28T21:13:44.511Z")
    }

    /// Kubernetes' MicroTime (a Lease's times): exactly six digits, which the API server's layout requires.
    @Test func formatsMicroseconds() throws {
        let date = try #require(RFC3339.parse("2026-11-28T21:13:44.511671Z"))
        #expect(RFC3339.formatWithMicroseconds(date) == "2026-11-28T21:13:44.511671Z")
        let whole = try #require(RFC3339.parse("2026-11-28T21:20:01Z"))
        #expect(RFC3339.formatWithMicroseconds(whole) == "2026-11-28T21:20:01.000000Z")
        let early = try #require(RFC3339.parse("2026-11-28T21:20:01.000042Z"))
        #expect(RFC3339.formatWithMicroseconds(early) == "2026-11-28T21:20:01.000042Z")
    }

    @Test(arguments: [
        "1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2026-11-28T21:13:44Z",
        "2099-12-31T00:00:01Z", "2400-02-29T06:07:08Z", "9999-12-31T23:59:59Z",
    ])
    func roundTrips(text: String) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(RFC3339.format(date) == text)
    }

    @Test func roundTripsMillisecondsAcrossManyDates() throws {
        // Walk about 70 years in irregular steps so every month and leap year is visited.
        // Counted in whole milliseconds so every instant is exactly representable as text.
        var millis: Int64 = 0
        while millis < 2_200_000_000_000 {
            let seconds = Double(millis) / 1000
            let text = RFC3339.formatWithMilliseconds(Date(timeIntervalSince1970: seconds))
            let parsed = try #require(RFC3339.parse(text))
            #expect(abs(parsed.timeIntervalSince1970 - seconds) < 1e-6, "\(text)")
            millis += 1_234_567_891
        }
    }

    @Test func agreesWithFoundationCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for (year, month, day) in [(1970, 1, 1), (1999, 12, 31), (2000, 3, 1), (2024, 2, 29), (2038, 1, 19)] {
            let expected = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 5))!
            let text = String(format: "%04d-%02d-%02dT05:00:00Z", year, month, day)
            #expect(RFC3339.parse(text) == expected, "\(text)")
        }
    }
}
