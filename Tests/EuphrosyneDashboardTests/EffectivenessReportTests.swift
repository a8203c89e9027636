import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneDashboard

/// The effectiveness figures from incidents as values, and their page: charts whose labels are text, tables with
/// every figure.
@Suite struct EffectivenessReportTests {
    static let start = Date(timeIntervalSince1970: 1_764_364_800)

    /// An incident of `alertname` opened `minutes` after `start`, diagnosed by `dummy` in `analysedAfter` seconds
    /// (suggesting `restart`), resolved after `resolvedAfter` seconds, with `restart` approved when `approved`.
    static func incident(_ alertname: String, minutes: Double, analysedAfter: TimeInterval = 30,
                         resolvedAfter: TimeInterval? = nil, approved: Bool = false,
                         runState: RecipeRun.State = .reported) -> Incident {
        var incident = SampleIncidents.incident(alertname: alertname, state: .analysed,
                                                analysis: Analysis(text: "a", actions: ["restart"], links: [], successful: [], shortfalls: []),
                                                recipes: ["dummy"])
        incident.createdAt = start.addingTimeInterval(minutes * 60)
        incident.runs[0].state = runState
        incident.runs[0].finishedAt = incident.createdAt.addingTimeInterval(analysedAfter)
        incident.runs[0].result = RecipeResult(incident: incident.id.uuidString, name: "dummy",
                                               status: runState == .reported ? .successful : .failed,
                                               results: .init(actions: ["restart"], analysis: "a"))
        if approved {
            incident.approvals = [Approval(id: 1, actions: [ActionRequest(name: "restart")], approvedAt: incident.createdAt,
                                           approvedBy: "ui:oncall", runIDs: [], outcome: nil)]
        }
        if let resolvedAfter {
            incident.resolvedAt = incident.createdAt.addingTimeInterval(resolvedAfter)
            incident.state = .resolved
        }
        return incident
    }

    @Test func perAlertNameAndPerRecipeOverThePeriod() throws {
        let incidents = [
            Self.incident("DiskFull", minutes: 1, analysedAfter: 10, resolvedAfter: 600),
            Self.incident("DiskFull", minutes: 2, analysedAfter: 20, resolvedAfter: 1_200),
            Self.incident("DiskFull", minutes: 3, analysedAfter: 30, resolvedAfter: 1_800, approved: true),
            Self.incident("PodCrashLooping", minutes: 4, approved: true, runState: .timedOut),
            Self.incident("TooOld", minutes: -10),
        ]
        let report = EffectivenessReport(incidents: incidents, from: Self.start, to: Self.start.addingTimeInterval(3_600))
        #expect(report.incidents == 4)
        let disk = try #require(report.alerts.first)
        #expect(disk.alertName == "DiskFull" && disk.opened == 3 && disk.resolvedWithoutAction == 2)
        #expect(EffectivenessReport.percentile(disk.timeToAnalysis, 0.5) == 20)
        #expect(EffectivenessReport.percentile(disk.timeToAnalysis, 0.9) == 30)
        #expect(EffectivenessReport.percentile(disk.timeToResolve, 0.5) == 1_200)
        #expect(disk.approvedActions == ["restart": 1])
        #expect(report.alerts.map(\.alertName) == ["DiskFull", "PodCrashLooping"], "the old one is outside the period")
        let dummy = try #require(report.recipes.first)
        #expect(dummy.recipe == "dummy" && dummy.runs == 4 && dummy.succeeded == 3 && dummy.timedOut == 1)
        #expect(dummy.suggestionsApproved == 2)
        #expect(EffectivenessReport.duration(45) == "45 s" && EffectivenessReport.duration(720) == "12 min")
        #expect(EffectivenessReport.duration(5_400) == "1.5 h" && EffectivenessReport.duration(nil) == "—")
    }

    @Test func thePageDrawsChartsWithLabelsAsTextAndTablesWithEveryFigure() {
        let incidents = [Self.incident("<script>x</script>", minutes: 1, resolvedAfter: 60),
                         Self.incident("DiskFull", minutes: 2, approved: true)]
        let report = EffectivenessReport(incidents: incidents, from: Self.start, to: Self.start.addingTimeInterval(3_600))
        let html = DashboardViews().effectiveness(report, days: 1, scanned: 2, complete: true)
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;x&lt;/script&gt;"))
        #expect(html.components(separatedBy: "<svg role=\"img\"").count == 3, "two charts")
        #expect(html.contains("<title id=\"alert-chart-title\">"))
        #expect(html.contains("<th scope=\"row\">DiskFull</th><td>1</td><td>0</td><td>30 s / 30 s</td><td>—</td><td>restart (1)</td>"))
        #expect(html.contains("<th scope=\"row\">dummy</th><td>debugging</td><td>2</td><td>2</td><td>0</td><td>0</td><td>1</td>"))
        #expect(html.contains("2 incidents opened from"))
        let empty = DashboardViews().effectiveness(EffectivenessReport(incidents: [], from: Self.start, to: Self.start),
                                                   days: 1, scanned: 0, complete: true)
        #expect(!empty.contains("<svg") && empty.contains("No incident in this period."))
    }

    @Test func barsScaleToTheLargestAndKeepSmallCountsVisible() {
        #expect(DashboardCharts.scaled(0, of: 10) == 0)
        #expect(DashboardCharts.scaled(10, of: 10) == DashboardCharts.barsWidth)
        #expect(DashboardCharts.scaled(1, of: 10_000) == 1)
        #expect(DashboardCharts.shortened(String(repeating: "a", count: 40)).count == 28)
    }
}
