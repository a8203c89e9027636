import Foundation

/// The optional per-alert-name limit on new incidents (`--max-incidents-per-alertname`): at most `limit`
/// incidents opened for one alert name in any sliding `window` (an hour by default).
///
/// A value the coordinator keeps and asks before it opens an incident; notifications that join an open incident
/// never count. It remembers only the openings inside the window, so it stays small however many alerts arrive.
public struct IncidentRateLimit: Sendable {
    public let limit: Int
    public let window: TimeInterval
    /// Opening times per alert name, oldest first, all within the window of the last call.
    private var openings: [String: [Date]] = [:]
    /// Above this many names, names whose openings all left the window are dropped (amortised: it doubles).
    private var pruneThreshold = 1024

    public init(limit: Int, window: TimeInterval = 3600) {
        precondition(limit > 0 && window > 0, "a rate limit needs a positive limit and window")
        self.limit = limit
        self.window = window
    }

    /// Counts an incident for `alertName` at `now` if the limit allows it and returns nil; otherwise counts
    /// nothing and returns how many seconds remain until the oldest opening leaves the window (at least 1).
    public mutating func admit(alertName: String, at now: Date) -> Int? {
        var times = openings[alertName, default: []]
        times.removeAll { now.timeIntervalSince($0) >= window }
        defer { openings[alertName] = times.isEmpty ? nil : times }
        guard times.count < limit else {
            let wait = window - now.timeIntervalSince(times[0])
            return max(1, Int(wait.rounded(.up)))
        }
        times.append(now)
        if openings.count > pruneThreshold {
            // Forget names that went quiet, so one-off alert names do not pile up.
            openings = openings.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
            pruneThreshold = max(1024, 2 * openings.count)
        }
        return nil
    }
}
