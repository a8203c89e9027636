import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneServer
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The web dashboard, served by the API listener under `/ui/`.
///
/// Two halves, so that nothing is shown without the API's credentials:
/// - `pages` (open): `/` (a redirect), the frame of each page and its script and style sheet. They hold no data.
/// - `data` (mounted behind the API's authentication): the HTML fragments the script fetches with the token the
///   person typed (`/ui/fragments/…`), and the live stream of changes (`/ui/events`, Server-Sent Events fed by the
///   coordinator's `IncidentChanges`).
///
/// Every HTML answer carries a Content-Security-Policy that allows only this origin's script and style sheet.
public struct Dashboard: Sendable {
    let coordinator: IncidentCoordinator
    /// With several replicas: on one standing by, the event stream is the leader's, relayed.
    let forwarding: LeaderForwarding?
    let views = DashboardViews()
    let now: @Sendable () -> Date
    /// How many of the newest incidents the list filters (the rest are counted, not read).
    static let listScan = 1_000
    /// A comment line every so often keeps proxies from closing a quiet event stream.
    static let keepAlive = Duration.seconds(15)

    public init(coordinator: IncidentCoordinator, forwarding: LeaderForwarding? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.coordinator = coordinator
        self.forwarding = forwarding
        self.now = now
    }

    /// The open half: the frames and their assets.
    public var pages: any ListenerRoutes { PageRoutes(dashboard: self) }
    /// The half behind the API's authentication: fragments and events.
    public var data: any ListenerRoutes { DataRoutes(dashboard: self) }

    /// Allows this origin's script, style sheet and requests, and nothing else: no inline script, no plugins, no
    /// framing, forms only to this origin.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        + "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    static let cspHeader = HTTPField.Name("Content-Security-Policy")!
    static let noSniffHeader = HTTPField.Name("X-Content-Type-Options")!

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[Self.cspHeader] = contentSecurityPolicy
        headers[Dashboard.noSniffHeader] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    struct PageRoutes: ListenerRoutes {
        let dashboard: Dashboard

        func add(to router: some RouterMethods<BasicRequestContext>) {
            let views = dashboard.views
            router.get("/") { _, _ in
                Response(status: .seeOther, headers: [.location: "/ui/"])
            }
            // `/ui` and `/ui/` are one route (Hummingbird ignores a trailing slash).
            router.get("/ui/") { request, _ in
                Dashboard.html(views.page(title: "Incidents", view: "incidents", query: request.uri.query ?? ""))
            }
            router.get("/ui/incidents/{uuid}") { _, context in
                let text = context.parameters.get("uuid") ?? ""
                guard let id = UUID(uuidString: text) else {
                    return Dashboard.html(views.page(title: "No such incident", view: "missing"), status: .notFound)
                }
                return Dashboard.html(views.page(title: "Incident", view: "incident", incident: id))
            }
            router.get("/ui/effectiveness") { request, _ in
                Dashboard.html(views.page(title: "Effectiveness", view: "effectiveness", query: request.uri.query ?? ""))
            }
            router.get("/ui/assets/app.js") { _, _ in
                DashboardAssets.response(DashboardAssets.script, type: "text/javascript; charset=utf-8")
            }
            router.get("/ui/assets/app.css") { _, _ in
                DashboardAssets.response(DashboardAssets.styleSheet, type: "text/css; charset=utf-8")
            }
        }
    }

    struct DataRoutes: ListenerRoutes {
        let dashboard: Dashboard

        func add(to router: some RouterMethods<BasicRequestContext>) {
            let dashboard = self.dashboard
            router.get("/ui/fragments/incidents") { request, _ in
                let filter: IncidentFilter
                do throws(IncidentFilter.Problem) {
                    filter = try IncidentFilter(query: Dictionary(
                        request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { first, _ in first }))
                } catch {
                    throw APIError(.badRequest, code: "invalid_filter", message: error.message, field: error.field)
                }
                let page: IncidentPage
                do throws(CoordinatorError) {
                    page = try await dashboard.coordinator.incidents(offset: 0, limit: Dashboard.listScan)
                } catch {
                    throw APIError.from(error)
                }
                let now = dashboard.now()
                let shown = page.incidents.filter { filter.matches($0, now: now) }
                return Dashboard.html(dashboard.views.incidents(shown, filter: filter, scanned: page.incidents.count,
                                                                total: page.total, now: now))
            }
            router.get("/ui/fragments/incidents/{uuid}") { _, context in
                let text = context.parameters.get("uuid") ?? ""
                guard let id = UUID(uuidString: text) else { throw APIError.invalidIncidentID(text) }
                let incident: Incident?
                do throws(CoordinatorError) {
                    incident = try await dashboard.coordinator.incident(id)
                } catch {
                    throw APIError.from(error)
                }
                guard let incident else { throw APIError.incidentNotFound(id) }
                let catalog = await dashboard.coordinator.recipeCatalog()
                return Dashboard.html(dashboard.views.incident(incident, catalog: catalog, now: dashboard.now()))
            }
            router.get("/ui/fragments/effectiveness") { request, _ in
                let text = request.uri.queryParameters.get("days") ?? "30"
                guard let days = Int(text), DashboardViews.effectivenessPeriods.contains(where: { $0.days == days }) else {
                    throw APIError(.badRequest, code: "invalid_period", message: "days must be one of "
                                   + DashboardViews.effectivenessPeriods.map { String($0.days) }.joined(separator: ", "),
                                   field: "days")
                }
                return try await dashboard.effectiveness(days: days)
            }
            router.get("/ui/events") { request, _ in
                try dashboard.events(request)
            }
            // An action's button: the same approval as `POST /api/actions`, audited as `ui:<token name>`.
            router.post("/ui/actions") { request, _ in
                try await APIRoutes.approve(request, coordinator: dashboard.coordinator,
                                            approvedBy: Dashboard.approver(APICaller.current))
            }
        }
    }

