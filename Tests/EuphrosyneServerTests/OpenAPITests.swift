import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import EuphrosyneSlack
import EuphrosyneWebex
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import Yams

/// Holds openapi.yaml to the code: every route of both routers is in it and nothing else is, it is what
/// `GET /openapi.yaml` serves, and real responses have exactly the properties its schemas list.
@Suite struct OpenAPITests {
    enum Listener: String, CaseIterable { case webhook, api }

    struct Route: Hashable, CustomStringConvertible {
        var listener: Listener
        var method: String
        var path: String
        var description: String { "\(listener) \(method) \(path)" }
    }

    /// Every route of both listeners, with a URI that reaches it. Kept by hand: the test drives each one against
    /// the real routers to show it exists there (and not on the other listener), and compares the list with the
    /// spec and with what the routers report, both ways.
    static let routes: [(route: Route, uri: String)] = {
        let uuid = UUID().uuidString.lowercased()
        var routes: [(Route, String)] = [
            (Route(listener: .webhook, method: "POST", path: "/webhook"), "/webhook"),
            (Route(listener: .webhook, method: "POST", path: "/results/{uuid}/{secret}"), "/results/\(uuid)/secret"),
            (Route(listener: .api, method: "POST", path: "/api/actions"), "/api/actions"),
            (Route(listener: .api, method: "POST", path: "/api/status"), "/api/status"),
            (Route(listener: .api, method: "GET", path: "/api/incidents"), "/api/incidents"),
            (Route(listener: .api, method: "GET", path: "/api/incidents/{uuid}"), "/api/incidents/\(uuid)"),
            (Route(listener: .api, method: "POST", path: "/api/webex/events"), "/api/webex/events"),
            (Route(listener: .api, method: "POST", path: "/api/slack/interactions"), "/api/slack/interactions"),
        ]
        for listener in Listener.allCases {
            for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
                routes.append((Route(listener: listener, method: "GET", path: path), path))
            }
        }
        return routes
    }()

    static let json: HTTPFields = [.contentType: "application/json"]

    // MARK: The document

    @Test func theDocumentIsServedOnBothListenersWithoutAuthentication() async throws {
        let harness = ServerHarness(
            apiCredentials: APICredentials(bearerTokens: ["ops": "token-ops-0123456789"]),
            webhookCredentials: WebhookCredentials(bearerTokens: ["token-webhook"])
        )
        let file = try OpenAPISpec.fileData()
        #expect(Data(OpenAPIDocument.yaml.utf8) == file)
        for application in [harness.webhook, harness.api] {
            try await application.test(.router) { client in
                try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("application/yaml") == true)
                    #expect(Data(response.body.readableBytesView) == file)
                }
            }
        }
        let spec = try OpenAPISpec.load()
        #expect(spec.document["openapi"] as? String == "3.0.3")
    }

    @Test func everyRouteIsInTheSpecAndEverySpecPathIsARoute() async throws {
        let spec = try OpenAPISpec.load()
        let listed = Set(Self.routes.map(\.route))
        #expect(listed.count == Self.routes.count, "a route is listed twice")
        let documented = spec.operations
        for route in listed.subtracting(documented) { Issue.record("\(route) is not in openapi.yaml") }
        for route in documented.subtracting(listed) { Issue.record("openapi.yaml has \(route), which the list lacks") }

        let harness = ServerHarness()
        let routers = Self.routers(harness)
        // What Hummingbird says it registered, against the list.
        for listener in Listener.allCases {
            let registered = Set(routers[listener]!.routes.map {
                Route(listener: listener, method: $0.method.rawValue, path: $0.path.description)
            })
            #expect(registered == Set(listed.filter { $0.listener == listener }), "\(listener)")
        }
        // Each route answers on its listener (anything but the router's own 404), and a listener's own routes
        // are not on the other one.
        let shared: Set<String> = ["/healthz", "/readyz", "/metrics", "/openapi.yaml"]
        try await harness.running {
            let routers = Self.routers(harness)
            for (route, uri) in Self.routes {
                for listener in Listener.allCases where listener == route.listener || !shared.contains(route.path) {
                    let (status, code) = try await Application(router: routers[listener]!).test(.router) { client in
                        try await client.execute(uri: uri, method: HTTPRequest.Method(route.method)!, headers: Self.json,
                                                 body: ByteBuffer(json: "{}")) { ($0.status, $0.apiError?.code) }
                    }
                    if listener == route.listener {
                        #expect(code != "not_found", "\(route) via \(uri): \(status)")
                    } else {
                        #expect(status == .notFound && code == "not_found", "\(route) answered on \(listener)")
                    }
                }
            }
        }
    }

    @Test func webexCallbackAnswersMatchTheSpec() async throws {
        let spec = try OpenAPISpec.load()
        let harness = ServerHarness()
        let api = Application(router: Self.routers(harness)[.api]!)
        let body = #"{"resource":"attachmentActions","event":"created","data":{"id":"ACT-1"}}"#
        var signature = Self.json
        signature[HTTPField.Name("X-Spark-Signature")!] = FakeWebex.sparkSignature(body: Data(body.utf8), secret: "s")
        let signed = signature
        try await api.test(.router) { client in
            let unsigned = try await client.execute(uri: "/api/webex/events", method: .post, headers: Self.json,
                                                    body: ByteBuffer(json: body))
            #expect(unsigned.status == .unauthorized && unsigned.apiError?.code == "bad_signature")
            Self.expectConforms(spec, unsigned, "post", "/api/webex/events")
            let queued = try await client.execute(uri: "/api/webex/events", method: .post, headers: signed,
                                                  body: ByteBuffer(json: body))
            #expect(queued.status == .accepted)
            Self.expectConforms(spec, queued, "post", "/api/webex/events")
            let repeated = try await client.execute(uri: "/api/webex/events", method: .post, headers: signed,
                                                    body: ByteBuffer(json: body))
            #expect(repeated.status == .ok && repeated.json?["reason"] == .string("already received"))
            Self.expectConforms(spec, repeated, "post", "/api/webex/events")
        }
    }

    @Test func slackCallbackAnswersMatchTheSpec() async throws {
        let spec = try OpenAPISpec.load()
        let harness = ServerHarness()
        let api = Application(router: Self.routers(harness)[.api]!)
        let body = "payload=%7B%22type%22%3A%22view_submission%22%7D"
        let now = String(Int(Date().timeIntervalSince1970))
        let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        var signed = form
        signed[HTTPField.Name("X-Slack-Request-Timestamp")!] = now
        signed[HTTPField.Name("X-Slack-Signature")!] = FakeSlack.signature(secret: "slack-secret", timestamp: now, body: body)
        let signedHeaders = signed
        try await api.test(.router) { client in
            let unsigned = try await client.execute(uri: "/api/slack/interactions", method: .post, headers: form,
                                                    body: ByteBuffer(string: body))
            #expect(unsigned.status == .unauthorized && unsigned.apiError?.code == "bad_signature")
            #expect(unsigned.apiError?.message == "X-Slack-Request-Timestamp is missing")
            Self.expectConforms(spec, unsigned, "post", "/api/slack/interactions")
            let json = try await client.execute(uri: "/api/slack/interactions", method: .post, headers: Self.json,
                                                body: ByteBuffer(string: body))
            #expect(json.status == .unsupportedMediaType)
            Self.expectConforms(spec, json, "post", "/api/slack/interactions")
            let taken = try await client.execute(uri: "/api/slack/interactions", method: .post, headers: signedHeaders,
                                                 body: ByteBuffer(string: body))
            #expect(taken.status == .ok && taken.body.readableBytes == 0)
            Self.expectConforms(spec, taken, "post", "/api/slack/interactions")
        }
    }

    // MARK: Responses against their schemas

    /// Records an issue for everything in `response` that openapi.yaml does not say of `method path`.
    static func expectConforms(_ spec: OpenAPISpec, _ response: TestResponse, _ method: String, _ path: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        for problem in spec.problems(response, method: method, path: path) {
            Issue.record("\(method) \(path) \(response.status.code): \(problem)", sourceLocation: sourceLocation)
        }
    }

    @Test func realResponsesHaveExactlyThePropertiesTheirSchemasList() async throws {
        let spec = try OpenAPISpec.load()
        let harness = ServerHarness(["dummy": .hang, "jira": .report(analysis: "OPS-1", actions: [], delay: .zero)])
        let firing = WebhookListenerTests.alertmanagerPayload
        let resolved = firing.replacingOccurrences(of: "\"firing\"", with: "\"resolved\"")
        try await harness.running {
            let id = try await harness.webhook.test(.router) { client in
                let opened = try await client.execute(uri: "/webhook", method: .post, headers: Self.json,
                                                      body: ByteBuffer(json: firing))
                #expect(opened.status == .accepted)
                Self.expectConforms(spec, opened, "post", "/webhook")
                let id = try #require(opened.json?["uuid"]?.stringValue)
                let secret = try #require(try await harness.coordinator.incident(UUID(uuidString: id)!)?.callbackSecret)
                let joined = try await client.execute(uri: "/webhook", method: .post, headers: Self.json,
                                                      body: ByteBuffer(json: firing))
                #expect(joined.json?["outcome"] == .string("joined"))
                Self.expectConforms(spec, joined, "post", "/webhook")
                for (headers, body) in [(Self.json, "[1]"), ([.contentType: "text/plain"], "{}")] as [(HTTPFields, String)] {
                    Self.expectConforms(spec, try await client.execute(uri: "/webhook", method: .post, headers: headers,
                                                                       body: ByteBuffer(json: body)), "post", "/webhook")
                }

                let result = #"{"incident":"\#(id)","name":"dummy","status":"successful","results":{"analysis":"fine","actions":["jira"],"links":["https://x"],"json":{"a":1}}}"#
                let delivered = try await client.execute(uri: "/results/\(id)/\(secret)", method: .post, headers: Self.json,
                                                         body: ByteBuffer(json: result))
                #expect(delivered.status == .accepted)
                Self.expectConforms(spec, delivered, "post", "/results/{uuid}/{secret}")
                // 409 duplicate, 404, 422 mismatch, 400.
                for (uri, body) in [("/results/\(id)/\(secret)", result), ("/results/\(id)/wrong", result),
                                    ("/results/\(id)/\(secret)", #"{"incident":"\#(UUID())","name":"dummy"}"#),
                                    ("/results/\(id)/\(secret)", #"{"name":"dummy"}"#)] {
                    let response = try await client.execute(uri: uri, method: .post, headers: Self.json,
                                                            body: ByteBuffer(json: body))
                    #expect(response.status.code >= 400)
                    Self.expectConforms(spec, response, "post", "/results/{uuid}/{secret}")
                }
                return id
            }
            let incidentID = try #require(UUID(uuidString: id))
            try await waitUntil("the analysis") { try await harness.coordinator.incident(incidentID)?.state == .analysed }

            try await harness.api.test(.router) { client in
                var headers = Self.json
                headers[HTTPField.Name("Idempotency-Key")!] = "card-1"
                let approval = ByteBuffer(json: #"{"uuid":"\#(id)","actions":[{"name":"jira","data":{"summary":"down","n":[1,2.5,null,true]}}]}"#)
                let approved = try await client.execute(uri: "/api/actions", method: .post, headers: headers, body: approval)
                #expect(approved.status == .accepted)
                Self.expectConforms(spec, approved, "post", "/api/actions")
                try await waitUntil("the action to finish") {
                    try await harness.coordinator.incident(incidentID)?.state == .done
                }
                let repeated = try await client.execute(uri: "/api/actions", method: .post, headers: headers, body: approval)
                #expect(repeated.status == .ok)
                Self.expectConforms(spec, repeated, "post", "/api/actions")
                // 422, 400, 404, 400, 413.
                let large = "{\"pad\":\"" + String(repeating: "a", count: 1 << 20) + "\"}"
                for body in [#"{"uuid":"\#(id)","actions":[{"name":"nope"}]}"#, #"{"uuid":"x","actions":[{"name":"jira"}]}"#,
                             #"{"uuid":"\#(UUID())","actions":[{"name":"jira"}]}"#, "{", large] {
                    let response = try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                                            body: ByteBuffer(json: body))
                    #expect(response.status.code >= 400)
                    Self.expectConforms(spec, response, "post", "/api/actions")
                }

                let statuses = try await client.execute(uri: "/api/status", method: .post, headers: Self.json,
                                                        body: ByteBuffer(json: #"{"uuid":"\#(id)"}"#))
                #expect(statuses.jsonArray?.count == 2)
                Self.expectConforms(spec, statuses, "post", "/api/status")
                Self.expectConforms(spec, try await client.execute(uri: "/api/status", method: .post, body: ByteBuffer()),
                                    "post", "/api/status")
                Self.expectConforms(spec, try await client.execute(uri: "/api/status", method: .post, headers: Self.json,
                                                                   body: ByteBuffer(json: #"{"uuid":"\#(UUID())"}"#)),
                                    "post", "/api/status")

                _ = try await harness.coordinator.openIncident(payload: .unique)
                let page = try await client.execute(uri: "/api/incidents?limit=1", method: .get)
                #expect(page.json?["nextOffset"] == .integer(1))
                Self.expectConforms(spec, page, "get", "/api/incidents")
                Self.expectConforms(spec, try await client.execute(uri: "/api/incidents?limit=0", method: .get),
                                    "get", "/api/incidents")

                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: ByteBuffer(json: #"{"uuid":"\#(id)","actions":[{"name":"restart"}]}"#)) {
                    #expect($0.apiError?.code == "disabled_action")
                }
                let detail = try await client.execute(uri: "/api/incidents/\(id)", method: .get)
                let attempts = detail.json?["approvalAttempts"]?.arrayValue ?? []
                #expect(attempts.map { $0["outcome"] } == [.string("approved"), .string("duplicate"), .string("refused"),
                                                           .string("refused")])
                #expect(detail.json?["approvals"]?.arrayValue?.first?["outcome"] != nil)
                #expect(detail.json?["analysis"] != nil)
                Self.expectConforms(spec, detail, "get", "/api/incidents/{uuid}")
                for uri in ["/api/incidents/nope", "/api/incidents/\(UUID())"] {
                    Self.expectConforms(spec, try await client.execute(uri: uri, method: .get), "get", "/api/incidents/{uuid}")
                }
                for path in ["/healthz", "/readyz", "/openapi.yaml"] {
                    Self.expectConforms(spec, try await client.execute(uri: path, method: .get), "get", path)
                }
            }
            try await harness.webhook.test(.router) { client in
                let ended = try await client.execute(uri: "/webhook", method: .post, headers: Self.json,
                                                     body: ByteBuffer(json: resolved))
                #expect(ended.json?["outcome"] == .string("resolved"))
                Self.expectConforms(spec, ended, "post", "/webhook")
                let ignored = try await client.execute(uri: "/webhook", method: .post, headers: Self.json,
                                                       body: ByteBuffer(json: resolved))
                #expect(ignored.status == .ok)
                Self.expectConforms(spec, ignored, "post", "/webhook")
            }
        }
    }

    @Test func errorsWithHeadersMatchTheSpec() async throws {
        // 401 on both listeners, 429 and 503 with Retry-After, the not-ready probe, /metrics.
        let spec = try OpenAPISpec.load()
        let guarded = ServerHarness(
            configuration: .init(drainTimeout: .milliseconds(200), incidentsPerAlertNamePerHour: 1),
            apiCredentials: APICredentials(bearerTokens: ["ops": "token-ops-0123456789"]),
            webhookCredentials: WebhookCredentials(bearerTokens: ["token-webhook"])
        )
        try await guarded.running {
            try await guarded.api.test(.router) { client in
                let unauthorized = try await client.execute(uri: "/api/incidents", method: .get)
                #expect(unauthorized.status == .unauthorized)
                Self.expectConforms(spec, unauthorized, "get", "/api/incidents")
            }
            try await guarded.webhook.test(.router) { client in
                let unauthorized = try await client.execute(uri: "/webhook", method: .post, headers: Self.json,
                                                            body: ByteBuffer(json: "{}"))
                #expect(unauthorized.status == .unauthorized)
                Self.expectConforms(spec, unauthorized, "post", "/webhook")
                var headers = Self.json
                headers[.authorization] = "Bearer token-webhook"
                for (group, status) in [("a", HTTPResponse.Status.accepted), ("b", .tooManyRequests)] {
                    let response = try await client.execute(
                        uri: "/webhook", method: .post, headers: headers,
                        body: ByteBuffer(json: #"{"version":"4","groupKey":"\#(group)","alerts":[{"labels":{"alertname":"R"}}]}"#))
                    #expect(response.status == status)
                    Self.expectConforms(spec, response, "post", "/webhook")
                }
            }
        }
        // Shut down: 503 with Retry-After.
        try await guarded.api.test(.router) { client in
            let unavailable = try await client.execute(
                uri: "/api/actions", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer token-ops-0123456789"],
                body: ByteBuffer(json: #"{"uuid":"\#(UUID())","actions":[{"name":"jira"}]}"#))
            #expect(unavailable.status == .serviceUnavailable)
            Self.expectConforms(spec, unavailable, "post", "/api/actions")
        }
        try await guarded.webhook.test(.router) { client in
            let unavailable = try await client.execute(uri: "/webhook", method: .post,
                                                       headers: [.contentType: "application/json", .authorization: "Bearer token-webhook"],
                                                       body: ByteBuffer(json: "{}"))
            #expect(unavailable.status == .serviceUnavailable)
            Self.expectConforms(spec, unavailable, "post", "/webhook")
        }
        let readiness = Readiness([(name: "registry", check: { "not loaded" })])
        let notReady = ServerHarness(readiness: readiness)
        let exporter = MetricsExporter()
        for router in [Listeners.webhookRouter(coordinator: notReady.coordinator, readiness: readiness, exporter: exporter),
                       Listeners.apiRouter(coordinator: notReady.coordinator, readiness: readiness, exporter: exporter)] {
            try await Application(router: router).test(.router) { client in
                let probe = try await client.execute(uri: "/readyz", method: .get)
                #expect(probe.status == .serviceUnavailable)
                Self.expectConforms(spec, probe, "get", "/readyz")
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok)
                Self.expectConforms(spec, metrics, "get", "/metrics")
            }
        }
    }

    @Test func theSchemaCheckerFindsWhatIsMissingExtraOrMistyped() throws {
        let spec = try OpenAPISpec.load()
        let error = spec.schema("Error")
        #expect(spec.problems(of: .object(["error": .object([
            "status": .integer(400), "code": .string("x"), "message": .string("m"),
        ])]), against: error).isEmpty)
        let problems = spec.problems(of: .object(["error": .object([
            "status": .string("400"), "message": .string("m"), "hint": .string("h"),
        ])]), against: error)
        #expect(problems.count == 3, "\(problems)")
        #expect(!spec.problems(of: .object(["status": .string("maybe")]), against: spec.schema("Health")).isEmpty)
        #expect(!spec.problems(of: .object(["name": .string("n"), "startTime": .string("yesterday"),
                                            "status": .string("Active"), "labels": .object([:]),
                                            "description": .string("")]),
                               against: spec.schema("JobStatus")).isEmpty)
    }

    static func routers(_ harness: ServerHarness) -> [Listener: Router<BasicRequestContext>] {
        let exporter = MetricsExporter()
        return [
            .webhook: Listeners.webhookRouter(coordinator: harness.coordinator, readiness: Readiness(), exporter: exporter),
            .api: Listeners.apiRouter(coordinator: harness.coordinator, readiness: Readiness(), exporter: exporter,
                                      routes: [WebexRoutes(approvals: webex(harness)), SlackRoutes(approvals: slack(harness))]),
        ]
    }

    /// The Slack approvals behind `/api/slack/interactions` (never run: Slack is not needed to answer callbacks).
    static func slack(_ harness: ServerHarness) -> SlackApprovals {
        let client = SlackClient(baseURL: "http://127.0.0.1:9/api", token: "xoxb-t", httpClient: .shared)
        return SlackApprovals(client: client, notifier: SlackNotifier(client: client, channel: "C0123ALERTS"),
                              coordinator: harness.coordinator,
                              configuration: .init(signingSecret: "slack-secret", approvers: []))
    }

    /// The Webex approvals behind `/api/webex/events` (never run: Webex itself is not needed to answer callbacks).
    static func webex(_ harness: ServerHarness) -> WebexApprovals {
        let client = WebexClient(baseURL: "http://127.0.0.1:9/v1", token: "t", httpClient: .shared)
        let registry = StaticRecipeRegistry(ServerHarness.catalog)
        return WebexApprovals(client: client, notifier: WebexNotifier(client: client, roomID: "R", registry: registry),
                              coordinator: harness.coordinator,
                              configuration: .init(targetURL: "http://127.0.0.1:9/api/webex/events", secret: "s",
                                                   approvers: []))
    }
}

