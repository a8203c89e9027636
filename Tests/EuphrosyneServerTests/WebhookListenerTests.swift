import EuphrosyneCore
import EuphrosyneEngine
@testable import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MetricsTestKit
import NIOCore
import Testing

@Suite struct WebhookListenerTests {
    static let alertmanagerPayload = #"""
        {"receiver":"reconciler","status":"firing","version":"4","groupKey":"{}:{alertname=\"X\"}","truncatedAlerts":0,
         "groupLabels":{"alertname":"X"},"commonLabels":{"alertname":"X"},"commonAnnotations":{},"externalURL":"http://am",
         "alerts":[{"status":"firing","labels":{"alertname":"X"},"annotations":{"summary":"x is down"},
                    "startsAt":"2026-11-28T21:13:44.511671691Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"",
                    "fingerprint":"09f827451c0fe9f3"}]}
        """#

    @Test func anAlertOpensAnIncidentAndIsAcceptedAtOnce() async throws {
        let harness = ServerHarness()
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: Self.alertmanagerPayload)) {
                    response in
                    #expect(response.status == .accepted)
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    let body = try #require(response.json)
                    #expect(body["recipes"] == .array([.string("dummy")]))
                    let id = try #require(body["uuid"]?.stringValue.flatMap(UUID.init(uuidString:)))
                    let incident = try #require(try await harness.coordinator.incident(id))
                    #expect(incident.alert.source == .alertmanager)
                    #expect(incident.payload["groupKey"] == .string(#"{}:{alertname="X"}"#))
                }
            }
        }
    }

    @Test func anyJSONObjectIsAnAlert() async throws {
        let harness = ServerHarness()
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: #"{"hello":"world"}"#)) {
                    #expect($0.status == .accepted)
                }
            }
        }
    }

    @Test(arguments: [
        ("{\"a\":", "malformed_json"),
        ("", "malformed_json"),
        ("[1, 2]", "invalid_body"),
        ("\"text\"", "invalid_body"),
    ])
    func aBodyThatIsNotAJSONObjectIsRefused(body: String, code: String) async throws {
        let harness = ServerHarness()
        try await harness.webhook.test(.router) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                #expect(response.status == .badRequest)
                #expect(response.apiError?.code == code)
            }
        }
    }

    @Test func aBodyOverOneMebibyteIsRefused() async throws {
        let harness = ServerHarness()
        let large = "{\"pad\":\"" + String(repeating: "a", count: 1 << 20) + "\"}"
        try await harness.webhook.test(.router) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: large)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(response.apiError?.code == "body_too_large")
            }
        }
    }

    @Test func alertsAreRefusedWithRetryAfterWhileShuttingDown() async throws {
        let harness = ServerHarness()
        try await harness.running {}
        try await harness.webhook.test(.router) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: "{}")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[HTTPField.Name("Retry-After")!] == "5")
                #expect(response.apiError?.code == "shutting_down")
            }
        }
    }

    @Test func aGroupIsOpenedJoinedResolvedAndThenIgnored() async throws {
        let harness = ServerHarness(["dummy": .hang])
        let resolved = Self.alertmanagerPayload.replacingOccurrences(of: "\"firing\"", with: "\"resolved\"")
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                let opened = try await client.execute(uri: "/webhook", method: .post, headers: .json,
                                                      body: ByteBuffer(json: Self.alertmanagerPayload))
                #expect(opened.status == .accepted)
                #expect(opened.json?["outcome"] == .string("opened"))
                #expect(opened.json?["new"] == .bool(true))
                let uuid = try #require(opened.json?["uuid"])

                let joined = try await client.execute(uri: "/webhook", method: .post, headers: .json,
                                                      body: ByteBuffer(json: Self.alertmanagerPayload))
                #expect(joined.status == .accepted)
                #expect(joined.json?["outcome"] == .string("joined"))
                #expect(joined.json?["uuid"] == uuid)
                #expect(joined.json?["new"] == .bool(false))
                #expect(joined.json?["recipes"] == .array([]))

                let ended = try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: resolved))
                #expect(ended.status == .accepted)
                #expect(ended.json?["outcome"] == .string("resolved"))
                #expect(ended.json?["state"] == .string("resolved"))
                #expect(ended.json?["uuid"] == uuid)

                // Alertmanager may send the resolved group again: nothing is open for it any more.
                let ignored = try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: resolved))
                #expect(ignored.status == .ok)
                #expect(ignored.json?["outcome"] == .string("ignored"))
                #expect(ignored.json?["uuid"] == nil)
                #expect(ignored.json?["reason"]?.stringValue?.contains("no open incident") == true)
            }
        }
    }

    @Test func aFullIntakeQueueAnswers503WithRetryAfter() async throws {
        let gate = Gate()
        let metrics = TestMetrics()
        let harness = ServerHarness(
            registry: GatedRegistry(ServerHarness.catalog, gate: gate),
            configuration: .init(drainTimeout: .milliseconds(200), intakeQueueCapacity: 1),
            metrics: ReconcilerMetrics(factory: metrics))
        try await harness.running {
            let coordinator = harness.coordinator
            let held = Task { try await coordinator.receive(payload: ["held": .bool(true)]) }
            try await waitUntil("the queue to fill") { coordinator.statistics.intakeQueueDepth == 1 }
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: Self.alertmanagerPayload)) {
                    response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[HTTPField.Name("Retry-After")!] == "5")
                    #expect(response.apiError?.code == "intake_queue_full")
                }
            }
            gate.open()
            #expect(try await held.value.isNew)
            let refused = try metrics.expectCounter("euphrosyne_intake_refused_total", [("reason", "queue_full")])
            #expect(refused.totalValue == 1)
        }
    }

    @Test func anAlertNameOverItsHourlyLimitAnswers429WithRetryAfter() async throws {
        let harness = ServerHarness(
            ["dummy": .hang], configuration: .init(drainTimeout: .milliseconds(200), incidentsPerAlertNamePerHour: 1))
        let otherGroup = Self.alertmanagerPayload.replacingOccurrences(of: "\"fingerprint\":\"09f827451c0fe9f3\"",
                                                                       with: "\"fingerprint\":\"1111111111111111\"")
            .replacingOccurrences(of: #""groupKey":"{}:{alertname=\"X\"}""#, with: #""groupKey":"{}:{alertname=\"X\", zone=\"b\"}""#)
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                let first = try await client.execute(uri: "/webhook", method: .post, headers: .json,
                                                     body: ByteBuffer(json: Self.alertmanagerPayload))
                #expect(first.status == .accepted)
                try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: otherGroup)) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect(response.apiError?.code == "rate_limited")
                    let retryAfter = Int(response.headers[HTTPField.Name("Retry-After")!] ?? "") ?? 0
                    #expect((3_500...3_600).contains(retryAfter))
                }
            }
        }
    }

    @Test func anUnknownPathIsAJSON404() async throws {
        let harness = ServerHarness()
        try await harness.webhook.test(.router) { client in
            try await client.execute(uri: "/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.apiError?.code == "not_found")
            }
        }
    }

    // MARK: Result callback

    @Test func aResultPostedToTheCallbackURLReachesTheIncident() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let id = incident.id.uuidString.lowercased()
            let path = "/results/\(id)/\(incident.callbackSecret)"
            let result = #"{"incident":"\#(id)","name":"dummy","status":"successful","results":{"analysis":"ok","actions":["jira"]}}"#
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: path, method: .post, headers: .json, body: ByteBuffer(json: result)) { response in
                    #expect(response.status == .accepted)
                    #expect(response.json == ["accepted": .bool(true)])
                }
                // The same result again is refused as a duplicate.
                try await client.execute(uri: path, method: .post, headers: .json, body: ByteBuffer(json: result)) { response in
                    #expect(response.status == .conflict)
                    #expect(response.apiError?.code == "result_ignored")
                    #expect(response.apiError?.message == "duplicate result from dummy")
                }
            }
            #expect(try await harness.coordinator.incident(incident.id)?.state == .analysed)
        }
    }

    @Test func theCallbackRefusesWrongSecretsUnknownIncidentsAndBadBodies() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let id = incident.id.uuidString.lowercased()
            let good = "/results/\(id)/\(incident.callbackSecret)"
            let valid = #"{"incident":"\#(id)","name":"dummy","status":"successful"}"#
            try await harness.webhook.test(.router) { client in
                for (uri, body, status, code) in [
                    ("/results/\(id)/\(String(repeating: "0", count: 64))", valid, HTTPResponse.Status.notFound, "unknown_callback"),
                    ("/results/\(UUID().uuidString)/\(incident.callbackSecret)", valid, .notFound, "unknown_callback"),
                    ("/results/not-a-uuid/\(incident.callbackSecret)", valid, .badRequest, "invalid_uuid"),
                    (good, "{", .badRequest, "malformed_json"),
                    (good, #"{"incident":"\#(id)","status":"successful"}"#, .badRequest, "invalid_body"),
                    (good, #"{"incident":"\#(UUID().uuidString)","name":"dummy"}"#, .unprocessableContent, "incident_mismatch"),
                    (good, #"{"incident":"\#(id)","name":"intruder","status":"successful"}"#, .conflict, "result_ignored"),
                ] {
                    try await client.execute(uri: uri, method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                        #expect(response.status == status, "\(uri) \(body)")
                        #expect(response.apiError?.code == code, "\(uri) \(body)")
                    }
                }
                try await client.execute(uri: good, method: .post, headers: .json,
                                         body: ByteBuffer(json: #"{"incident":"\#(id)","status":"successful"}"#)) {
                    #expect($0.apiError?.field == "name")
                }
            }
            #expect(try await harness.coordinator.incident(incident.id)?.runs.first?.state == .running)
        }
    }

    @Test func theCallbackVerifiesASignatureWhenThereIsOne() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let id = incident.id.uuidString.lowercased()
            let path = "/results/\(id)/\(incident.callbackSecret)"
            let result = RecipeResult(incident: id, name: "dummy", status: .successful, results: .init(analysis: "ok"))
            let forged = ResultSignature.signed(result, key: IncidentCoordinator.makeSecret())
            let signed = ResultSignature.signed(result, key: incident.callbackSecret)
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: path, method: .post, headers: .json,
                                         body: ByteBuffer(bytes: forged.encoded())) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(response.apiError?.code == "bad_signature")
                    #expect(response.apiError?.field == "signature")
                }
                #expect(try await harness.coordinator.incident(incident.id)?.runs.first?.state.isFinished == false)
                try await client.execute(uri: path, method: .post, headers: .json,
                                         body: ByteBuffer(bytes: signed.encoded())) { response in
                    #expect(response.status == .accepted)
                }
            }
            #expect(try await harness.coordinator.incident(incident.id)?.state == .analysed)
        }
    }

    // MARK: Health

    @Test func healthAndReadiness() async throws {
        let ready = ServerHarness()
        try await ready.webhook.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
        let notReady = ServerHarness(readiness: Readiness([(name: "registry", check: { "not loaded" })]))
        try await notReady.api.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.json?["problems"] == .object(["registry": .string("not loaded")]))
            }
        }
    }

    @Test func theListenerServesOverARealSocket() async throws {
        let harness = ServerHarness()
        try await harness.running {
            try await harness.webhook.test(.live) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(json: Self.alertmanagerPayload)) {
                    #expect($0.status == .accepted)
                }
            }
        }
    }

    @Test func aRepeatedGroupAnswersWithItsOpenIncident() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                let first = try await client.execute(uri: "/webhook", method: .post, headers: .json,
                                                     body: ByteBuffer(json: Self.alertmanagerPayload)) { $0.json }
                #expect(first?["new"] == .bool(true))
                try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(json: Self.alertmanagerPayload)) {
                    response in
                    #expect(response.status == .accepted)
                    #expect(response.json?["uuid"] == first?["uuid"])
                    #expect(response.json?["new"] == .bool(false))
                    #expect(response.json?["recipes"] == .array([]))
                }
            }
            try await waitUntil("the one launch") { harness.launcher.requests.count == 1 }
        }
    }
}

/// The webhook's answer is written by hand; it must be the bytes the shared JSON encoder would write.
@Suite struct WebhookAnswerEncodingTests {
    @Test func theHandWrittenAnswerIsWhatTheEncoderWrites() throws {
        let answers = [
            WebhookRoutes.Received(outcome: "opened", uuid: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", state: "diagnosing",
                                   recipes: ["dummy", "pod-diagnostics"], new: true, reason: nil),
            WebhookRoutes.Received(outcome: "joined", uuid: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", state: "analysed",
                                   recipes: [], new: false, reason: nil),
            WebhookRoutes.Received(outcome: "ignored", uuid: nil, state: nil, recipes: [], new: false,
                                   reason: "quote \" backslash \\ slash / newline \n tab \t bell \u{7} é 🚨"),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for answer in answers {
            #expect(String(decoding: answer.json, as: UTF8.self) == String(decoding: try encoder.encode(answer), as: UTF8.self))
        }
    }
}
