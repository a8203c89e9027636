import EuphrosyneCore
import Foundation

/// The timeline of one incident, as the geometry its SVG template places: what happened when (received, analysed,
/// each approval, resolved) as marks on a time axis, and each run as a bar from its start to its end, coloured by
/// how it ended. Pure: the incident page renders it; tests read it.
enum IncidentTimeline {
    static let width = 720
    static let labelWidth = 150
    static let rowHeight = 20
    static let marksHeight = 34

    /// The colour of a run by how it ended (the legend says the same in words).
    static func fill(_ run: RecipeRun) -> String {
        switch run.state {
        case .reported: run.succeeded ? "#2e7d32" : "#c62828"
        case .failed: "#c62828"
        case .timedOut: "#b26a00"
        case .cancelled: "#8a8a90"
        case .pending, .running: "#0b57d0"
        }
    }

    /// The moments worth a mark, oldest first.
    static func marks(_ incident: Incident) -> [(label: String, at: Date)] {
        var marks: [(String, Date)] = [("received", incident.createdAt)]
        if incident.analysis != nil, let analysed = EffectivenessReport.analysedAt(incident) { marks.append(("analysed", analysed)) }
        for approval in incident.approvals { marks.append(("approval \(approval.id)", approval.approvedAt)) }
        if let resolved = incident.resolvedAt { marks.append(("resolved", resolved)) }
        return marks.sorted { $0.1 < $1.1 }
    }

    /// The SVG's values: its size, the marks, a bar per run; `now` ends the runs still going.
    static func geometry(_ incident: Incident, now: Date) -> [String: Any] {
        let start = incident.createdAt
        let ends = incident.runs.compactMap { $0.finishedAt ?? ($0.state.isFinished ? nil : now) }
            + marks(incident).map(\.at) + [incident.updatedAt]
        let end = max(ends.max() ?? start, start.addingTimeInterval(1))
        let span = end.timeIntervalSince(start)
        let plot = Double(width - labelWidth - 10)
        func x(_ date: Date) -> Int { labelWidth + Int((date.timeIntervalSince(start) / span * plot).rounded()) }

        let runs = incident.runs
        let height = marksHeight + runs.count * rowHeight + 24
        let marks: [[String: Any]] = marks(incident).enumerated().map { index, mark in
            // Labels alternate between two lines so that marks close in time stay readable.
            ["x": x(mark.at), "label": mark.label, "labelY": index % 2 == 0 ? 12 : 26, "bottom": height - 18]
        }
        let bars: [[String: Any]] = runs.enumerated().map { index, run in
            let y = marksHeight + index * rowHeight
            let from = x(run.startedAt ?? run.createdAt)
            let to = x(run.finishedAt ?? (run.state.isFinished ? run.startedAt ?? run.createdAt : now))
            return [
                "label": DashboardCharts.shortened("\(run.recipe) (\(run.state.rawValue))"), "textY": y + 13,
                "x": from, "y": y + 3, "width": max(3, to - from), "fill": fill(run),
            ]
        }
        return [
            "width": width, "height": height, "marks": marks, "bars": bars, "axisY": height - 4,
            "startLabel": RFC3339.format(start), "spanLabel": EffectivenessReport.duration(span),
            "endX": width - 10,
        ]
    }
}
