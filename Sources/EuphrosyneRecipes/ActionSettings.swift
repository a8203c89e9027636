import EuphrosyneCore
import Foundation
import RecipeKit

/// The approver's choices every action that changes the cluster reads.
struct ActionSettings {
    /// `dryRun: true` in the data, or `DRY_RUN=1` for the recipe: send every write with `?dryRun=All`.
    var dryRun: Bool
    /// `force: true`: evict pods without a controller too (`drain-node`).
    var force: Bool

    init(_ context: RecipeContext) {
        let environment = context.environment.value("DRY_RUN")?.lowercased()
        dryRun = ActionRequest.isDryRun(context.input.data) || ["1", "true", "yes"].contains(environment ?? "")
        force = ActionRequest.flag("force", in: context.input.data)
    }
}

/// How long an action that waits keeps at it: until the recipe's deadline (`EUPHROSYNE_DEADLINE`, less a few seconds
/// to report), else `<PREFIX>_TIMEOUT_SECONDS` (default 300). It asks again every `<PREFIX>_RETRY_SECONDS` (what a
/// refusal waits before the next try, e.g. a PodDisruptionBudget's 429) and checks progress every
/// `<PREFIX>_POLL_SECONDS` (default: the retry pause, at most 1 s). `drain-node` uses the prefix `DRAIN`, the
/// rollout actions `ROLLOUT`, `delete-pod` `DELETE_POD`.
struct ActionTiming: Sendable {
    var deadline: Date
    var retryInterval: Duration
    var pollInterval: Duration

    init(_ environment: RecipeEnvironment, prefix: String, retryDefault: Double, now: Date = Date()) throws(RecipeError) {
        func seconds(_ name: String, _ fallback: Double, _ range: ClosedRange<Double>) throws(RecipeError) -> Double {
            guard let text = environment.value(name) else { return fallback }
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw .failed("\(name) must be a number of seconds between \(range.lowerBound) and \(range.upperBound); it is \"\(text)\"")
            }
            return value
        }
        let timeout = try seconds("\(prefix)_TIMEOUT_SECONDS", 300, 0...86_400)
        let retry = try seconds("\(prefix)_RETRY_SECONDS", retryDefault, 0.05...300)
        let poll = try seconds("\(prefix)_POLL_SECONDS", min(retry, 1), 0.05...60)
        deadline = environment.deadline.map { $0.addingTimeInterval(-5) } ?? now.addingTimeInterval(timeout)
        retryInterval = .milliseconds(Int64(retry * 1000))
        pollInterval = .milliseconds(Int64(poll * 1000))
    }

    /// Whether a pause of `pause` still ends before the deadline.
    func hasTime(for pause: Duration) -> Bool {
        Date().addingTimeInterval(Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18) < deadline
    }
}
