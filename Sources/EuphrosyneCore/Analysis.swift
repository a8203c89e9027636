import Foundation

/// What a set of finished runs found: the text a human reads, the actions they may approve, and links.
///
/// Built by `Analysis.aggregate(_:)` when every debugging run of an incident has finished (the diagnosis), and
/// again when every run of an approval has finished (the action outcome). Notifiers send it to chat.
public struct Analysis: Sendable, Hashable, Codable {
    /// A run that produced no usable result, and why.
    public struct Shortfall: Sendable, Hashable, Codable {
        public var recipe: String
        public var reason: String

        public init(recipe: String, reason: String) {
            self.recipe = recipe
            self.reason = reason
        }
    }

    /// The human-readable summary: the analysis of every successful run, then what did not report.
    public var text: String
    /// Union of the actions suggested by successful runs, in order of first suggestion.
    public var actions: [String]
    /// Union of the links of successful runs, in order of first appearance.
    public var links: [String]
    /// Recipes whose result was successful.
    public var successful: [String]
    /// Recipes that failed, timed out, were cancelled, or reported a failed or unknown status.
    public var shortfalls: [Shortfall]

    public init(text: String, actions: [String], links: [String], successful: [String], shortfalls: [Shortfall]) {
        self.text = text
        self.actions = actions
        self.links = links
        self.successful = successful
        self.shortfalls = shortfalls
    }

    /// Aggregates finished runs: analysis of the successful ones, union of their suggested actions and links.
    public static func aggregate(_ runs: [RecipeRun]) -> Analysis {
        var sections: [String] = []
        var actions: [String] = []
        var links: [String] = []
        var successful: [String] = []
        var shortfalls: [Shortfall] = []

        for run in runs.sorted(by: { $0.id < $1.id }) {
            guard run.state == .reported, let result = run.result else {
                shortfalls.append(Shortfall(recipe: run.recipe, reason: run.failureReason ?? run.state.rawValue))
                continue
            }
            let analysis = result.results.analysis.trimmingCharacters(in: .whitespacesAndNewlines)
            switch result.status {
            case .successful:
                successful.append(run.recipe)
                sections.append(analysis.isEmpty ? "\(run.recipe): (no analysis)" : "\(run.recipe): \(analysis)")
                for action in result.results.actions where !actions.contains(action) { actions.append(action) }
                for link in result.results.links where !links.contains(link) { links.append(link) }
            case .failed:
                shortfalls.append(Shortfall(
                    recipe: run.recipe, reason: analysis.isEmpty ? "reported failure" : "reported failure: \(analysis)"
                ))
            case .unknown:
                shortfalls.append(Shortfall(
                    recipe: run.recipe,
                    reason: analysis.isEmpty ? "reported an unknown status" : "reported an unknown status: \(analysis)"
                ))
            }
        }

        if sections.isEmpty { sections.append("No recipe reported a successful result.") }
        if !shortfalls.isEmpty {
            let lines = shortfalls.map { "- \($0.recipe): \($0.reason)" }
            sections.append("Did not succeed:\n" + lines.joined(separator: "\n"))
        }
        return Analysis(
            text: sections.joined(separator: "\n\n"), actions: actions, links: links,
            successful: successful, shortfalls: shortfalls
        )
    }
}