    static var eventStreamHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        headers[Dashboard.noSniffHeader] = "nosniff"
        // Proxies that buffer answers (nginx, the usual Ingress) pass this one on as it comes.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return headers
    }

    /// `text/event-stream`: one `incident` event per saved change (`{"uuid","state","revision"}`), a comment line
    /// every `keepAlive`, until the client goes or the listener shuts down. Only the leader's coordinator saves
    /// changes: a replica standing by relays the leader's stream, and answers `503 not_leader` while no leader is
    /// known (the script tries again).
    func events(_ request: Request) throws -> Response {
        if let forwarding, let relay = forwarding.relay, request.headers[LeaderForwarding.forwardedBy] == nil {
            switch forwarding.leader() {
            case .this:
                break
            case .elsewhere(_, let api):
                var headers = HTTPFields()
                if let authorization = request.headers[.authorization] { headers[.authorization] = authorization }
                headers[LeaderForwarding.forwardedBy] = forwarding.identity
                let forwarded = LeaderForwarding.ForwardedRequest(method: .get, url: api + "/ui/events", headers: headers,
                                                                  body: ByteBuffer())
                return Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
                    // The leader's pieces, written here as they come; the stream ends with the leader's, or when this
                    // listener shuts down, and the script then reconnects.
                    let (pieces, output) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(512))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try? await cancelWhenGracefulShutdown {
                                try await relay(forwarded) { piece in output.yield(piece) }
                            }
                            output.finish()
                        }
                        for await piece in pieces { try await writer.write(piece) }
                        group.cancelAll()
                    }
                    try await writer.finish(nil)
                })
            case .unknown:
                var refusal = APIError(.serviceUnavailable, code: "not_leader",
                                       message: "no replica leads right now; retry shortly")
                refusal.headers[HTTPField.Name("Retry-After")!] = "3"
                throw refusal
            }
        }
        let changes = coordinator.changes.subscribe()
        return Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
            let (lines, output) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(512))
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await change in changes { output.yield(Self.event(change)) }
                        output.finish()
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: Self.keepAlive)
                            output.yield(": keep-alive\n\n")
                        }
                    }
                    output.yield(": connected\n\n")
                    for await line in lines {
                        try await writer.write(ByteBuffer(string: line))
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                output.finish()
            }
            try await writer.finish(nil)
        })
    }

    /// The most incidents the effectiveness page reads for one period (newest first, a page at a time).
    static let effectivenessScan = 10_000

    /// The effectiveness page: the incidents opened in the last `days` days, read from the store newest first.
    func effectiveness(days: Int) async throws -> Response {
        let to = now()
        let from = to.addingTimeInterval(-Double(days) * 86_400)
        var incidents: [Incident] = []
        var offset = 0
        var complete = true
        while true {
            let page: IncidentPage
            do throws(CoordinatorError) {
                page = try await coordinator.incidents(offset: offset, limit: 500)
            } catch {
                throw APIError.from(error)
            }
            incidents += page.incidents.filter { $0.createdAt >= from }
            offset += page.incidents.count
            // Newest first: a page that reaches before the period, or the end, is the last one needed.
            if page.incidents.isEmpty || offset >= page.total || page.incidents.contains(where: { $0.createdAt < from }) { break }
            if offset >= Self.effectivenessScan {
                complete = false
                break
            }
        }
        let report = EffectivenessReport(incidents: incidents, from: from, to: to)
        return Self.html(views.effectiveness(report, days: days, scanned: offset, complete: complete))
    }

    /// Who an approval from the dashboard is recorded as: `ui:<token name>` (`ui:hmac:<key id>` for a signed
    /// request), or `ui` when the API is open.
    static func approver(_ caller: String?) -> String {
        guard let caller else { return "ui" }
        if caller.hasPrefix("token:") { return "ui:" + caller.dropFirst("token:".count) }
        return "ui:" + caller
    }

    /// One Server-Sent Event for a saved change of an incident.
    static func event(_ change: IncidentChange) -> String {
        let data = #"{"uuid":"\#(change.id.uuidString.lowercased())","state":"\#(change.state.rawValue)","revision":\#(change.revision)}"#
        return "event: incident\ndata: \(data)\n\n"
    }
}
