import EuphrosyneCore
import Foundation

/// How well the automation worked over a period, from the incidents opened in it: per alert name, how many incidents,
/// how many resolved with no action, the time to the analysis and to the resolve (median and p90), and which actions
/// were approved; per recipe, how often it ran, succeeded, failed, timed out, and how often an action it suggested
/// was approved. Pure: the dashboard's effectiveness page renders it; tests build it from incidents.
struct EffectivenessReport: Sendable, Hashable {
    struct AlertRow: Sendable, Hashable {
        var alertName: String
        var opened = 0
        var resolvedWithoutAction = 0
        var timeToAnalysis: [TimeInterval] = []
        var timeToResolve: [TimeInterval] = []
        /// Action name → approvals that included it.
        var approvedActions: [String: Int] = [:]
    }

    struct RecipeRow: Sendable, Hashable {
        var recipe: String
        var kind: RecipeKind
        var runs = 0
        var succeeded = 0
        var failed = 0
        var timedOut = 0
        var cancelled = 0
        /// Runs whose suggestions include an action a person then approved in the same incident.
        var suggestionsApproved = 0
    }

    var from: Date
    var to: Date
    var incidents = 0
    var alerts: [AlertRow] = []
    var recipes: [RecipeRow] = []

    init(incidents: [Incident], from: Date, to: Date) {
        self.from = from
        self.to = to
        var alerts: [String: AlertRow] = [:]
        var recipes: [String: RecipeRow] = [:]
        for incident in incidents where incident.createdAt >= from && incident.createdAt <= to {
            self.incidents += 1
            let name = incident.alert.alertName ?? "unnamed alert"
            var row = alerts[name] ?? AlertRow(alertName: name)
            row.opened += 1
            if incident.state == .resolved, incident.approvals.isEmpty { row.resolvedWithoutAction += 1 }
            if incident.analysis != nil, let analysed = Self.analysedAt(incident) {
                row.timeToAnalysis.append(analysed.timeIntervalSince(incident.createdAt))
            }
            if let resolved = incident.resolvedAt { row.timeToResolve.append(resolved.timeIntervalSince(incident.createdAt)) }
            let approved = Set(incident.approvals.flatMap { $0.actions.map(\.name) })
            for approval in incident.approvals {
                for action in Set(approval.actions.map(\.name)) { row.approvedActions[action, default: 0] += 1 }
            }
            alerts[name] = row
            for run in incident.runs {
                let key = "\(run.kind.rawValue) \(run.recipe)"
                var recipe = recipes[key] ?? RecipeRow(recipe: run.recipe, kind: run.kind)
                recipe.runs += 1
                switch run.state {
                case .reported: if run.succeeded { recipe.succeeded += 1 } else { recipe.failed += 1 }
                case .failed: recipe.failed += 1
                case .timedOut: recipe.timedOut += 1
                case .cancelled: recipe.cancelled += 1
                case .pending, .running: break
                }
                if let suggested = run.result?.results.actions, !approved.isDisjoint(with: suggested) {
                    recipe.suggestionsApproved += 1
                }
                recipes[key] = recipe
            }
        }
        self.alerts = alerts.values.sorted { ($0.opened, $1.alertName) > ($1.opened, $0.alertName) }
        self.recipes = recipes.values.sorted { ($0.runs, $1.recipe) > ($1.runs, $0.recipe) }
    }

    /// When the diagnosis ended: the last debugging run's end (the analysis is made then).
    static func analysedAt(_ incident: Incident) -> Date? {
        incident.runs.filter { $0.kind == .debugging }.compactMap(\.finishedAt).max()
    }

    /// The value below which `fraction` of `values` lie (nearest rank); nil for none.
    static func percentile(_ values: [TimeInterval], _ fraction: Double) -> TimeInterval? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// `45 s`, `12 min`, `3.5 h`, `2.1 d`; `—` for none.
    static func duration(_ seconds: TimeInterval?) -> String {
        guard let seconds else { return "—" }
        switch seconds {
        case ..<60: return "\(Int(seconds.rounded())) s"
        case ..<3_600: return "\(Int((seconds / 60).rounded())) min"
        case ..<86_400: return String(format: "%.1f h", seconds / 3_600)
        default: return String(format: "%.1f d", seconds / 86_400)
        }
    }
}
