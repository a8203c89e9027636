import EuphrosyneCore
import Foundation

/// Incidents and their chat cards as tests of the chat integrations need them, without running an engine.
public enum SampleIncidents {
    /// An incident for alert `alertname` with one firing alert per entry of `alerts` (its extra labels), in `state`,
    /// with `analysis` and debugging runs of `recipes` (reported).
    public static func incident(
        id: UUID = UUID(), alertname: String = "PodCrashLooping", alerts: [[String: String]] = [[:]],
        state: Incident.State = .analysed, analysis: Analysis? = nil, recipes: [String] = []
    ) -> Incident {
        let alertObjects: [JSONValue] = alerts.map { labels in
            .object(["status": .string("firing"),
                     "labels": .object(labels.merging(["alertname": alertname]) { $1 }.mapValues(JSONValue.string))])
        }
        var incident = Incident(id: id, payload: [
            "version": .string("4"), "groupKey": .string("{}:{alertname=\"\\(alertname)\"}"), "status": .string("firing"),
            "commonLabels": .object(["alertname": .string(alertname)]),
            "alerts": .array(alertObjects),
        ], callbackSecret: "secret", at: Date(timeIntervalSince1970: 1_764_364_800))
        incident.state = state
        incident.analysis = analysis
        incident.runs = recipes.enumerated().map { index, recipe in
            var run = RecipeRun(id: index + 1, recipe: recipe, kind: .debugging, description: recipe, name: "\(recipe)-\(index + 1)", timeoutSeconds: 60,
                                createdAt: Date(timeIntervalSince1970: 1_764_364_800))
            run.state = .reported
            return run
        }
        return incident
    }

    /// The card of `incident(…)`.
    public static func card(
        id: UUID = UUID(), alertname: String = "PodCrashLooping", alerts: [[String: String]] = [[:]],
        state: Incident.State = .analysed, analysis: Analysis? = nil, recipes: [String] = []
    ) -> IncidentCard {
        IncidentCard(incident(id: id, alertname: alertname, alerts: alerts, state: state, analysis: analysis, recipes: recipes))
    }
}
