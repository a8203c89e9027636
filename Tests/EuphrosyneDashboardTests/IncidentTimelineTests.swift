import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneDashboard

/// The incident's timeline: its marks in order on a time axis, each run as a bar from start to end in the colour of
/// how it ended, a run still going drawn up to now.
@Suite struct IncidentTimelineTests {
    @Test func marksAndBarsSitWhereTheirTimesAre() throws {
        var incident = SampleIncidents.incident(state: .resolved,
                                                analysis: Analysis(text: "a", actions: ["jira"], links: [], successful: [], shortfalls: []),
                                                recipes: ["dummy", "logs", "slow"])
        let t0 = incident.createdAt
        incident.runs[0].startedAt = t0
        incident.runs[0].finishedAt = t0.addingTimeInterval(10)
        incident.runs[0].result = RecipeResult(incident: incident.id.uuidString, name: "dummy", status: .successful,
                                               results: .init(actions: [], analysis: "a"))
        incident.runs[1].state = .timedOut
        incident.runs[1].startedAt = t0
        incident.runs[1].finishedAt = t0.addingTimeInterval(50)
        incident.runs[2].state = .running
        incident.runs[2].startedAt = t0.addingTimeInterval(50)
        incident.approvals = [Approval(id: 1, actions: [ActionRequest(name: "jira")], approvedAt: t0.addingTimeInterval(60),
                                       approvedBy: "ui:oncall", runIDs: [], outcome: nil)]
        incident.resolvedAt = t0.addingTimeInterval(80)
        incident.updatedAt = t0.addingTimeInterval(80)
        let geometry = IncidentTimeline.geometry(incident, now: t0.addingTimeInterval(100))
        let marks = try #require(geometry["marks"] as? [[String: Any]])
        #expect(marks.map { $0["label"] as? String } == ["received", "analysed", "approval 1", "resolved"])
        let xs = marks.compactMap { $0["x"] as? Int }
        #expect(xs == xs.sorted() && xs.first == IncidentTimeline.labelWidth)
        let bars = try #require(geometry["bars"] as? [[String: Any]])
        #expect(bars.map { $0["fill"] as? String } == ["#2e7d32", "#b26a00", "#0b57d0"])
        let plot = Double(IncidentTimeline.width - IncidentTimeline.labelWidth - 10)
        #expect(bars[1]["width"] as? Int == Int((50 / 100 * plot).rounded()), "50 s of a 100 s axis")
        #expect(bars[2]["x"] as? Int == IncidentTimeline.labelWidth + Int((50 / 100 * plot).rounded()))
        #expect(geometry["spanLabel"] as? String == "2 min", "100 s")
    }

    @Test func theIncidentPageDrawsItWithRecipeNamesAsText() {
        let incident = SampleIncidents.incident(state: .diagnosing, recipes: ["<b>bold</b>"])
        let html = DashboardViews().incident(incident, catalog: RecipeCatalog(debugging: [], actions: []),
                                             now: incident.createdAt.addingTimeInterval(5))
        #expect(html.contains("<title id=\"timeline-title\">"))
        #expect(!html.contains("<b>bold</b>") && html.contains("&lt;b&gt;bold&lt;/b&gt; (reported)"))
    }
}
