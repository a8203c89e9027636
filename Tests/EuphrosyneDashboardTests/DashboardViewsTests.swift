import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneDashboard

/// The dashboard's HTML as values: what came from alerts and recipes is shown as text, links only for http(s), the
/// frame holds no data, and the list's filters read and refuse what people type.
@Suite struct DashboardViewsTests {
    static let views = DashboardViews()
    static let now = Date(timeIntervalSince1970: 1_764_364_800 + 600)

    @Test func noTemplateWritesAValueUnescaped() {
        for template in [DashboardTemplates.page, DashboardTemplates.incidents, DashboardTemplates.incident] {
            #expect(!template.contains("{{{") && !template.contains("{{&"))
            #expect(!template.contains("<script>") && !template.contains(" on"), "no inline script or handler")
        }
    }

    @Test func alertAndRecipeTextIsShownAsText() {
        let hostile = "<script>alert(1)</script>"
        let analysis = Analysis(text: "found <img src=x onerror=alert(1)>", actions: ["jira"],
                                links: ["javascript:alert(1)", "https://grafana.example/d/1?a=1&b=2"], successful: [], shortfalls: [])
        let incident = SampleIncidents.incident(alertname: hostile, alerts: [["pod": "\"><b>x"]], analysis: analysis,
                                                recipes: ["dummy"])
        let list = Self.views.incidents([incident], filter: IncidentFilter(), scanned: 1, total: 1, now: Self.now)
        #expect(!list.contains("<script>") && list.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        let detail = Self.views.incident(incident, catalog: RecipeCatalog(debugging: [], actions: []))
        #expect(!detail.contains("<script>") && !detail.contains("<img") && !detail.contains("\"><b>"))
        #expect(detail.contains("found &lt;img src=x onerror=alert(1)&gt;"))
        #expect(!detail.contains("href=\"javascript:"), "a link that is not http(s) is text")
        #expect(detail.contains("href=\"https://grafana.example/d/1?a=1&amp;b=2\""))
    }

    @Test func theFrameHoldsNoDataAndLoadsOnlyItsOwnScript() {
        let page = Self.views.page(title: "Incidents", view: "incidents", query: "state=analysed&x=\"><script>")
        #expect(page.contains(#"<script src="/ui/assets/app.js" defer></script>"#))
        #expect(page.components(separatedBy: "<script").count == 2, "one script element, from this origin")
        #expect(page.contains("data-query=\"state=analysed&amp;x=&quot;&gt;&lt;script&gt;\""))
    }

    @Test func theListShowsEachIncidentsStateAgeRecipesAndActions() {
        let analysis = Analysis(text: "a", actions: ["jira", "restart"], links: [], successful: [], shortfalls: [])
        let incident = SampleIncidents.incident(state: .analysed, analysis: analysis, recipes: ["dummy", "logs"])
        let list = Self.views.incidents([incident], filter: IncidentFilter(), scanned: 1, total: 1, now: Self.now)
        #expect(list.contains("id=\"incident-\(incident.id.uuidString.lowercased())\""))
        #expect(list.contains("<span class=\"state state-analysed\">analysed</span>"))
        #expect(list.contains(">10 min</time>") && list.contains("<td>dummy, logs</td>") && list.contains("<td>jira, restart</td>"))
        #expect(list.contains("1 incident"))
        let none = Self.views.incidents([], filter: IncidentFilter(), scanned: 5, total: 9, now: Self.now)
        #expect(none.contains("No incident matches.") && none.contains("0 incidents among the newest 5 of 9"))
    }

    @Test func filtersReadWhatPeopleTypeAndSayWhatIsWrong() throws {
        let filter = try IncidentFilter(query: ["state": "analysed", "alert": "crash", "label": "pod = api", "since": "24"])
        #expect(filter.state == .analysed && filter.alert == "crash" && filter.label?.name == "pod"
                && filter.label?.value == "api" && filter.sinceHours == 24)
        #expect(try IncidentFilter(query: ["state": "", "alert": " "]) == IncidentFilter())
        for (query, field) in [(["state": "bogus"], "state"), (["label": "novalue"], "label"), (["since": "5"], "since"),
                               (["alert": String(repeating: "a", count: 201)], "alert")] {
            #expect(throws: IncidentFilter.Problem.self) { try IncidentFilter(query: query) }
            do { _ = try IncidentFilter(query: query) } catch { #expect(error.field == field) }
        }
        let incident = SampleIncidents.incident(alertname: "PodCrashLooping", alerts: [["pod": "api"]], state: .analysed)
        let at = incident.createdAt.addingTimeInterval(3_600 * 2)
        #expect(filter.matches(incident, now: at))
        #expect(!IncidentFilter(state: .resolved).matches(incident, now: at))
        #expect(!IncidentFilter(alert: "disk").matches(incident, now: at))
        #expect(!IncidentFilter(label: .init(name: "pod", value: "web")).matches(incident, now: at))
        #expect(!IncidentFilter(sinceHours: 1).matches(incident, now: at))
        #expect(filter.query == "state=analysed&alert=crash&label=pod%3Dapi&since=24")
    }
}
