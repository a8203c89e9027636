import Foundation

/// The `EUPHROSYNE_*` variables the reconciler sets for a recipe (extras travel in the environment, never in argv,
/// so recipes written for the original system keep parsing their argv strictly).
public struct RecipeEnvironment: Sendable, Hashable {
    /// Where to POST the result in local mode (carries the incident's secret).
    public var resultURL: String?
    public var incident: String?
    public var recipe: String?
    /// The Job-style name of this run.
    public var run: String?
    /// When the reconciler will stop the run.
    public var deadline: Date?
    /// The key to sign the result with (`EUPHROSYNE_RESULT_KEY`, the incident's secret), so the reconciler can tell
    /// it from one forged by anyone else who can publish on Redis. `RecipeRunner` signs with it by itself.
    public var resultKey: String?
    /// The whole environment, for a recipe's own settings (`JIRA_URL`, `PROMETHEUS_URL`…): read them from here, not
    /// from the process, so tests can give them.
    public var variables: [String: String]

    /// A setting from `variables`; nil when unset or empty.
    public func value(_ name: String) -> String? {
        guard let text = variables[name], !text.isEmpty else { return nil }
        return text
    }

    public init(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        resultURL = value("EUPHROSYNE_RESULT_URL")
        incident = value("EUPHROSYNE_INCIDENT")
        recipe = value("EUPHROSYNE_RECIPE")
        run = value("EUPHROSYNE_RUN")
        resultKey = value("EUPHROSYNE_RESULT_KEY")
        deadline = value("EUPHROSYNE_DEADLINE").flatMap(TimeInterval.init).map(Date.init(timeIntervalSince1970:))
        variables = environment
    }
}
