import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The bounds every endpoint puts on its input: content types, body sizes, per-field limits, and the order in
/// which an approval is judged.
@Suite struct InputHardeningTests {
    static let json: HTTPFields = [.contentType: "application/json"]

    static func approval(_ uuid: String, _ actions: String) -> ByteBuffer {
        ByteBuffer(json: #"{"uuid":"\#(uuid)","actions":\#(actions)}"#)
    }

    // MARK: Content-Type

    @Test(arguments: ["text/plain", "application/x-www-form-urlencoded", "application/jsonl", "text/json",
                      "application/+json", "application/xml; charset=utf-8", "multipart/form-data; boundary=x", ""])
    func aBodyThatIsNotDeclaredJSONIsRefusedWith415OnEveryBodyRoute(contentType: String) async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let id = incident.id.uuidString.lowercased()
            let headers: HTTPFields = [.contentType: contentType]
            let routes: [(Application<RouterResponder<BasicRequestContext>>, String, String)] = [
                (harness.webhook, "/webhook", WebhookListenerTests.alertmanagerPayload),
                (harness.webhook, "/results/\(id)/\(incident.callbackSecret)",
                 #"{"incident":"\#(id)","name":"dummy","status":"successful"}"#),
                (harness.api, "/api/actions", #"{"uuid":"\#(id)","actions":[{"name":"jira"}]}"#),
                (harness.api, "/api/status", #"{"uuid":"\#(id)"}"#),
            ]
            for (application, uri, body) in routes {
                try await application.test(.router) { client in
                    try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(json: body)) {
                        #expect($0.status == .unsupportedMediaType, "\(uri) \(contentType)")
                        #expect($0.apiError?.code == "unsupported_media_type", "\(uri)")
                        #expect($0.apiError?.field == "Content-Type", "\(uri)")
                    }
                }
            }
            // Nothing reached the incident.
            let stored = try #require(try await harness.coordinator.incident(incident.id))
            #expect(stored.runs.first?.state == .running && stored.approvalAttempts.isEmpty)
        }
    }

    @Test(arguments: ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
                      "application/vnd.alertmanager+json", "application/merge-patch+json; charset=utf-8", nil])
    func jsonContentTypesAndNoneAtAllAreAccepted(contentType: String?) async throws {
        let harness = ServerHarness()
        let headers: HTTPFields = contentType.map { [.contentType: $0] } ?? [:]
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: headers,
                                         body: ByteBuffer(json: #"{"hello":"\#(UUID())"}"#)) {
                    #expect($0.status == .accepted)
                }
            }
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/status", method: .post, headers: headers, body: ByteBuffer(json: "{}")) {
                    #expect($0.status == .ok)
                }
            }
        }
    }

    // MARK: 413 on every body route

    @Test func aBodyOverOneMebibyteIsRefusedOnEveryBodyRoute() async throws {
        let harness = ServerHarness(["dummy": .hang])
        let large = ByteBuffer(json: "{\"pad\":\"" + String(repeating: "a", count: 1 << 20) + "\"}")
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let callback = "/results/\(incident.id.uuidString.lowercased())/\(incident.callbackSecret)"
            for (application, uri) in [(harness.webhook, "/webhook"), (harness.webhook, callback),
                                       (harness.api, "/api/actions"), (harness.api, "/api/status")] {
                try await application.test(.router) { client in
                    try await client.execute(uri: uri, method: .post, headers: Self.json, body: large) {
                        #expect($0.status == .contentTooLarge, "\(uri)")
                        #expect($0.apiError?.code == "body_too_large", "\(uri)")
                    }
                }
            }
        }
    }

    // MARK: Field limits

    @Test func approvalsOverALimitAreRefusedNamingTheField() async throws {
        let harness = ServerHarness()
        try await harness.running {
            let analysed = try await harness.analysedIncident()
            let id = analysed.id.uuidString.lowercased()
            let longString = String(repeating: "s", count: 8193)
            let manyKeys = (0...50).map { #""k\#($0)":1"# }.joined(separator: ",")
            let cases: [(String, String, String)] = [
                (String(repeating: "a", count: 65), #"[{"name":"jira"}]"#, "uuid"),
                (id, "[" + Array(repeating: #"{"name":"jira"}"#, count: 21).joined(separator: ",") + "]", "actions"),
                (id, #"[{"name":"jira"},{"name":"\#(String(repeating: "n", count: 254))"}]"#, "actions[1].name"),
                (id, #"[{"name":"jira","data":{\#(manyKeys)}}]"#, "actions[0].data"),
                (id, #"[{"name":"jira","data":{"\#(String(repeating: "k", count: 257))":1}}]"#, "actions[0].data"),
                (id, #"[{"name":"jira","data":{"summary":"\#(longString)"}}]"#, "actions[0].data.summary"),
                (id, #"[{"name":"jira","data":{"items":["ok","\#(longString)"]}}]"#, "actions[0].data.items[1]"),
                (id, #"[{"name":"jira","data":{"a":{"b":"\#(longString)"}}}]"#, "actions[0].data.a.b"),
                (id, #"[{"name":"jira","data":{"a":{"\#(String(repeating: "k", count: 257))":true}}}]"#, "actions[0].data.a"),
            ]
            try await harness.api.test(.router) { client in
                for (uuid, actions, field) in cases {
                    try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                             body: Self.approval(uuid, actions)) { response in
                        #expect(response.status == .badRequest, "\(field)")
                        #expect(response.apiError?.code == "too_large", "\(field)")
                        #expect(response.apiError?.field == field)
                        #expect(response.apiError.map { $0.message.count < 400 } == true, "\(field): a short message")
                    }
                }
            }
            #expect(try await harness.coordinator.incident(analysed.id)?.approvalAttempts.isEmpty == true)
        }
    }

    @Test func valuesAtTheLimitsAreAccepted() async throws {
        let harness = ServerHarness()
        try await harness.running {
            let analysed = try await harness.analysedIncident()
            let id = analysed.id.uuidString.lowercased()
            // 50 keys, one of 256 characters, a string of 8192 characters; all of it under the 16 KiB the data of
            // one approval may take as JSON.
            var data = (0..<49).map { #""k\#($0)":"v""# }
            data.append(#""\#(String(repeating: "k", count: 256))":{"nested":["\#(String(repeating: "x", count: 8192))"]}"#)
            let actions = #"[{"name":"jira","data":{\#(data.joined(separator: ","))}}]"#
            // Each string within its limit (multi-byte characters count as one), but 24 KiB as JSON together.
            let tooMuch = #"[{"name":"jira","data":{"a":"\#(String(repeating: "é", count: 6_000))","b":"\#(String(repeating: "é", count: 6_000))"}}]"#
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: Self.approval(id, tooMuch)) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.apiError?.code == "too_large" && response.apiError?.field == "actions")
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: Self.approval(id, actions)) { response in
                    #expect(response.status == .accepted)
                }
                // 20 actions and a name of 253 characters pass the limits (and meet the registry).
                let twenty = "[" + Array(repeating: #"{"name":"jira"}"#, count: 19).joined(separator: ",")
                    + #",{"name":"\#(String(repeating: "n", count: 253))"}]"#
                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: Self.approval(id, twenty)) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(response.apiError?.code == "unknown_action")
                }
            }
        }
    }

    @Test func statusRefusesAnOverlongUUID() async throws {
        let harness = ServerHarness()
        try await harness.api.test(.router) { client in
            try await client.execute(uri: "/api/status", method: .post, headers: Self.json,
                                     body: ByteBuffer(json: #"{"uuid":"\#(String(repeating: "u", count: 65))"}"#)) {
                #expect($0.status == .badRequest)
                #expect($0.apiError?.code == "too_large")
                #expect($0.apiError?.field == "uuid")
            }
        }
    }

    @Test func aNotificationOfMoreThanAThousandAlertsIsRefused() async throws {
        let harness = ServerHarness()
        try await harness.running {
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: Self.json, body: Self.notification(1001)) {
                    #expect($0.status == .badRequest)
                    #expect($0.apiError?.code == "too_large")
                    #expect($0.apiError?.field == "alerts")
                }
                try await client.execute(uri: "/webhook", method: .post, headers: Self.json, body: Self.notification(1000)) {
                    #expect($0.status == .accepted)
                }
            }
        }
    }

    static func notification(_ count: Int) -> ByteBuffer {
        let alert = #"{"status":"firing","labels":{"alertname":"Many"}}"#
        return ByteBuffer(json: #"{"version":"4","groupKey":"many-\#(count)","status":"firing","alerts":["#
                          + Array(repeating: alert, count: count).joined(separator: ",") + "]}")
    }

    // MARK: Action names before the incident

    @Test func unknownAndDisabledActionsAre422WhateverTheIncident() async throws {
        let harness = ServerHarness(["dummy": .hang])
        let failing = ServerHarness(["dummy": .exit(1, stderr: "boom")])
        try await failing.running {
            let closed = try await failing.coordinator.openIncident(payload: .unique)
            try await waitUntil("the incident to fail") {
                try await failing.coordinator.incident(closed.id)?.state == .failed
            }
            try await failing.api.test(.router) { client in
                for (actions, code) in [(#"[{"name":"nope"}]"#, "unknown_action"), (#"[{"name":"restart"}]"#, "disabled_action"),
                                        (#"[{"name":"jira"},{"name":"nope"}]"#, "unknown_action")] {
                    try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                             body: Self.approval(closed.id.uuidString, actions)) {
                        #expect($0.status == .unprocessableContent, "closed incident, \(actions)")
                        #expect($0.apiError?.code == code)
                        #expect($0.apiError?.field == "actions")
                    }
                }
                // Registered names reach the incident's rules.
                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: Self.approval(closed.id.uuidString, #"[{"name":"jira"}]"#)) {
                    #expect($0.status == .conflict && $0.apiError?.code == "incident_closed")
                }
            }
        }
        try await harness.running {
            let diagnosing = try await harness.coordinator.openIncident(payload: .unique)
            try await harness.api.test(.router) { client in
                let missing = UUID().uuidString
                for (uuid, actions, code) in [(missing, #"[{"name":"nope"}]"#, "unknown_action"),
                                              (missing, #"[{"name":"restart"}]"#, "disabled_action"),
                                              (missing, #"[]"#, "no_actions"),
                                              (diagnosing.id.uuidString, #"[{"name":"nope"}]"#, "unknown_action")] {
                    try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                             body: Self.approval(uuid, actions)) {
                        #expect($0.status == .unprocessableContent, "\(uuid) \(actions)")
                        #expect($0.apiError?.code == code, "\(uuid) \(actions)")
                    }
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: Self.json,
                                         body: Self.approval(missing, #"[{"name":"jira"}]"#)) {
                    #expect($0.status == .notFound && $0.apiError?.code == "incident_not_found")
                }
            }
            // The open incident's audit still records the refusal.
            let attempts = try await harness.coordinator.incident(diagnosing.id)?.approvalAttempts ?? []
            #expect(attempts.count == 1)
            #expect(attempts.first?.outcome == .refused && attempts.first?.actions == ["nope"])
            #expect(attempts.first?.reason?.contains("not a registered action recipe") == true)
        }
    }
}
