import EuphrosyneCore
import Foundation

/// Everything a launcher needs to run one recipe once: what to run, with which data, for how long.
///
/// Built by the coordinator; the launcher adds only where the data file lives.
public struct LaunchRequest: Sendable {
    public var incidentID: UUID
    public var run: RecipeRun
    public var recipe: Recipe
    /// The bytes of `data.json`: the incoming JSON plus `"uuid"`.
    public var dataFile: Data
    /// The values of the original argv flags (`--aggregator-address`, `--redis-address`).
    public var aggregatorAddress: String
    public var redisAddress: String
    /// `EUPHROSYNE_*` variables and the recipe's own `env`, added to the recipe's environment.
    public var environment: [String: String]
    /// The key the recipe signs its result with (`ResultSignature`): the incident's secret. Launchers hand it to the
    /// recipe as `EUPHROSYNE_RESULT_KEY` without writing it where others can read it (a Job spec gets it from a
    /// Secret). Nil: the recipe gets no key and reports unsigned.
    public var resultKey: String?
    /// Says, once the launcher's task is cancelled, whether the coordinator asked for this run to stop (the
    /// alert resolved) rather than the reconciler shutting down.
    public var cancellation: RunCancellation
    /// Whether the run's result has arrived: a launcher that would fetch something only to explain a run that
    /// ended without one (a Job's pod log) skips it when this says the result is in.
    public var hasReported: @Sendable () -> Bool

    public init(
        incidentID: UUID, run: RecipeRun, recipe: Recipe, dataFile: Data, aggregatorAddress: String,
        redisAddress: String, environment: [String: String], cancellation: RunCancellation = RunCancellation(),
        resultKey: String? = nil, hasReported: @escaping @Sendable () -> Bool = { false }
    ) {
        self.hasReported = hasReported
        self.resultKey = resultKey
        self.cancellation = cancellation
        self.incidentID = incidentID
        self.run = run
        self.recipe = recipe
        self.dataFile = dataFile
        self.aggregatorAddress = aggregatorAddress
        self.redisAddress = redisAddress
        self.environment = environment
    }

    public var timeout: Duration { .seconds(run.timeoutSeconds) }

    /// The recipe's argv: its split entrypoint followed by exactly the three flags of the original contract.
    public func arguments(dataFilePath: String) -> [String] {
        recipe.arguments + [
            "--data-file-path", dataFilePath,
            "--aggregator-address", aggregatorAddress,
            "--redis-address", redisAddress,
        ]
    }
}

/// Runs recipes: as local processes (`LocalProcessLauncher`) or Kubernetes Jobs.
///
/// The coordinator calls `run` in a child task per recipe run.
public protocol RecipeLauncher: Sendable {
    /// Runs the recipe until it ends and says how it ended.
    ///
    /// Calls `started` once the run is up; the timeout counts from then. Stops the run at `request.timeout` and
    /// returns `.timedOut`; stops it when the calling task is cancelled and returns `.cancelled` (a launcher may
    /// leave it running on a shutdown, but never when `request.cancellation.reason` is set). Never throws: a run
    /// that cannot start is `.launchFailed`.
    func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit

    /// Removes what the runs of a finished phase left behind (Jobs, data ConfigMaps).
    func cleanUp(incident: UUID, phase: RunPhase) async

    /// The runs' states as the cluster sees them (the Jobs), or nil when the launcher has no such view.
    func jobStatuses(incident: UUID) async -> [JobStatus]?

    /// Follows a run a previous reconciler started, until it ends or `deadline` (plus a grace) passes, like `run`
    /// does. Nil when the launcher cannot find it again (a local process): the coordinator then only enforces the
    /// deadline.
    func reattach(incident: UUID, run: RecipeRun, until deadline: Date, cancellation: RunCancellation) async -> RunExit?

    /// Whether launching the same run again finds what the first launch made instead of starting it twice (the
    /// Kubernetes launcher names a run's Job after it). Only then does a resume launch runs that had not started.
    var findsRepeatedLaunches: Bool { get }
}

extension RecipeLauncher {
    /// Removes what the runs of a finished phase left behind (Jobs, data ConfigMaps). Local processes leave
    /// nothing.
    public func cleanUp(incident: UUID, phase: RunPhase) async {}

    /// The runs' states as the cluster sees them (the Jobs), or nil when the launcher has no such view.
    public func jobStatuses(incident: UUID) async -> [JobStatus]? { nil }

    /// A local process started twice runs twice.
    public var findsRepeatedLaunches: Bool { false }

    /// Local processes cannot be found again after a restart.
    public func reattach(incident: UUID, run: RecipeRun, until deadline: Date, cancellation: RunCancellation) async -> RunExit? {
        nil
    }
}

extension JobStatus {
    /// The run a launcher's Job belongs to: launchers that report Jobs label them `euphrosyne.io/run=<run id>`.
    public var runID: Int? { labels["euphrosyne.io/run"].flatMap(Int.init) }
}
