import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `http-errors` (debugging), as in the original system: for the Grafana panel the alert links to, asks the
    /// Data Aggregator `POST {aggregator}/api/sources/grafana` with
    /// `{"uuid": "<incident>", "params": {"dashboard_id": "<dashboard uid>", "panel_id": <panel id>}}` and reports
    /// what it answers (its `analysis`, `summary` or `message` text, else a compact view of its JSON).
    ///
    /// The aggregator is the `--aggregator-address` argument (`host:port` or a URL); the dashboard UID and the panel
    /// id come from the alert's `dashboardURL`/`panelURL` (`https://grafana/d/<uid>/<slug>?orgId=1&viewPanel=<id>`).
    /// Settings: `HTTP_ERRORS_SUGGEST` (comma-separated, default `jira`, `none` for none),
    /// `HTTP_ERRORS_TIMEOUT_SECONDS` (default 30).
    @Sendable public static func httpErrors(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await HTTPErrorsRecipe(context: context).run()
    }
}

/// The pieces of `http-errors`: finding the panels, building the request, reading the answer.
struct HTTPErrorsRecipe {
    /// One Grafana panel to ask about.
    struct Panel: Hashable {
        /// The dashboard UID, as `/d/<uid>/…` carries it.
        var dashboard: String
        /// `viewPanel`'s value: an integer for classic panels (sent as a JSON number), else the text.
        var panel: JSONValue
        var panelURL: String

        var params: [String: JSONValue] { ["dashboard_id": .string(dashboard), "panel_id": panel] }

        var label: String {
            let id: String
            switch panel {
            case .integer(let number): id = String(number)
            case .string(let text): id = text
            default: id = "?"
            }
            return "panel \(id) of dashboard \(dashboard)"
        }
    }

    let context: RecipeContext

