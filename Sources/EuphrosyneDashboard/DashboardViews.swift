import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Mustache

/// The dashboard's pages and fragments, rendered from incidents: pure, so tests read the HTML they produce.
/// Everything that came from alerts, recipes or approvers goes into the templates as values, which Mustache
/// escapes; links are `href`s only for http(s).
struct DashboardViews: Sendable {
    let library: MustacheLibrary

    init() {
        var library = MustacheLibrary()
        // The templates are constants of this module: a failure here is a programming error caught by every test.
        for (name, text) in [("page", DashboardTemplates.page), ("incidents", DashboardTemplates.incidents),
                             ("incident", DashboardTemplates.incident), ("effectiveness", DashboardTemplates.effectiveness)] {
            do { try library.register(text, named: name) } catch { preconditionFailure("template \(name): \(error)") }
        }
        self.library = library
    }

    /// The frame of every page: no data, only what the script needs to fetch it.
    func page(title: String, view: String, incident: UUID? = nil, query: String = "") -> String {
        render("page", [
            "title": title, "view": view, "incident": incident?.uuidString.lowercased() ?? "", "query": query,
            "incidentsCurrent": view == "incidents" || view == "incident", "effectivenessCurrent": view == "effectiveness",
        ])
    }

    /// The list: the filters as they are, a line saying how many matched, one row per incident, newest first.
    func incidents(_ incidents: [Incident], filter: IncidentFilter, scanned: Int, total: Int, now: Date) -> String {
        let states: [[String: Any]] = [["value": "", "label": "Any", "selected": filter.state == nil]]
            + Incident.State.allCases.map { ["value": $0.rawValue, "label": $0.rawValue, "selected": filter.state == $0] }
        let periods: [[String: Any]] = IncidentFilter.periods.map { period in
            ["value": period.hours.map(String.init) ?? "", "label": period.label, "selected": filter.sinceHours == period.hours]
        }
        var summary = incidents.count == 1 ? "1 incident" : "\(incidents.count) incidents"
        if scanned < total { summary += " among the newest \(scanned) of \(total)" }
        return render("incidents", [
            "states": states, "periods": periods, "alert": filter.alert ?? "",
            "label": filter.label.map { "\($0.name)=\($0.value)" } ?? "", "summary": summary,
            "rows": incidents.map { row($0, now: now) },
        ])
    }

    func row(_ incident: Incident, now: Date) -> [String: Any] {
        [
            "id": incident.id.uuidString.lowercased(), "alert": incident.alert.summary, "state": incident.state.rawValue,
            "created": RFC3339.format(incident.createdAt), "age": Self.age(of: incident.createdAt, now: now),
            "recipes": incident.runs.filter { $0.kind == .debugging }.map(\.recipe).joined(separator: ", "),
            "actions": (incident.analysis?.actions ?? []).joined(separator: ", "),
        ]
    }

    /// One incident, whole, with a form per action that can still be approved (a field per input the recipe
    /// declares in `catalog`).
    func incident(_ incident: Incident, catalog: RecipeCatalog, now: Date = Date()) -> String {
        let notification = incident.alert
        var labels = notification.commonLabels.merging(notification.groupLabels) { common, _ in common }
        if labels.isEmpty, let first = notification.alerts.first { labels = first.labels }
        var annotations = notification.commonAnnotations
        if annotations.isEmpty, let first = notification.alerts.first { annotations = first.annotations }
        let analysis: [String: Any]? = incident.analysis.map { analysis in
            [
                "text": analysis.text, "actions": analysis.actions.isEmpty ? "none" : analysis.actions.joined(separator: ", "),
                "hasLinks": !analysis.links.isEmpty,
                "links": analysis.links.map { link -> [String: Any] in
                    ChatText.isWebAddress(link) ? ["href": link, "text": link] : ["text": link]
                },
            ]
        }
        var object: [String: Any] = [
            "id": incident.id.uuidString.lowercased(), "timeline": IncidentTimeline.geometry(incident, now: now),
            "approvable": incident.approvableActions.map { action -> [String: Any] in
                ["action": action, "inputs": (catalog.action(named: action)?.inputs ?? []).map { ["input": $0] }]
            },
            "noActions": incident.state.isClosed ? "The incident is closed: its actions can no longer be approved here."
                : incident.analysis == nil ? "Actions can be approved once the incident is analysed." : "Nothing was suggested.",
            "alert": notification.summary, "state": incident.state.rawValue, "created": RFC3339.format(incident.createdAt),
            "notifications": incident.notificationCount,
            "labels": labels.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "hasAnnotations": !annotations.isEmpty,
            "annotations": annotations.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "alerts": notification.alerts.map { alert in
                [
                    "status": alert.status?.rawValue ?? "", "summary": alert.annotations["summary"] ?? "",
                    "labels": alert.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
                ]
            },
            "runs": incident.runs.map { run in
                [
                    "recipe": run.recipe, "kind": run.kind.rawValue, "job": run.name, "state": run.state.rawValue,
                    "started": run.startedAt.map(RFC3339.format) ?? "", "finished": run.finishedAt.map(RFC3339.format) ?? "",
                    "found": run.failureReason ?? run.result?.results.analysis ?? "",
                ]
            },
            "attempts": incident.approvalAttempts.map { attempt in
                [
                    "at": RFC3339.format(attempt.at), "by": attempt.by ?? "anonymous",
                    "actions": attempt.actions.joined(separator: ", "),
                    "outcome": attempt.outcome.rawValue + (attempt.reason.map { ": \($0)" } ?? ""),
                ]
            },
        ]
        // Left out when there is none: Mustache shows a section for any value, an empty string included.
        if let reason = incident.closedReason, !reason.isEmpty { object["closedReason"] = reason }
        if let analysis { object["analysis"] = analysis }
        return render("incident", object)
    }

