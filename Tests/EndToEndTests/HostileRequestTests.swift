import EuphrosyneCore
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Testing

/// What a hostile neighbour would try, against the real `euphrosyne serve` binary with authentication on, Redis
/// behind it and signed results required: other spellings of protected paths, broken framing, slow and oversized
/// requests, forged and replayed signatures, forged results over Redis, and a flood of incidents. Throughout: no
/// answer is a 5xx, nothing gets past authentication, the process still serves, and what an honest sender sent
/// lands.
@Suite struct HostileRequestTests {
    static let apiToken = "api-token-0123456789abcdef"
    static let webhookToken = "webhook-token-0123456789abcdef"
    static let hmacSecret = "hmac-secret-0123456789abcdef"
    static let maxOpenIncidents = 4

    /// One serve process as a hardened deployment runs it, with its own Redis, while `body` runs.
    struct Deployment: Sendable {
        let serve: ServeProcess
        let redis: RedisServerProcess

        var webhook: Int { serve.webhookPort }
        var api: Int { serve.apiPort }

        /// - Parameter readTimeoutSeconds: `--read-timeout`: short where a test waits for it to cut a slow client,
        ///   generous elsewhere so a starved test process is not cut off between connecting and writing.
        static func with(readTimeoutSeconds: Int = 15, _ body: @Sendable (Deployment) async throws -> Void) async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            func file(_ name: String, _ text: String) throws -> String {
                let path = directory.appendingPathComponent(name).path
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let registry = try file("recipes.yaml", """
                debugging: |
                  dummy:
                    enabled: true
                    entrypoint: "euphrosyne-recipes dummy"
                    env:
                      DUMMY_DELAY_SECONDS: "1"
                actions: |
                  jira:
                    enabled: true
                    entrypoint: "euphrosyne-recipes dummy"
                """)
            let arguments = [
                "--local", "--recipes", registry,
                "--api-tokens-file", try file("api-tokens", "ops:\(HostileRequestTests.apiToken)\n"),
                "--api-hmac-keys-file", try file("hmac-keys", "bot:\(HostileRequestTests.hmacSecret)\n"),
                "--webhook-tokens-file", try file("webhook-tokens", "alertmanager:\(HostileRequestTests.webhookToken)\n"),
                "--require-signed-results", "--read-timeout", String(readTimeoutSeconds),
                "--max-open-incidents", String(HostileRequestTests.maxOpenIncidents),
            ]
            try await withRedisServer { redis in
                // The recipes' entrypoint, euphrosyne-recipes, is found beside the euphrosyne binary.
                try await ServeProcess.with(arguments + ["--redis-address", "127.0.0.1:\(redis.port)"],
                                            directory: directory) { serve in
                    try await body(Deployment(serve: serve, redis: redis))
                    // Whatever was tried, the process still serves and never logged a secret.
                    let healthy = try await HostileRequestTests.exchange(serve.webhookPort, HostileRequests.request("GET", "/healthz"))
                    #expect(healthy.status == 200)
                    #expect(serve.isRunning)
                    for secret in [HostileRequestTests.apiToken, HostileRequestTests.webhookToken, HostileRequestTests.hmacSecret] {
                        #expect(!serve.log.contains(secret), "a secret reached the log")
                    }
                }
            }
        }

        /// An alert notification as Alertmanager sends it, with its token.
        func alert(group: String, status: String = "firing") async throws -> RawHTTPResponse {
            try await HostileRequestTests.exchange(webhook, HostileRequests.request(
                "POST", "/webhook", headers: [("Authorization", "Bearer \(HostileRequestTests.webhookToken)")],
                body: HostileRequestTests.notification(group: group, status: status)))
        }

        func get(_ path: String) async throws -> RawHTTPResponse {
            try await HostileRequestTests.exchange(api, HostileRequests.request(
                "GET", path, headers: [("Authorization", "Bearer \(HostileRequestTests.apiToken)")], contentType: nil))
        }

        func incident(_ id: String) async throws -> [String: JSONValue] {
            try JSONValue.parseObject(Data(try await get("/api/incidents/\(id)").body))
        }

        func metric(_ name: String, _ labels: [String: String] = [:]) async throws -> Double {
            try await CommandLineTests.scrape(webhook).value(name, labels) ?? 0
        }
    }

    static func notification(group: String, status: String = "firing") -> String {
        #"{"version":"4","status":"\#(status)","groupKey":"\#(group)","commonLabels":{"alertname":"\#(group)"},"alerts":[{"status":"\#(status)","labels":{"alertname":"\#(group)"},"fingerprint":"\#(group)"}]}"#
    }

    static func exchange(_ port: Int, _ request: String) async throws -> RawHTTPResponse {
        try await RawHTTPConnection.exchange(port: port, request)
    }