    /// Tries per request when the aggregator cannot be reached (a refused or failed connection).
    static let attempts = 3
    /// 250 ms, then 500 ms, between attempts; only a failed connection is tried again.
    static let retry = RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(250), maxDelay: .seconds(1),
                                   jittered: false)

    var suggested: [String] {
        context.environment.suggestedActions("HTTP_ERRORS_SUGGEST", fallback: ["jira"])
    }

    var timeout: TimeAmount {
        let seconds = context.environment.value("HTTP_ERRORS_TIMEOUT_SECONDS").flatMap(Double.init) ?? 30
        return .milliseconds(Int64(min(max(seconds, 1), 600) * 1000))
    }

    // MARK: Inputs

    /// `POST` target for `--aggregator-address`: `host:port` gets `http://`; a URL keeps its scheme and path prefix.
    static func endpoint(_ address: String) throws(RecipeError) -> String {
        let trimmed = address.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw .failed("no Data Aggregator to ask: --aggregator-address is empty (set the reconciler's --aggregator-address or AGGREGATOR_ADDRESS)")
        }
        var base = trimmed.contains("://") ? trimmed : "http://" + trimmed
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw .failed("--aggregator-address \"\(address)\" is neither host:port nor an http(s) URL")
        }
        return base + "/api/sources/grafana"
    }

    enum Lookup: Hashable {
        case found(Panel)
        /// Why the links name no panel.
        case missing(String)
    }

    /// The dashboard UID and panel id of a Grafana alert's links, or why there are none.
    static func panel(dashboardURL: String?, panelURL: String?) -> Lookup {
        guard let panelURL, let components = URLComponents(string: panelURL) else {
            return .missing(dashboardURL == nil ? "no dashboardURL or panelURL" : "a dashboardURL but no panelURL")
        }
        let uid = dashboardUID(components) ?? dashboardURL.flatMap(URLComponents.init(string:)).flatMap(dashboardUID)
        guard let uid else { return .missing("no dashboard UID (/d/<uid>/…) in \(dashboardURL ?? panelURL)") }
        let items = components.queryItems ?? []
        guard let raw = ["viewPanel", "panelId", "editPanel"].lazy
            .compactMap({ name in items.first { $0.name == name }?.value }).first(where: { !$0.isEmpty })
        else {
            return .missing("no viewPanel in the panelURL \(panelURL)")
        }
        // Grafana 11's scenes write `viewPanel=panel-4`.
        let id = raw.hasPrefix("panel-") ? String(raw.dropFirst("panel-".count)) : raw
        return .found(Panel(dashboard: uid, panel: Int64(id).map(JSONValue.integer) ?? .string(id), panelURL: panelURL))
    }

    /// `<uid>` of `…/d/<uid>/<slug>` or `…/d-solo/<uid>/<slug>`, wherever Grafana is mounted.
    static func dashboardUID(_ components: URLComponents) -> String? {
        let segments = components.path.split(separator: "/").map(String.init)
        guard let index = segments.firstIndex(where: { $0 == "d" || $0 == "d-solo" }), index + 1 < segments.count else {
            return nil
        }
        let uid = segments[index + 1].removingPercentEncoding ?? segments[index + 1]
        return uid.isEmpty ? nil : uid
    }

    /// Every distinct panel the firing alerts link to, or a failure saying what the alerts lack.
    static func panels(of notification: AlertNotification) throws(RecipeError) -> [Panel] {
        guard notification.source == .grafana || !notification.alerts.isEmpty else {
            throw .failed("the alert is a generic JSON payload, not a Grafana notification, so it links no dashboard panel to ask the Data Aggregator about")
        }
        let alerts = notification.firingAlerts.isEmpty ? notification.alerts : notification.firingAlerts
        var panels: [Panel] = []
        var problems: [String] = []
        for alert in alerts {
            switch panel(dashboardURL: alert.dashboardURL, panelURL: alert.panelURL) {
            case .found(let panel):
                if !panels.contains(panel) { panels.append(panel) }
            case .missing(let problem):
                let name = alert.labels["alertname"] ?? "an alert"
                if !problems.contains("\(name): \(problem)") { problems.append("\(name): \(problem)") }
            }
        }
        guard panels.isEmpty else { return panels }
        let source = notification.source == .grafana ? "" : " (this is an \(notification.source.rawValue) notification; only Grafana links its panels)"
        throw .failed("no alert links a Grafana dashboard panel, so there is nothing to ask the Data Aggregator about\(source): "
            + (problems.isEmpty ? "the notification has no alerts" : problems.joined(separator: "; ")))
    }

    /// The exact request body: `{"params": {"dashboard_id": …, "panel_id": …}, "uuid": …}` (keys sorted).
    static func requestBody(incident: String, panel: Panel) -> Data {
        let body = JSONValue.object(["uuid": .string(incident), "params": .object(panel.params)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(body)) ?? Data()
    }

    // MARK: Run

    func run() async throws -> RecipeOutcome {
        let panels = try Self.panels(of: context.input.alert)
        let url = try Self.endpoint(context.arguments.aggregatorAddress)
        // A client of its own: a refused connection fails the attempt at once (the pool would otherwise keep trying
        // until the connect timeout), and `ask` tries again a few times.
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: timeout)
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let outcome = try await ask(url, about: panels, client: client)
            try? await client.shutdown()
            return outcome
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func ask(_ url: String, about panels: [Panel], client: HTTPClient) async throws -> RecipeOutcome {
        var paragraphs: [String] = []
        var links: [String] = []
        var answers: [JSONValue] = []
        var failures = 0
        for panel in panels.prefix(5) {
            do throws(RecipeError) {
                let answer = try await ask(url, about: panel, client: client)
                let summary = Self.summarize(answer)
                paragraphs.append("Data Aggregator on Grafana \(panel.label): \(summary.text)")
                links.append(panel.panelURL)
                for link in summary.links where !links.contains(link) { links.append(link) }
                answers.append(.object(panel.params.merging(["answer": summary.json]) { $1 }))
            } catch {
                failures += 1
                paragraphs.append("Grafana \(panel.label): \(error.message)")
            }
        }
        if panels.count > 5 { paragraphs.append("\(panels.count - 5) more panels were not asked about.") }
        let analysis = paragraphs.joined(separator: "\n\n")
        guard failures < min(panels.count, 5) else { throw RecipeError.failed(analysis) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(JSONValue.array(answers))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return RecipeOutcome(status: .successful, analysis: analysis, actions: suggested, links: links, json: json)
    }

    /// One question to the aggregator; the body of a 2xx answer, else a `RecipeError` with the reason. Only a
    /// failed connection is tried again: the question is a read, but an answer, even an error, is final.
    func ask(_ url: String, about panel: Panel, client: HTTPClient) async throws(RecipeError) -> Data {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "euphrosyne-recipes/http-errors")
        request.body = .bytes(ByteBuffer(bytes: Self.requestBody(incident: context.input.incident, panel: panel)))
        let unreachable = { (problem: String) -> RecipeError in
            .failed("cannot reach the Data Aggregator at \(url) (\(Self.attempts) attempts): \(problem)")
        }
        let (status, body) = try await Self.retry.runThroughCancellation {
            (_: Int) throws(RecipeError) -> RetryPolicy.Attempt<(UInt, Data)> in
            do {
                let response = try await client.execute(request, timeout: timeout)
                return .done((response.status.code, Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)))
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                throw .failed("the Data Aggregator at \(url) did not answer within \(timeout.nanoseconds / 1_000_000_000) s")
            } catch {
                guard !Task.isCancelled else { throw unreachable("\(error)") }
                return .retry(problem: "\(error)")
            }
        } giveUp: { _, problem in
            unreachable(problem)
        }
        guard (200..<300).contains(status) else {
            let text = Self.oneLine(String(decoding: body.prefix(300), as: UTF8.self))
            throw .failed("the Data Aggregator at \(url) answered \(status)" + (text.isEmpty ? "" : ": \(text)"))
        }
        return body
    }

    // MARK: The answer

    /// What to say about an answer. The shape assumed is a JSON object whose `analysis`, `summary` or `message`
    /// string is meant for humans, with optional `links` (strings); any other JSON is shown compactly, any other
    /// text as it is (both cut to 1500 characters).
    static func summarize(_ body: Data) -> (text: String, links: [String], json: JSONValue) {
        let raw = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !raw.isEmpty else { return ("it answered with an empty body.", [], .null) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: body) else {
            return (cut(raw), [], .string(cut(raw)))
        }
        var links: [String] = []
        if let object = value.objectValue {
            links = (object["links"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
            for key in ["analysis", "summary", "message"] {
                if let text = object[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
                    return (cut(text), links, value)
                }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let compact = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? raw
        return (cut(compact), links, value)
    }

    static func cut(_ text: String, limit: Int = 1500) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