    /// The effectiveness page for the last `days` days.
    func effectiveness(_ report: EffectivenessReport, days: Int, scanned: Int, complete: Bool) -> String {
        let periods: [[String: Any]] = Self.effectivenessPeriods.map { period in
            ["value": String(period.days), "label": period.label, "selected": period.days == days]
        }
        var summary = report.incidents == 1 ? "1 incident" : "\(report.incidents) incidents"
        summary += " opened from \(RFC3339.format(report.from)) to \(RFC3339.format(report.to))"
        if !complete { summary += " (the newest \(scanned) read: older ones in the period are left out)" }
        let alertChart = DashboardCharts.partOfWhole(report.alerts.map { ($0.alertName, $0.opened, $0.resolvedWithoutAction) })
        let recipeChart = DashboardCharts.stacked(report.recipes.map { row in
            ("\(row.recipe)", [(row.succeeded, "#2e7d32"), (row.failed, "#c62828"), (row.timedOut, "#b26a00"),
                               (row.runs - row.succeeded - row.failed - row.timedOut, "#8a8a90")])
        })
        var object: [String: Any] = [
            "periods": periods, "summary": summary,
            "alerts": report.alerts.map { row -> [String: Any] in
                [
                    "name": row.alertName, "opened": row.opened, "quiet": row.resolvedWithoutAction,
                    "analysis": Self.medianAndP90(row.timeToAnalysis), "resolve": Self.medianAndP90(row.timeToResolve),
                    "approved": row.approvedActions.isEmpty ? "none"
                        : row.approvedActions.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
                            .map { "\($0.key) (\($0.value))" }.joined(separator: ", "),
                ]
            },
            "recipes": report.recipes.map { row -> [String: Any] in
                [
                    "name": row.recipe, "kind": row.kind.rawValue, "runs": row.runs, "succeeded": row.succeeded,
                    "failed": row.failed, "timedOut": row.timedOut,
                    "approved": row.kind == .debugging ? String(row.suggestionsApproved) : "—",
                ]
            },
        ]
        if let alertChart { object["alertChart"] = alertChart }
        if let recipeChart { object["recipeChart"] = recipeChart }
        return render("effectiveness", object)
    }

    static let effectivenessPeriods: [(days: Int, label: String)] = [(1, "Last day"), (7, "Last week"),
                                                                      (30, "Last 30 days"), (90, "Last 90 days")]

    static func medianAndP90(_ values: [TimeInterval]) -> String {
        guard !values.isEmpty else { return "—" }
        return EffectivenessReport.duration(EffectivenessReport.percentile(values, 0.5)) + " / "
            + EffectivenessReport.duration(EffectivenessReport.percentile(values, 0.9))
    }

    private func render(_ template: String, _ object: [String: Any]) -> String {
        library.render(object, withTemplate: template) ?? ""
    }

    /// `3 min`, `2 h`, `5 d`: how long ago.
    static func age(of date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds) s"
        case ..<3_600: return "\(seconds / 60) min"
        case ..<86_400: return "\(seconds / 3_600) h"
        default: return "\(seconds / 86_400) d"
        }
    }
}
