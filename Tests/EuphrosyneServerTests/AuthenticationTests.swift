import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
@testable import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct AuthenticationTests {
    static let credentials = APICredentials(
        bearerTokens: ["ops": "token-ops-0123456789", "ci": "token-ci-9876543210"],
        hmacKeys: ["bot": "hmac-secret-bot"], replayWindow: .seconds(300)
    )

    static func approval(_ id: UUID) -> ByteBuffer {
        ByteBuffer(json: #"{"uuid":"\#(id.uuidString.lowercased())","actions":[{"name":"jira"}]}"#)
    }

    static func signedHeaders(body: ByteBuffer, key: String = "bot", secret: String = "hmac-secret-bot",
                              timestamp: Int = Int(Date().timeIntervalSince1970), method: String = "POST",
                              target: String = "/api/actions") -> HTTPFields {
        var headers = HTTPFields()
        headers[RequestSignature.keyIDHeader] = key
        headers[RequestSignature.timestampHeader] = String(timestamp)
        headers[RequestSignature.signatureHeader] = RequestSignature.sign(
            method: method, target: target, body: body.readableBytesView, timestamp: timestamp, secret: secret)
        headers[.contentType] = "application/json"
        return headers
    }

    @Test func withoutCredentialsTheAPIRefusesEveryRouteButTheProbesAndMetrics() async throws {
        let harness = ServerHarness(apiCredentials: Self.credentials)
        try await harness.running {
            try await harness.api.test(.router) { client in
                for (uri, method) in [("/api/actions", HTTPRequest.Method.post), ("/api/status", .post),
                                      ("/api/incidents", .get), ("/api/incidents/\(UUID())", .get)] {
                    try await client.execute(uri: uri, method: method, headers: .json, body: ByteBuffer(json: "{}")) { response in
                        #expect(response.status == .unauthorized, "\(uri)")
                        #expect(response.apiError?.code == "unauthorized")
                        #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="euphrosyne""#)
                    }
                }
                for uri in ["/healthz", "/readyz"] {
                    try await client.execute(uri: uri, method: .get) { response in #expect(response.status == .ok, "\(uri)") }
                }
            }
        }
    }

    @Test func aWrongTokenIsRefusedAndEitherConfiguredTokenIsAcceptedAndAudited() async throws {
        let harness = ServerHarness(apiCredentials: Self.credentials)
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                for wrong in ["Bearer token-ops-012345678", "Bearer token-ops-0123456789x", "Basic b3BzOnB3",
                              "Bearer", "token-ops-0123456789"] {
                    try await client.execute(uri: "/api/actions", method: .post,
                                             headers: [.authorization: wrong, .contentType: "application/json"],
                                             body: Self.approval(incident.id)) { response in
                        #expect(response.status == .unauthorized, "\(wrong)")
                        // The refusal never echoes what was sent.
                        #expect(!String(buffer: response.body).contains("token-ops"))
                    }
                }
                try await client.execute(uri: "/api/actions", method: .post,
                                         headers: [.authorization: "Bearer token-ci-9876543210", .contentType: "application/json"],
                                         body: Self.approval(incident.id)) { response in
                    #expect(response.status == .accepted)
                }
                try await client.execute(uri: "/api/incidents/\(incident.id)", method: .get,
                                         headers: [.authorization: "bearer token-ops-0123456789"]) { response in
                    #expect(response.status == .ok)
                    let attempts = response.json?["approvalAttempts"]?.arrayValue ?? []
                    #expect(attempts.count == 1)
                    #expect(attempts.first?["by"] == .string("token:ci") && attempts.first?["outcome"] == .string("approved"))
                    #expect(response.json?["approvals"]?.arrayValue?.first?["approvedBy"] == .string("token:ci"))
                }
            }
        }
    }

    @Test func aSignedRequestIsAcceptedOnceWithinItsWindow() async throws {
        let harness = ServerHarness(apiCredentials: Self.credentials)
        try await harness.running {
            let incident = try await harness.analysedIncident()
            let body = Self.approval(incident.id)
            let now = Int(Date().timeIntervalSince1970)
            try await harness.api.test(.router) { client in
                let refused: [(String, HTTPFields, ByteBuffer)] = [
                    ("wrong secret", Self.signedHeaders(body: body, secret: "guess"), body),
                    ("unknown key", Self.signedHeaders(body: body, key: "other"), body),
                    ("body changed after signing", Self.signedHeaders(body: body), ByteBuffer(json: #"{"uuid":"x","actions":[]}"#)),
                    ("too old", Self.signedHeaders(body: body, timestamp: now - 400), body),
                    ("from the future", Self.signedHeaders(body: body, timestamp: now + 400), body),
                    ("signed for another route", Self.signedHeaders(body: body, target: "/api/status"), body),
                    ("signed for another method", Self.signedHeaders(body: body, method: "PUT"), body),
                    ("signed with a query the request lacks", Self.signedHeaders(body: body, target: "/api/actions?x=1"), body),
                ]
                for (why, headers, sent) in refused {
                    try await client.execute(uri: "/api/actions", method: .post, headers: headers, body: sent) { response in
                        #expect(response.status == .unauthorized, "\(why)")
                    }
                }
                var noTimestamp = Self.signedHeaders(body: body)
                noTimestamp[RequestSignature.timestampHeader] = nil
                try await client.execute(uri: "/api/actions", method: .post, headers: noTimestamp, body: body) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.apiError?.message.contains("X-Euphrosyne-Timestamp") == true)
                }

                let valid = Self.signedHeaders(body: body, timestamp: now - 60)
                try await client.execute(uri: "/api/actions", method: .post, headers: valid, body: body) { response in
                    #expect(response.status == .accepted)
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: valid, body: body) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.apiError?.message.contains("replay") == true)
                }
            }
            let stored = try #require(try await harness.coordinator.incident(incident.id))
            #expect(stored.approvalAttempts.map(\.by) == ["hmac:bot"])
            #expect(stored.approvals.count == 1)
        }
    }

    /// A replay cache that cannot be reached, as Redis during an outage.
    struct UnreachableReplayCache: ReplayCache {
        struct Down: Error {}
        func admit(keyID: String, signature: String, sentAt: Date, now: Date, window: TimeInterval) async throws -> Bool {
            throw Down()
        }
    }

    @Test func aSignedRequestIsRefusedNotLetThroughWhenTheReplayCacheCannotBeReached() async throws {
        let harness = ServerHarness(apiCredentials: Self.credentials)
        let api = Application(router: Listeners.apiRouter(coordinator: harness.coordinator, readiness: Readiness(),
                                                          credentials: Self.credentials, replayCache: UnreachableReplayCache()))
        try await harness.running {
            let body = ByteBuffer(json: "{}")
            try await api.test(.router) { client in
                try await client.execute(uri: "/api/status", method: .post,
                                         headers: Self.signedHeaders(body: body, target: "/api/status"), body: body) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.apiError?.code == "replay_check_unavailable")
                    #expect(response.headers[HTTPField.Name("Retry-After")!] == "5")
                }
                // A bearer token does not need the cache.
                try await client.execute(uri: "/api/status", method: .post,
                                         headers: [.authorization: "Bearer token-ops-0123456789", .contentType: "application/json"],
                                         body: body) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func theWebhookAsksForItsConfiguredBearerTokenOrBasicAuthOnlyOnWebhook() async throws {
        let harness = ServerHarness(webhookCredentials: WebhookCredentials(
            bearerTokens: ["am-token"], basicAuth: [(user: "alertmanager", password: "s3cret")]
        ))
        let alert = ByteBuffer(json: #"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}"#)
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                let basic = "Basic " + Data("alertmanager:s3cret".utf8).base64EncodedString()
                let wrongBasic = "Basic " + Data("alertmanager:guess".utf8).base64EncodedString()
                for (header, status) in [(nil, HTTPResponse.Status.unauthorized), ("Bearer nope", .unauthorized),
                                         (wrongBasic, .unauthorized), ("Bearer am-token", .accepted), (basic, .accepted)] {
                    var headers = HTTPFields.json
                    if let header { headers[.authorization] = header }
                    try await client.execute(uri: "/webhook", method: .post, headers: headers, body: alert) { response in
                        #expect(response.status == status, "\(header ?? "none")")
                        if status == .unauthorized {
                            #expect(response.headers[.wwwAuthenticate] == #"Basic realm="euphrosyne-webhook""#)
                        }
                    }
                }
                try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
            }
        }
    }

    @Test func credentialListsParseAndNameTheirProblemsWithoutTheSecret() throws {
        let parsed = try CredentialList.parse("# rotated monthly\nops: abc\n\nci:def:with-colon\n", source: "tokens")
        #expect(parsed.map(\.name) == ["ops", "ci"] && parsed.map(\.secret) == ["abc", "def:with-colon"])
        #expect(try CredentialList.parse("a:1,b:2", source: "API_TOKENS").count == 2)
        for (text, message) in [("justasecret", "tokens, entry 1: expected name:secret"),
                                ("ops:", "tokens, entry 1: name and secret must not be empty"),
                                ("ops:a\nops:b", "tokens: \"ops\" is listed twice")] {
            #expect(throws: CredentialList.Problem.self) { try CredentialList.parse(text, source: "tokens") }
            do {
                _ = try CredentialList.parse(text, source: "tokens")
            } catch {
                #expect(error.description == message)
                #expect(!error.description.contains("justasecret"))
            }
        }
    }

    @Test func signaturesAreHMACSHA256OfTimestampMethodTargetAndBody() {
        // Computed independently: printf '1700000000\nPOST\n/api/actions\n{}' | openssl dgst -sha256 -hmac key
        #expect(RequestSignature.sign(method: "POST", target: "/api/actions", body: Array("{}".utf8),
                                      timestamp: 1_700_000_000, secret: "key")
            == "sha256=d978766d4142f6ca4b3a3752ac3c9ac2ed22ce1c3c2f2ceb314a546ffa48d359")
    }

    @Test func aSignatureInTheOldFormIsRefusedSayingWhatChanged() async throws {
        let harness = ServerHarness(apiCredentials: Self.credentials)
        try await harness.running {
            let incident = try await harness.analysedIncident()
            let body = Self.approval(incident.id)
            let now = Int(Date().timeIntervalSince1970)
            var legacyHeaders = Self.signedHeaders(body: body, timestamp: now)
            // The form before signatures covered the method and target: printf '<ts>.<body>' | openssl … -hmac
            legacyHeaders[RequestSignature.signatureHeader] = RequestSignature.legacySignature(
                body: body.readableBytesView, timestamp: now, secret: "hmac-secret-bot")
            let headers = legacyHeaders
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/actions", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.apiError?.message.contains("<METHOD>") == true)
                }
            }
        }
    }
}
