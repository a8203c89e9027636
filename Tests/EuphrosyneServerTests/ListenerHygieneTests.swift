import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import Logging
import Testing

/// Both listeners live on loopback, as `serve` builds them (the connection guard, the connection cap), held to
/// what a hostile client sends: other spellings of protected paths, broken framing, oversized and trickling
/// requests. Every answer is a JSON error or a close, never a 5xx, and nothing gets past authentication.
@Suite struct ListenerHygieneTests {
    static let apiToken = "token-ops-0123456789"
    static let webhookToken = "am-token-0123456789"
    static let alert = #"{"version":"4","status":"firing","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}"#

    /// Runs `harness`'s coordinator behind both listeners on OS-picked ports, with these limits and credentials.
    static func live<T: Sendable>(
        _ harness: ServerHarness, limits: ListenerLimits = ListenerLimits(), authenticated: Bool = false,
        metrics: MetricsExporter? = nil,
        _ body: @Sendable (_ webhook: Int, _ api: Int) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "hygiene")
        logger.logLevel = .critical
        let ports = PortCollector(count: 2)
        let readiness = Readiness()
        let webhook = Listeners.webhook(
            coordinator: harness.coordinator, readiness: readiness, host: "127.0.0.1", port: 0, logger: logger,
            exporter: metrics,
            credentials: authenticated ? WebhookCredentials(bearerTokens: [webhookToken]) : WebhookCredentials(),
            limits: limits, onServerRunning: { await ports.set(0, $0) }
        )
        let api = Listeners.api(
            coordinator: harness.coordinator, readiness: readiness, host: "127.0.0.1", port: 0, logger: logger,
            exporter: metrics,
            credentials: authenticated ? APICredentials(bearerTokens: ["ops": apiToken]) : APICredentials(),
            limits: limits, onServerRunning: { await ports.set(1, $0) }
        )
        return try await RunningServer.with(services: [harness.coordinator, webhook, api], ports: ports, logger: logger) {
            try await body($0[0], $0[1])
        }
    }

    /// One request on a fresh connection and its answer.
    static func exchange(_ port: Int, _ request: String) async throws -> RawHTTPResponse {
        try await RawHTTPConnection.exchange(port: port, request)
    }

    // MARK: - Authentication by route

    @Test func everySpellingOfAProtectedPathIsAuthenticatedOnBothListeners() async throws {
        let harness = ServerHarness()
        try await Self.live(harness, authenticated: true) { webhookPort, apiPort in
            let unknown = UUID().uuidString.lowercased()
            let approval = #"{"uuid":"\#(unknown)","actions":[{"name":"jira"}]}"#
            let routes: [(port: Int, method: String, path: String, body: String, token: String)] = [
                (webhookPort, "POST", "/webhook", Self.alert, Self.webhookToken),
                (apiPort, "POST", "/api/actions", approval, Self.apiToken),
                (apiPort, "POST", "/api/status", #"{"uuid":"\#(unknown)"}"#, Self.apiToken),
                (apiPort, "GET", "/api/incidents", "", Self.apiToken),
                (apiPort, "GET", "/api/incidents/\(unknown)", "", Self.apiToken),
            ]
            var reachedWithoutCredentials: [String] = []
            var checked = 0
            for route in routes {
                for variant in HostileRequests.pathVariants(of: route.path) {
                    let anonymous = try await Self.exchange(route.port, HostileRequests.request(route.method, variant, body: route.body))
                    let authorized = try await Self.exchange(route.port, HostileRequests.request(
                        route.method, variant, headers: [("Authorization", "Bearer \(route.token)")], body: route.body))
                    checked += 1
                    #expect(anonymous.status < 500 && authorized.status < 500, "\(route.method) \(variant)")
                    // Without credentials a variant is refused (401) or matches no route at all (404 not_found).
                    let unmatched = anonymous.status == 404 && anonymous.errorCode == "not_found"
                    if anonymous.status != 401 && !unmatched {
                        reachedWithoutCredentials.append("\(route.method) \(variant) → \(anonymous.status) \(anonymous.bodyText)")
                    }
                    // What needed credentials reaches its route with them; what matched nothing still matches nothing.
                    if anonymous.status == 401 {
                        #expect(authorized.status != 401, "\(route.method) \(variant)")
                        #expect(anonymous.errorCode == "unauthorized")
                    } else if unmatched {
                        #expect(authorized.status == 404 && authorized.errorCode == "not_found", "\(route.method) \(variant)")
                    }
                }
            }
            #expect(reachedWithoutCredentials.isEmpty, "bypasses: \(reachedWithoutCredentials)")
            #expect(checked > 80)
            // No incident opened from any anonymous variant; the authorized ones that reached /webhook did.
            let page = try await harness.coordinator.incidents(offset: 0, limit: 10)
            #expect(page.total == 1, "one group, opened once by the authorized variants")
        }
    }

    // MARK: - HTTP framing

    @Test func malformedHTTPIsAnsweredWithAJSON4xxAndTheConnectionClosed() async throws {
        let harness = ServerHarness()
        try await Self.live(harness) { webhookPort, apiPort in
            for port in [webhookPort, apiPort] {
                for (what, bytes) in HostileRequests.malformed(path: port == webhookPort ? "/webhook" : "/api/actions") {
                    try await RawHTTPConnection.with(port: port) { connection in
                        try await connection.send(bytes)
                        let response = try await connection.response()
                        #expect((400..<500).contains(response.status), "\(what): \(response.status) \(response.bodyText)")
                        #expect(response.errorCode != nil, "\(what): a JSON error, got \(response.bodyText)")
                        #expect(response.header("connection") == "close", "\(what)")
                        try await connection.waitUntilClosed()
                    }
                }
            }
            // A bad chunk-size line in particular is the client's fault.
            let chunked = try await Self.exchange(webhookPort, HostileRequests.malformed(path: "/webhook")[0].bytes)
            #expect(chunked.status == 400 && chunked.errorCode == "malformed_request")
            let hugeHead = try await Self.exchange(apiPort, HostileRequests.malformed(path: "/healthz").last!.bytes)
            #expect(hugeHead.status == 431 && hugeHead.errorCode == "header_too_large")
            // The listeners still serve.
            let healthy = try await Self.exchange(webhookPort, HostileRequests.request("GET", "/healthz"))
            #expect(healthy.status == 200)
        }
    }

    @Test func anAnnouncedBodyOverTheLimitIsRefusedAtOnceWithoutReadingIt() async throws {
        let harness = ServerHarness()
        // A read timeout far longer than the test waits: the 413 must not wait for the body.
        try await Self.live(harness, limits: ListenerLimits(readTimeout: .seconds(600))) { webhookPort, apiPort in
            for port in [webhookPort, apiPort] {
                try await RawHTTPConnection.with(port: port) { connection in
                    try await connection.send("POST \(port == webhookPort ? "/webhook" : "/api/actions") HTTP/1.1\r\nHost: x\r\n"
                                              + "Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{")
                    let response = try await connection.response(timeout: .seconds(20))
                    #expect(response.status == 413 && response.errorCode == "body_too_large")
                    try await connection.waitUntilClosed(timeout: .seconds(20))
                }
            }
            // A chunked body that grows past the limit is cut as it passes it.
            try await RawHTTPConnection.with(port: webhookPort) { connection in
                try await connection.send("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                          + "Transfer-Encoding: chunked\r\n\r\n")
                let chunk = String(repeating: "a", count: 64 * 1024)
                for _ in 0..<17 where !connection.isClosed {
                    try? await connection.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
                }
                let response = try await connection.response(timeout: .seconds(20))
                #expect(response.status == 413 && response.errorCode == "body_too_large")
                try await connection.waitUntilClosed(timeout: .seconds(20))
            }
        }
    }

    // MARK: - Slow clients

    @Test func aBodyThatTricklesIsCutWith408AndItsConnectionClosed() async throws {
        let harness = ServerHarness()
        try await Self.live(harness, limits: ListenerLimits(readTimeout: .seconds(1))) { webhookPort, _ in
            // Sent as the connection opens, so the head is in before its deadline however busy the machine is.
            let trickle = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"
            try await RawHTTPConnection.with(port: webhookPort, sending: trickle) { connection in
                let response = try await connection.response(timeout: .seconds(20))
                #expect(response.status == 408 && response.errorCode == "request_timeout")
                try await connection.waitUntilClosed(timeout: .seconds(20))
            }
            let page = try await harness.coordinator.incidents(offset: 0, limit: 10)
            #expect(page.total == 0)
        }
    }

    @Test func aHeadThatNeverEndsAndAnIdleKeepAliveConnectionAreClosed() async throws {
        let harness = ServerHarness()
        try await Self.live(harness, limits: ListenerLimits(readTimeout: .seconds(1))) { webhookPort, apiPort in
            try await RawHTTPConnection.with(port: apiPort, sending: "POST /api/actions HTTP/1.1\r\nHost: x\r\n") { connection in
                try await connection.waitUntilClosed(timeout: .seconds(20))
                #expect(connection.hasNoResponse)
            }
            try await RawHTTPConnection.with(port: webhookPort, sending: HostileRequests.request("GET", "/healthz")) { connection in
                #expect(try await connection.response(timeout: .seconds(20)).status == 200)
                // The keep-alive connection is closed once idle for the read timeout.
                try await connection.waitUntilClosed(timeout: .seconds(20))
            }
        }
    }

    @Test func eachListenerHoldsAtMostItsConnectionCapAndServesTheNextWhenOneCloses() async throws {
        let exporter = MetricsExporter()
        let harness = ServerHarness(metrics: exporter.metrics)
        try await Self.live(harness, limits: ListenerLimits(readTimeout: .seconds(600), maxConnections: 2),
                            metrics: exporter) { webhookPort, apiPort in
            try await RawHTTPConnection.with(port: webhookPort) { first in
                try await RawHTTPConnection.with(port: webhookPort) { _ in
                    // Both held, idle; the cap now keeps the listener from accepting.
                    try await waitUntil("the connection cap to hold accepting") {
                        await exporter.render()
                            .contains(#"euphrosyne_http_refused_total{listener="webhook",reason="connection_limit"}"#)
                    }
                    try await RawHTTPConnection.with(port: webhookPort) { third in
                        try await third.send(HostileRequests.request("GET", "/healthz"))
                        // The API listener has its own cap and still answers.
                        #expect(try await Self.exchange(apiPort, HostileRequests.request("GET", "/healthz")).status == 200)
                        #expect(third.hasNoResponse)
                        await first.close()
                        #expect(try await third.response(timeout: .seconds(20)).status == 200)
                    }
                }
            }
        }
    }
}
