/// The throughput of a server and of its reference, measured in alternating rounds (ours then the reference, then
/// the reference then ours, …) so that a change in the box's load between rounds hits both sides alike.
///
/// The webhook rows use it: on a shared 2-core box the hello world alone varied by tens of percent from one minute to
/// the next, which one long run per side turned into ratios that said more about the neighbours than about us. Each
/// round gives a ratio; the row reports their median and their range.
struct PairedThroughput {
    var ours: [Double] = []
    var reference: [Double] = []
    /// Failed requests on either side, over all rounds.
    var failures = 0

    /// Ours ÷ reference, round by round.
    var ratios: [Double] { zip(ours, reference).map { $0 / $1 } }
    var medianRatio: Double { median(ratios) }
    var medianOurs: Double { median(ours) }
    var medianReference: Double { median(reference) }

    /// "23,613/s (rounds 0.58–0.63×)", and the failures when there were any.
    var oursText: String {
        let sorted = ratios.sorted()
        let range = sorted.isEmpty ? "" : String(format: " (rounds %.2f–%.2f×)", sorted.first!, sorted.last!)
        return formatRate(medianOurs) + range + (failures > 0 ? " (\(failures) failed)" : "")
    }

    static func measure(
        rounds: Int, ours: () async throws -> Wrk.Result, reference: () async throws -> Wrk.Result
    ) async throws -> PairedThroughput {
        var pair = PairedThroughput()
        for round in 0..<max(1, rounds) {
            let oursFirst = round.isMultiple(of: 2)
            let first = try await oursFirst ? ours() : reference()
            let second = try await oursFirst ? reference() : ours()
            let (mine, theirs) = oursFirst ? (first, second) : (second, first)
            pair.ours.append(mine.requestsPerSecond)
            pair.reference.append(theirs.requestsPerSecond)
            pair.failures += mine.failures + theirs.failures
        }
        return pair
    }
}