/// openapi.yaml, parsed with Yams, and a checker for the subset of JSON Schema it uses: `$ref`, `type`,
/// `properties`, `required`, `additionalProperties` (a property no schema lists is a problem unless it says
/// `true` or gives a schema), `items`, `enum`, `nullable`, `format` (`date-time`, `uuid`), `maxLength`,
/// `maxItems`.
struct OpenAPISpec: @unchecked Sendable {  // Immutable once loaded.
    let document: [String: Any]

    static func fileData() throws -> Data {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try Data(contentsOf: root.appendingPathComponent("openapi.yaml"))
    }

    static func load() throws -> OpenAPISpec {
        let text = String(decoding: try fileData(), as: UTF8.self)
        return OpenAPISpec(document: try #require(try Yams.load(yaml: text) as? [String: Any]))
    }

    /// Every operation as (listener from its tags, method, path).
    var operations: Set<OpenAPITests.Route> {
        var operations: Set<OpenAPITests.Route> = []
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] {
                for tag in (operation as? [String: Any])?["tags"] as? [String] ?? [] {
                    let listener: OpenAPITests.Listener? = switch tag {
                    case "webhook-listener": .webhook
                    case "api-listener": .api
                    default: nil
                    }
                    if let listener {
                        operations.insert(.init(listener: listener, method: method.uppercased(), path: path))
                    }
                }
            }
        }
        return operations
    }

    func schema(_ name: String) -> [String: Any] {
        resolve(["$ref": "#/components/schemas/\(name)"])
    }

    func resolve(_ node: Any?) -> [String: Any] {
        var object = node as? [String: Any] ?? [:]
        var hops = 0
        while let reference = object["$ref"] as? String, hops < 20 {
            var target: Any? = document
            for part in reference.dropFirst(2).split(separator: "/") {
                target = (target as? [String: Any])?[String(part)]
            }
            object = target as? [String: Any] ?? [:]
            hops += 1
        }
        return object
    }

    /// What is wrong with `response` as an answer of the operation: an undocumented status, a missing required
    /// header, another media type, and the body against the schema.
    func problems(_ response: TestResponse, method: String, path: String) -> [String] {
        let item = (document["paths"] as? [String: Any])?[path] as? [String: Any]
        let operation = resolve(item?[method])
        guard !operation.isEmpty else { return ["no operation \(method) \(path) in the spec"] }
        let responses = operation["responses"] as? [String: Any] ?? [:]
        let documented = resolve(responses[String(response.status.code)])
        guard !documented.isEmpty else { return ["status \(response.status.code) is not documented"] }
        var problems: [String] = []
        for (name, header) in documented["headers"] as? [String: Any] ?? [:] {
            let header = resolve(header)
            guard let value = response.headers[HTTPField.Name(name)!] else {
                if header["required"] as? Bool == true { problems.append("header \(name) is missing") }
                continue
            }
            if resolve(header["schema"])["type"] as? String == "integer", Int(value) == nil {
                problems.append("header \(name) \"\(value)\" is not an integer")
            }
        }
        // A response documented without content has no body.
        guard documented["content"] != nil else {
            return problems + (response.body.readableBytes == 0 ? [] : ["the spec documents no body, but one was sent"])
        }
        let content = documented["content"] as? [String: Any] ?? [:]
        let mediaType = (response.headers[.contentType] ?? "").split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[mediaType] else {
            return problems + ["content type \"\(mediaType)\" is not one of \(content.keys.sorted())"]
        }
        guard mediaType == "application/json" else { return problems }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView)) else {
            return problems + ["the body is not JSON"]
        }
        return problems + self.problems(of: body, against: resolve(media)["schema"] ?? [:])
    }

    func problems(of value: JSONValue, against node: Any, at path: String = "$") -> [String] {
        let schema = resolve(node)
        if case .null = value {
            return schema["type"] == nil || schema["nullable"] as? Bool == true ? [] : ["\(path) is null"]
        }
        var problems: [String] = []
        if let options = schema["enum"] as? [Any] {
            let allowed = options.map { "\($0)" }
            if case .string(let text) = value, !allowed.contains(text) {
                problems.append("\(path) \"\(text)\" is not one of \(allowed)")
            }
        }
        switch schema["type"] as? String {
        case "object":
            guard case .object(let members) = value else { return ["\(path) is not an object"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for name in schema["required"] as? [String] ?? [] where members[name] == nil {
                problems.append("\(path) lacks required \(name)")
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    problems += self.problems(of: member, against: property, at: "\(path).\(name)")
                } else if let additional = schema["additionalProperties"], !(additional is Bool) {
                    problems += self.problems(of: member, against: additional, at: "\(path).\(name)")
                } else if schema["additionalProperties"] as? Bool != true {
                    problems.append("\(path).\(name) is not in the schema")
                }
            }
        case "array":
            guard case .array(let elements) = value else { return ["\(path) is not an array"] }
            if let maximum = schema["maxItems"] as? Int, elements.count > maximum {
                problems.append("\(path) has more than \(maximum) items")
            }
            for (index, element) in elements.enumerated() {
                problems += self.problems(of: element, against: schema["items"] ?? [:], at: "\(path)[\(index)]")
            }
        case "string":
            guard case .string(let text) = value else { return ["\(path) is not a string"] }
            if let maximum = schema["maxLength"] as? Int, text.unicodeScalars.count > maximum {
                problems.append("\(path) is longer than \(maximum)")
            }
            switch schema["format"] as? String {
            case "date-time" where RFC3339.parse(text) == nil: problems.append("\(path) \"\(text)\" is not a date-time")
            case "uuid" where UUID(uuidString: text) == nil: problems.append("\(path) \"\(text)\" is not a UUID")
            default: break
            }
        case "integer":
            guard case .integer = value else { return ["\(path) is not an integer"] }
        case "number":
            switch value {
            case .integer, .number: break
            default: return ["\(path) is not a number"]
            }
        case "boolean":
            guard case .bool = value else { return ["\(path) is not a boolean"] }
        case nil:
            break
        case let other?:
            problems.append("\(path): the checker does not know type \(other)")
        }
        return problems
    }
}
