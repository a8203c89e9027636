/// What a recipe's work produced; RecipeKit turns it into the wire `RecipeResult`.
public struct RecipeOutcome: Sendable, Hashable {
    public var status: RecipeStatus
    public var analysis: String
    public var actions: [String]
    public var links: [String]
    /// Free-form JSON, as a string (the wire schema's `results.json`).
    public var json: String

    public init(
        status: RecipeStatus = .successful, analysis: String, actions: [String] = [], links: [String] = [],
        json: String = ""
    ) {
        self.status = status
        self.analysis = analysis
        self.actions = actions
        self.links = links
        self.json = json
    }

    public static func successful(_ analysis: String, actions: [String] = [], links: [String] = []) -> RecipeOutcome {
        RecipeOutcome(status: .successful, analysis: analysis, actions: actions, links: links)
    }

    public static func failed(_ analysis: String) -> RecipeOutcome {
        RecipeOutcome(status: .failed, analysis: analysis)
    }
}

import EuphrosyneCore

public typealias RecipeStatus = RecipeResult.Status
