import EuphrosyneCore
import Foundation

/// Where recipe results come from: the HTTP callback (local mode) or Redis pub/sub (cluster mode).
///
/// The coordinator asks the source which environment a recipe needs to report to it, and tells it when an
/// incident starts and stops expecting results so it can subscribe and unsubscribe. Results reach the coordinator
/// either through `IncidentCoordinator.deliver(_:)` (the HTTP callback route calls it) or through
/// `incomingResults`, which the coordinator drains while it runs.
public protocol ResultSource: Sendable {
    /// `EUPHROSYNE_*` variables that tell a recipe of `incident` how to report here.
    func recipeEnvironment(incident: UUID, secret: String) -> [String: String]
    // `nonisolated(nonsending)`: they run on the caller's executor, so the coordinator does not hop to the global
    // pool and back for a source with nothing to do (the HTTP callback).
    nonisolated(nonsending) func watch(incident: UUID) async
    nonisolated(nonsending) func unwatch(incident: UUID) async
    /// Results this source receives by itself (e.g. over Redis), or nil if results are delivered directly.
    /// The same result may come more than once (a message and its durable copy); the incident ignores duplicates.
    var incomingResults: AsyncStream<RecipeResult>? { get }
    /// Results of `incident` the source can read on demand (Redis: the durable copies), so a run that has just
    /// exited can be checked for a result still on its way instead of being called failed.
    func storedResults(incident: UUID) async -> [RecipeResult]
    /// Whether a result can arrive after its run has exited (pub/sub: the message travels apart from the process),
    /// so a run that exited without one is checked against `storedResults` and given a short grace before it is
    /// called failed. False where the recipe's report is answered before it exits (the HTTP callback).
    var resultsMayTrailExit: Bool { get }
}

extension ResultSource {
    public var incomingResults: AsyncStream<RecipeResult>? { nil }
    public var resultsMayTrailExit: Bool { false }
    public func storedResults(incident: UUID) async -> [RecipeResult] { [] }
}

/// Several result sources at once: local mode with `--redis-address` takes results over the HTTP callback and over
/// Redis.
public struct CombinedResultSource: ResultSource {
    public let sources: [any ResultSource]
    public let incomingResults: AsyncStream<RecipeResult>?

    public init(_ sources: [any ResultSource]) {
        self.sources = sources
        let streams = sources.compactMap(\.incomingResults)
        // Only Redis delivers results by itself; two such sources would mean the same results twice.
        precondition(streams.count <= 1, "at most one result source may deliver results by itself")
        incomingResults = streams.first
    }

    public func recipeEnvironment(incident: UUID, secret: String) -> [String: String] {
        sources.reduce(into: [:]) { environment, source in
            environment.merge(source.recipeEnvironment(incident: incident, secret: secret)) { $1 }
        }
    }

    public nonisolated(nonsending) func watch(incident: UUID) async {
        for source in sources { await source.watch(incident: incident) }
    }

    public nonisolated(nonsending) func unwatch(incident: UUID) async {
        for source in sources { await source.unwatch(incident: incident) }
    }

    public var resultsMayTrailExit: Bool { sources.contains { $0.resultsMayTrailExit } }

    public func storedResults(incident: UUID) async -> [RecipeResult] {
        var results: [RecipeResult] = []
        for source in sources { results += await source.storedResults(incident: incident) }
        return results
    }
}