    // MARK: - Authentication

    @Test func noSpellingOfAProtectedPathGetsPastAuthentication() async throws {
        try await Deployment.with { deployment in
            let unknown = UUID().uuidString.lowercased()
            let routes: [(port: Int, method: String, path: String, body: String)] = [
                (deployment.webhook, "POST", "/webhook", Self.notification(group: "variants")),
                (deployment.api, "POST", "/api/actions", #"{"uuid":"\#(unknown)","actions":[{"name":"jira"}]}"#),
                (deployment.api, "POST", "/api/status", "{}"),
                (deployment.api, "GET", "/api/incidents", ""),
                (deployment.api, "GET", "/api/incidents/\(unknown)", ""),
            ]
            var bypasses: [String] = []
            var serverErrors: [String] = []
            for route in routes {
                for variant in HostileRequests.pathVariants(of: route.path) {
                    for headers in [[], [("Authorization", "Bearer wrong-token")], [("Authorization", "Basic b3BzOnB3")]] {
                        let response = try await Self.exchange(route.port, HostileRequests.request(
                            route.method, variant, headers: headers, body: route.body))
                        if response.status >= 500 { serverErrors.append("\(route.method) \(variant) → \(response.status)") }
                        let refused = response.status == 401 || (response.status == 404 && response.errorCode == "not_found")
                        if !refused { bypasses.append("\(route.method) \(variant) \(headers) → \(response.status) \(response.bodyText)") }
                    }
                }
            }
            #expect(bypasses.isEmpty, "\(bypasses)")
            #expect(serverErrors.isEmpty, "\(serverErrors)")
            // Nothing was opened by any of it.
            let page = try JSONValue.parseObject(Data(try await deployment.get("/api/incidents").body))
            #expect(page["total"] == .integer(0))
        }
    }

    @Test func forgedAndReplayedSignaturesAreRefusedAndAGoodOneCountsOnce() async throws {
        try await Deployment.with { deployment in
            let body = "{}"
            let now = Int(Date().timeIntervalSince1970)
            func signed(method: String = "POST", path: String = "/api/status", signedPath: String? = nil,
                        timestamp: Int = now, secret: String = Self.hmacSecret, key: String = "bot") -> String {
                let signature = RequestSignature.sign(method: method, target: signedPath ?? path, body: Array(body.utf8),
                                                      timestamp: timestamp, secret: secret)
                return HostileRequests.request(method, path, headers: [
                    ("X-Euphrosyne-Key-Id", key), ("X-Euphrosyne-Timestamp", String(timestamp)),
                    ("X-Euphrosyne-Signature", signature),
                ], body: body)
            }
            let forged = [
                ("a guessed secret", signed(secret: "guess")),
                ("an unknown key", signed(key: "nobody")),
                ("signed for another route", signed(path: "/api/status", signedPath: "/api/incidents")),
                ("signed for the path with a trailing slash", signed(path: "/api/status", signedPath: "/api/status/")),
                ("an old timestamp", signed(timestamp: now - 3_600)),
                ("a future timestamp", signed(timestamp: now + 3_600)),
            ]
            for (what, request) in forged {
                let response = try await Self.exchange(deployment.api, request)
                #expect(response.status == 401, "\(what): \(response.status) \(response.bodyText)")
            }
            let good = signed(timestamp: now - 1)
            #expect(try await Self.exchange(deployment.api, good).status == 200)
            // Replayed, on a new connection: the replay cache (in Redis here) refuses it.
            let replay = try await Self.exchange(deployment.api, good)
            #expect(replay.status == 401 && replay.bodyText.contains("replay"))
        }
    }

    // MARK: - HTTP framing

    @Test func brokenFramingAndSlowOrOversizedRequestsAreRefusedWithoutA5xx() async throws {
        try await Deployment.with(readTimeoutSeconds: 2) { deployment in
            for port in [deployment.webhook, deployment.api] {
                let path = port == deployment.webhook ? "/webhook" : "/api/actions"
                let auth = "Authorization: Bearer \(port == deployment.webhook ? Self.webhookToken : Self.apiToken)\r\n"
                for (what, bytes) in HostileRequests.malformed(path: path) {
                    let response = try await Self.exchange(port, bytes)
                    #expect((400..<500).contains(response.status) && response.errorCode != nil, "\(what): \(response.status)")
                }
                // Announcing a body over the limit is refused at once, without sending it.
                let announced = try await Self.exchange(port, "POST \(path) HTTP/1.1\r\nHost: x\r\n\(auth)"
                                                        + "Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n")
                #expect(announced.status == 413)
                // A body that trickles is cut after the read timeout, and so is a head that never ends.
                let trickle = "POST \(path) HTTP/1.1\r\nHost: x\r\n\(auth)Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                try await RawHTTPConnection.with(port: port, sending: trickle) { connection in
                    #expect(try await connection.response(timeout: .seconds(30)).status == 408)
                    try await connection.waitUntilClosed(timeout: .seconds(30))
                }
                try await RawHTTPConnection.with(port: port, sending: "GET /healthz HTTP/1.1\r\nHost: x\r\n") { connection in
                    try await connection.waitUntilClosed(timeout: .seconds(30))
                }
            }
            // Dozens of slow clients at once do not keep an honest sender out: they are all cut at the timeout.
            let held = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await RawHTTPConnection.with(port: deployment.webhook, sending: "POST /webhook HTTP/1.1\r\n") {
                            try await $0.waitUntilClosed(timeout: .seconds(60))
                            return true
                        }
                    }
                }
                let honest = try await deployment.alert(group: "honest-during-slowloris")
                #expect(honest.status == 202, "\(honest.bodyText)")
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(held == 40)
            #expect(try await deployment.metric("euphrosyne_http_refused_total", ["reason": "read_timeout"]) >= 2)
        }
    }

    // MARK: - Results over Redis

    @Test func forgedResultsOnTheIncidentsChannelAreRefusedAndTheHonestOneStands() async throws {
        try await Deployment.with { deployment in
            let opened = try await deployment.alert(group: "forged-results")
            #expect(opened.status == 202)
            let id = try #require(try JSONValue.parseObject(Data(opened.body))["uuid"]?.stringValue)
            try await waitUntil("the reconciler to listen on the incident's channel") {
                try await deployment.redis.cli(["PUBSUB", "NUMSUB", id]).split(separator: "\n").last == "1"
            }
            // A neighbour with access to Redis publishes for this incident, and appends to its durable list too.
            let forged = RecipeResult(incident: id, name: "dummy", status: .successful, results: .init(
                actions: ["jira"], analysis: "FORGED: all clear, approve jira", links: ["https://evil.example"]))
            for message in [forged, ResultSignature.signed(forged, key: String(repeating: "0", count: 64))] {
                let text = String(decoding: message.encoded(), as: UTF8.self)
                _ = try await deployment.redis.cli(["RPUSH", ResultDelivery.durableKey(incident: id), text])
                _ = try await deployment.redis.cli(["PUBLISH", id, text])
            }
            try await waitUntil("both forgeries to be refused") {
                let unsigned = try await deployment.metric("euphrosyne_results_refused_total", ["reason": "unsigned"])
                let badSignature = try await deployment.metric("euphrosyne_results_refused_total", ["reason": "bad_signature"])
                return unsigned >= 1 && badSignature >= 1
            }
            try await waitUntil("the honest result", timeout: .seconds(60)) {
                try await deployment.incident(id)["state"] == .string("analysed")
            }
            let incident = try await deployment.incident(id)
            let analysis = incident["analysis"]?["text"]?.stringValue ?? ""
            #expect(analysis.contains("Dummy analysis") && !analysis.contains("FORGED"), "\(analysis)")
            #expect(incident["analysis"]?["links"]?.arrayValue?.isEmpty ?? true)
        }
    }

    // MARK: - Floods

    @Test func anIncidentFloodIsCappedWhileOpenGroupsStillJoinAndAnHonestSenderLandsOnRetry() async throws {
        try await Deployment.with { deployment in
            var opened: [String] = []
            var refused = 0
            for index in 0..<20 {
                let response = try await deployment.alert(group: "flood-\(index)")
                #expect(response.status < 500 || response.status == 503, "\(response.status)")
                if response.status == 202 { opened.append("flood-\(index)") }
                if response.status == 503 {
                    refused += 1
                    #expect(response.errorCode == "too_many_open_incidents" && response.header("retry-after") != nil)
                }
            }
            #expect(opened.count == Self.maxOpenIncidents && refused == 20 - Self.maxOpenIncidents)
            // An open group's notification still joins its incident.
            #expect(try await deployment.alert(group: opened[0]).status == 202)
            // The honest sender's new group is refused with Retry-After, as Alertmanager would be, until room is made.
            let first = try await deployment.alert(group: "honest")
            #expect(first.status == 503)
            for group in opened { #expect(try await deployment.alert(group: group, status: "resolved").status == 202) }
            try await waitUntil("the honest retry to land", timeout: .seconds(60), pollEvery: .milliseconds(200)) {
                try await deployment.alert(group: "honest").status == 202
            }
            #expect(try await deployment.metric("euphrosyne_intake_refused_total", ["reason": "max_open_incidents"]) >= 17)
        }
    }
}
