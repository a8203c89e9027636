import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import RecipeKit
import Synchronization
import Testing

/// `http-errors` against a fake Data Aggregator: what it asks (the original system's request, byte for byte), what
/// it makes of the answer, and how it fails.
@Suite struct HTTPErrorsRecipeTests {
    /// One request the fake aggregator received.
    struct Received: Sendable {
        var path: String
        var contentType: String?
        var body: Data
    }

    /// A Data Aggregator answering `status` with `answer` on `{prefix}/api/sources/grafana`, recording requests.
    final class Aggregator: Sendable {
        let received = Mutex<[Received]>([])
        let status: Int
        let answer: String

        init(status: Int = 200, answer: String) {
            self.status = status
            self.answer = answer
        }

        func router(prefix: String = "") -> Router<BasicRequestContext> {
            let router = Router(context: BasicRequestContext.self)
            router.post("\(prefix)/api/sources/grafana") { [self] request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                received.withLock {
                    $0.append(Received(path: request.uri.path, contentType: request.headers[.contentType],
                                       body: Data(body.readableBytesView)))
                }
                return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: answer)))
            }
            return router
        }
    }

    static let dashboardURL = "https://grafana.example/d/abc/shop?orgId=1"
    static let panelURL = "https://grafana.example/d/abc/shop?orgId=1&viewPanel=4"

    /// A Grafana notification (as §2 of the protocols describes it) with one firing alert linking `panelURL`.
    static func grafanaAlert(dashboardURL: String = dashboardURL, panelURL: String = panelURL) -> [String: JSONValue] {
        [
            "version": .string("1"), "status": .string("firing"), "receiver": .string("reconciler"), "orgId": .integer(1),
            "alerts": .array([.object([
                "status": .string("firing"),
                "labels": .object(["alertname": .string("HTTPErrors"), "grafana_folder": .string("Platform")]),
                "annotations": .object(["summary": .string("5xx above 5%")]),
                "startsAt": .string("2026-11-28T21:00:00+00:00"), "endsAt": .string("0001-01-01T00:00:00Z"),
                "dashboardURL": .string(dashboardURL), "panelURL": .string(panelURL),
            ])]),
            "commonLabels": .object(["alertname": .string("HTTPErrors")]),
            "title": .string("[FIRING:1] HTTPErrors Platform"),
            "uuid": .string("6f1c1e2a-1111-4c5d-9e8f-0123456789ab"),
        ]
    }

    static func context(aggregator: String, data: [String: JSONValue] = grafanaAlert(),
                        environment: [String: String] = [:]) -> RecipeContext {
        RecipeContext(
            name: "http-errors", arguments: RecipeArguments(dataFilePath: "unused", aggregatorAddress: aggregator),
            environment: RecipeEnvironment(environment),
            input: RecipeInput(incident: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", data: data)
        )
    }

    static func failure(_ context: RecipeContext) async -> String? {
        let error = await #expect(throws: RecipeError.self) { try await BuiltinRecipes.httpErrors(context) }
        #expect(error?.kind == .failed)
        return error?.message
    }

    @Test func asksTheAggregatorAboutTheAlertsPanelAndReportsItsAnalysis() async throws {
        let aggregator = Aggregator(answer: #"""
            {"analysis": "5xx rate on /checkout rose to 12% at 21:00, all from payment-gateway timeouts.",
             "links": ["https://grafana.example/explore?left=checkout"], "series": [1, 2, 3]}
            """#)
        let outcome = try await RunningServer.with([aggregator.router()]) { ports in
            try await BuiltinRecipes.httpErrors(Self.context(aggregator: "127.0.0.1:\(ports[0])"))
        }

        let requests = aggregator.received.withLock { $0 }
        try #require(requests.count == 1)
        #expect(requests[0].path == "/api/sources/grafana")
        #expect(requests[0].contentType == "application/json")
        #expect(String(decoding: requests[0].body, as: UTF8.self)
            == #"{"params":{"dashboard_id":"abc","panel_id":4},"uuid":"6f1c1e2a-1111-4c5d-9e8f-0123456789ab"}"#)

        #expect(outcome.status == .successful)
        #expect(outcome.analysis == "Data Aggregator on Grafana panel 4 of dashboard abc: 5xx rate on /checkout rose to 12% at 21:00, all from payment-gateway timeouts.")
        #expect(outcome.links == [Self.panelURL, "https://grafana.example/explore?left=checkout"])
        #expect(outcome.actions == ["jira"])
        let json = try JSONValue.parseObject(Data(#"{"a":\#(outcome.json)}"#.utf8))["a"]?.arrayValue?.first
        #expect(json?["dashboard_id"] == .string("abc") && json?["panel_id"] == .integer(4))
        #expect(json?["answer"]?["series"] == .array([.integer(1), .integer(2), .integer(3)]))
    }

    @Test func showsAnyOtherAnswerCompactlyAndTakesAURLWithAPathAsTheAddress() async throws {
        let aggregator = Aggregator(answer: #"{"errors": {"500": 12, "502": 3}, "window": "15m"}"#)
        let outcome = try await RunningServer.with([aggregator.router(prefix: "/aggregator")]) { ports in
            try await BuiltinRecipes.httpErrors(Self.context(
                aggregator: "http://127.0.0.1:\(ports[0])/aggregator/",
                // Grafana 11 writes `viewPanel=panel-<id>`; a Grafana served under a sub-path keeps `/d/<uid>`.
                data: Self.grafanaAlert(dashboardURL: "", panelURL: "https://ops.example/grafana/d/x-Y_z/api?viewPanel=panel-12"),
                environment: ["HTTP_ERRORS_SUGGEST": "record, jira"]
            ))
        }
        let requests = aggregator.received.withLock { $0 }
        try #require(requests.count == 1)
        #expect(requests[0].path == "/aggregator/api/sources/grafana")
        let body = try JSONValue.parseObject(requests[0].body)
        #expect(body == ["uuid": .string("6f1c1e2a-1111-4c5d-9e8f-0123456789ab"),
                         "params": .object(["dashboard_id": .string("x-Y_z"), "panel_id": .integer(12)])])
        #expect(outcome.analysis == #"Data Aggregator on Grafana panel 12 of dashboard x-Y_z: {"errors":{"500":12,"502":3},"window":"15m"}"#)
        #expect(outcome.actions == ["record", "jira"])
    }

    @Test func anAggregatorErrorIsAFailedResultWithItsAnswer() async throws {
        let aggregator = Aggregator(status: 500, answer: #"{"error": "grafana datasource timed out"}"#)
        let message = try await RunningServer.with([aggregator.router()]) { ports in
            await Self.failure(Self.context(aggregator: "127.0.0.1:\(ports[0])"))
        }
        #expect(message?.contains("answered 500") == true)
        #expect(message?.contains("grafana datasource timed out") == true)
        #expect(message?.hasPrefix("Grafana panel 4 of dashboard abc: the Data Aggregator at http://127.0.0.1:") == true)
    }

    @Test func anUnreachableAggregatorIsAFailedResult() async throws {
        // A port that was just listening and is closed now.
        let port = try await RunningServer.with([Aggregator(answer: "{}").router()]) { ports in ports[0] }
        let message = await Self.failure(Self.context(aggregator: "127.0.0.1:\(port)"))
        #expect(message?.contains("cannot reach the Data Aggregator at http://127.0.0.1:\(port)/api/sources/grafana") == true)
    }

    @Test func withoutAnAddressOrPanelLinksThereIsNothingToAsk() async throws {
        #expect(await Self.failure(Self.context(aggregator: "")) ==
            "no Data Aggregator to ask: --aggregator-address is empty (set the reconciler's --aggregator-address or AGGREGATOR_ADDRESS)")

        let unlinked = await Self.failure(Self.context(aggregator: "127.0.0.1:9", data: Self.grafanaAlert(dashboardURL: "", panelURL: "")))
        #expect(unlinked == "no alert links a Grafana dashboard panel, so there is nothing to ask the Data Aggregator about: HTTPErrors: no dashboardURL or panelURL")

        let alertmanager: [String: JSONValue] = [
            "version": .string("4"), "status": .string("firing"), "uuid": .string("u"),
            "alerts": .array([.object(["status": .string("firing"), "labels": .object(["alertname": .string("HTTPErrors")])])]),
        ]
        let fromAlertmanager = await Self.failure(Self.context(aggregator: "127.0.0.1:9", data: alertmanager))
        #expect(fromAlertmanager?.contains("this is an alertmanager notification; only Grafana links its panels") == true)

        let noPanel = await Self.failure(Self.context(
            aggregator: "127.0.0.1:9", data: Self.grafanaAlert(panelURL: "https://grafana.example/d/abc/shop?orgId=1")))
        #expect(noPanel?.hasSuffix("HTTPErrors: no viewPanel in the panelURL https://grafana.example/d/abc/shop?orgId=1") == true)
    }
}
