import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import NIOCore
import Testing

@testable import EuphrosyneDashboard

/// The dashboard on the API listener against a real coordinator: the frames are open and carry the
/// Content-Security-Policy, the data needs the API's token, and the event stream announces each saved change.
@Suite struct DashboardRoutesTests {
    static let catalog: RecipeCatalog = {
        var jira = Recipe.fake("jira", .action)
        jira.inputs = ["summary"]
        return RecipeCatalog(debugging: [.fake("dummy")], actions: [jira])
    }()
    static let token = "t0ken-for-the-dashboard"

    static func withDashboard(_ body: @Sendable (IncidentCoordinator, Int) async throws -> Void) async throws {
        let launcher = ScriptedLauncher([
            "dummy": .report(analysis: "found <b>it</b>", actions: ["jira"], delay: .zero),
            "jira": .report(analysis: "OPS-1 opened", actions: [], delay: .zero),
        ])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: RecordingNotifier(),
            store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .milliseconds(200))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        let dashboard = Dashboard(coordinator: coordinator)
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let router = Listeners.apiRouter(coordinator: coordinator, readiness: Readiness(),
                                             credentials: APICredentials(bearerTokens: ["oncall": token]),
                                             routes: [dashboard.pages], protectedRoutes: [dashboard.data])
            try await RunningServer.with([router]) { ports in try await body(coordinator, ports[0]) }
        }
    }

    static func get(_ port: Int, _ path: String, token: String? = nil) async throws -> (status: Int, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        // Redirects are answers to check here, not to follow.
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(redirectConfiguration: .disallow))
        defer { _ = client.shutdown() }
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        return (Int(response.status.code), headers, String(buffer: body))
    }

    @Test func theFramesAreOpenCarryThePolicyAndNoData() async throws {
        try await Self.withDashboard { coordinator, port in
            _ = try await coordinator.openIncident(payload: .unique)
            let root = try await Self.get(port, "/")
            #expect(root.status == 303 && root.headers["location"] == "/ui/")
            let page = try await Self.get(port, "/ui/")
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
            #expect(page.headers["x-content-type-options"] == "nosniff")
            #expect(!page.body.contains("incident-"), "no incident in the frame")
            let script = try await Self.get(port, "/ui/assets/app.js")
            #expect(script.status == 200 && script.headers["content-type"] == "text/javascript; charset=utf-8")
            #expect(try await Self.get(port, "/ui/assets/app.css").status == 200)
            let missing = try await Self.get(port, "/ui/incidents/not-a-uuid")
            #expect(missing.status == 404 && missing.body.contains("No such incident"))
        }
    }

    @Test func theDataNeedsTheAPIsToken() async throws {
        try await Self.withDashboard { coordinator, port in
            let id = try await coordinator.openIncident(payload: .unique).id
            try await waitUntil("the analysis") { try await coordinator.incident(id)?.state == .analysed }
            for path in ["/ui/fragments/incidents", "/ui/fragments/incidents/\(id.uuidString)", "/ui/events"] {
                #expect(try await Self.get(port, path).status == 401, "\(path)")
                #expect(try await Self.get(port, path, token: "wrong").status == 401, "\(path)")
            }
            let list = try await Self.get(port, "/ui/fragments/incidents", token: Self.token)
            #expect(list.status == 200 && list.body.contains("incident-\(id.uuidString.lowercased())"))
            #expect(list.headers["content-security-policy"] != nil)
            let detail = try await Self.get(port, "/ui/fragments/incidents/\(id.uuidString)", token: Self.token)
            #expect(detail.status == 200 && detail.body.contains("found &lt;b&gt;it&lt;/b&gt;"))
            let filtered = try await Self.get(port, "/ui/fragments/incidents?state=resolved", token: Self.token)
            #expect(filtered.body.contains("No incident matches."))
            let bad = try await Self.get(port, "/ui/fragments/incidents?state=bogus", token: Self.token)
            #expect(bad.status == 400 && bad.body.contains("invalid_filter"))
            let unknown = try await Self.get(port, "/ui/fragments/incidents/\(UUID().uuidString)", token: Self.token)
            #expect(unknown.status == 404)
        }
    }

    static func post(_ port: Int, _ path: String, _ body: String, token: String?, key: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: key)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func anActionsButtonApprovesItOnceAsTheTokensOwner() async throws {
        try await Self.withDashboard { coordinator, port in
            let id = try await coordinator.openIncident(payload: .unique).id
            try await waitUntil("the analysis") { try await coordinator.incident(id)?.state == .analysed }
            let detail = try await Self.get(port, "/ui/fragments/incidents/\(id.uuidString)", token: Self.token)
            #expect(detail.body.contains("<form class=\"approve\" data-incident=\"\(id.uuidString.lowercased())\" data-action=\"jira\">"))
            #expect(detail.body.contains("<input name=\"summary\" autocomplete=\"off\">"))
            let body = #"{"uuid":"\#(id.uuidString)","actions":[{"name":"jira","data":{"summary":"API down"}}]}"#
            #expect(try await Self.post(port, "/ui/actions", body, token: nil, key: "k1").status == 401)
            let first = try await Self.post(port, "/ui/actions", body, token: Self.token, key: "ui-k1")
            #expect(first.status == 202, "\(first.body)")
            let again = try await Self.post(port, "/ui/actions", body, token: Self.token, key: "ui-k1")
            #expect(again.status == 200 && again.body.contains(#""duplicate":true"#))
            try await waitUntil("the outcome") { try await coordinator.incident(id)?.state == .done }
            let incident = try #require(try await coordinator.incident(id))
            #expect(incident.approvals.count == 1 && incident.approvals.first?.approvedBy == "ui:oncall")
            #expect(incident.approvals.first?.actions.first?.data == ["summary": .string("API down")])
            let done = try await Self.get(port, "/ui/fragments/incidents/\(id.uuidString)", token: Self.token)
            #expect(done.body.contains("ui:oncall") && done.body.contains("approved"))
        }
    }

    @Test func theApproverIsNamedAfterTheCaller() {
        #expect(Dashboard.approver("token:oncall") == "ui:oncall")
        #expect(Dashboard.approver("hmac:ci") == "ui:hmac:ci")
        #expect(Dashboard.approver(nil) == "ui")
    }

    @Test func theEventStreamAnnouncesEachSavedChange() async throws {
        try await Self.withDashboard { coordinator, port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ui/events")
            request.headers.add(name: "Authorization", value: "Bearer \(Self.token)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 200 && response.headers.first(name: "content-type") == "text/event-stream")
            try await waitUntil("the subscription") { coordinator.changes.subscriberCount == 1 }
            let id = try await coordinator.openIncident(payload: .unique).id
            var received = ""
            for try await chunk in response.body {
                received += String(buffer: chunk)
                if received.contains(#""uuid":"\#(id.uuidString.lowercased())","state":"analysed""#) { break }
            }
            #expect(received.hasPrefix(": connected\n\n"))
            #expect(received.contains("event: incident\ndata: {\"uuid\":\"\(id.uuidString.lowercased())\""))
        }
    }
}
