import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct APIListenerTests {
    @Test func anApprovalRunsTheActionAndTheIncidentReachesDone() async throws {
        let harness = ServerHarness()
        try await harness.running {
            let incident = try await harness.analysedIncident()
            let id = incident.id.uuidString.lowercased()
            try await harness.api.test(.router) { client in
                let body = #"{"uuid":"\#(id)","actions":[{"name":"jira","data":{"summary":"api down"}}]}"#
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                    #expect(response.status == .accepted)
                    #expect(response.json?["approval"] == .integer(1))
                    #expect(response.json?["state"] == .string("acting"))
                }
            }
            try await waitUntil("the action to finish") {
                try await harness.coordinator.incident(incident.id)?.state == .done
            }
            #expect(harness.launcher.requests.last?.recipe.name == "jira")
        }
    }

    @Test func everyBadApprovalGetsAClearError() async throws {
        let harness = ServerHarness(["dummy": .report(analysis: "fine", actions: ["jira"], delay: .zero), "jira": .hang])
        try await harness.running {
            let analysed = try await harness.analysedIncident()
            let id = analysed.id.uuidString.lowercased()
            let unknown = UUID().uuidString.lowercased()
            let cases: [(String, HTTPResponse.Status, String, String?)] = [
                ("{", .badRequest, "malformed_json", nil),
                ("", .badRequest, "empty_body", nil),
                ("[]", .badRequest, "invalid_body", nil),
                (#"{"actions":[]}"#, .badRequest, "invalid_body", "uuid"),
                (#"{"uuid":5,"actions":[]}"#, .badRequest, "invalid_body", "uuid"),
                (#"{"uuid":"\#(id)","actions":"jira"}"#, .badRequest, "invalid_body", "actions"),
                (#"{"uuid":"\#(id)","actions":[{"data":{}}]}"#, .badRequest, "invalid_body", "actions[0].name"),
                (#"{"uuid":"\#(id)","actions":[{"name":""}]}"#, .badRequest, "invalid_body", "actions[0].name"),
                (#"{"uuid":"\#(id)","actions":[{"name":"jira","data":"x"}]}"#, .badRequest, "invalid_body", "actions[0].data"),
                (#"{"uuid":"nope","actions":[{"name":"jira"}]}"#, .badRequest, "invalid_uuid", "uuid"),
                (#"{"uuid":"\#(unknown)","actions":[{"name":"jira"}]}"#, .notFound, "incident_not_found", nil),
                (#"{"uuid":"\#(id)","actions":[]}"#, .unprocessableContent, "no_actions", "actions"),
                (#"{"uuid":"\#(id)","actions":[{"name":"nope"}]}"#, .unprocessableContent, "unknown_action", "actions"),
                (#"{"uuid":"\#(id)","actions":[{"name":"restart"}]}"#, .unprocessableContent, "disabled_action", "actions"),
            ]
            try await harness.api.test(.router) { client in
                for (body, status, code, field) in cases {
                    try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                        #expect(response.status == status, "\(body)")
                        #expect(response.apiError?.code == code, "\(body)")
                        #expect(response.apiError?.field == field, "\(body)")
                    }
                }
            }
            #expect(try await harness.coordinator.incident(analysed.id)?.approvals.isEmpty == true)
        }
    }

    @Test func approvalsAreRefusedWhileDiagnosingAndAfterClosing() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let diagnosing = try await harness.coordinator.openIncident(payload: .unique)
            try await harness.api.test(.router) { client in
                let body = #"{"uuid":"\#(diagnosing.id.uuidString)","actions":[{"name":"jira"}]}"#
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                    #expect(response.status == .conflict)
                    #expect(response.apiError?.code == "still_diagnosing")
                }
            }
        }
        let failing = ServerHarness(["dummy": .exit(1, stderr: "boom")])
        try await failing.running {
            let incident = try await failing.coordinator.openIncident(payload: .unique)
            try await waitUntil("the incident to fail") {
                try await failing.coordinator.incident(incident.id)?.state == .failed
            }
            try await failing.api.test(.router) { client in
                let body = #"{"uuid":"\#(incident.id.uuidString)","actions":[{"name":"jira"}]}"#
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: ByteBuffer(json: body)) { response in
                    #expect(response.status == .conflict)
                    #expect(response.apiError?.code == "incident_closed")
                    #expect(response.apiError?.message == "the incident is failed: no debugging recipe reported a result")
                }
            }
        }
    }

    @Test func statusReturnsTheJobsOfAnIncidentInTheBotShape() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            let incident = try await harness.coordinator.openIncident(payload: .unique)
            let id = incident.id.uuidString.lowercased()
            try await waitUntil("the run to start") {
                try await harness.coordinator.incident(incident.id)?.runs.first?.state == .running
            }
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/status", method: .post, headers: .json, body: ByteBuffer(json: #"{"uuid":"\#(id)"}"#)) {
                    response in
                    #expect(response.status == .ok)
                    let jobs = try #require(response.jsonArray)
                    #expect(jobs.count == 1)
                    #expect(jobs.first?["status"] == .string("Active"))
                    #expect(jobs.first?["labels"] == .object([
                        "app": .string("euphrosyne"), "recipe": .string("dummy"), "uuid": .string(id),
                    ]))
                    #expect(jobs.first?["name"]?.stringValue?.hasPrefix("dummy-") == true)
                }
                // Without a uuid: the jobs of every open incident; an empty body means the same.
                for body in [#"{}"#, ""] {
                    try await client.execute(uri: "/api/status", method: .post, headers: .json, body: ByteBuffer(json: body)) {
                        #expect($0.status == .ok)
                        #expect($0.jsonArray?.count == 1)
                    }
                }
                for (body, status, code) in [
                    (#"{"uuid":"x"}"#, HTTPResponse.Status.badRequest, "invalid_uuid"),
                    (#"{"uuid":7}"#, .badRequest, "invalid_body"),
                    ("{", .badRequest, "malformed_json"),
                    (#"{"uuid":"\#(UUID().uuidString)"}"#, .notFound, "incident_not_found"),
                ] {
                    try await client.execute(uri: "/api/status", method: .post, headers: .json, body: ByteBuffer(json: body)) {
                        #expect($0.status == status, "\(body)")
                        #expect($0.apiError?.code == code, "\(body)")
                    }
                }
            }
            try await waitUntil("the status push to the notifier") {
                harness.notifier.notifications.contains { if case .jobStatus = $0 { true } else { false } }
            }
        }
    }

    @Test func incidentsAreListedNewestFirstInPages() async throws {
        let harness = ServerHarness(["dummy": .hang])
        try await harness.running {
            var opened: [String] = []
            for _ in 0..<3 {
                opened.append(try await harness.coordinator.openIncident(payload: .unique).id.uuidString.lowercased())
            }
            let ids = opened
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/incidents?limit=2", method: .get) { response in
                    #expect(response.status == .ok)
                    let page = try #require(response.json)
                    #expect(page["incidents"]?.arrayValue?.map { $0["uuid"] } == [.string(ids[2]), .string(ids[1])])
                    #expect(page["total"] == .integer(3))
                    #expect(page["nextOffset"] == .integer(2))
                }
                try await client.execute(uri: "/api/incidents?limit=2&offset=2", method: .get) { response in
                    let page = try #require(response.json)
                    #expect(page["incidents"]?.arrayValue?.map { $0["uuid"] } == [.string(ids[0])])
                    #expect(page["nextOffset"] == nil)
                }
                for query in ["limit=0", "limit=501", "limit=abc", "offset=-1"] {
                    try await client.execute(uri: "/api/incidents?\(query)", method: .get) {
                        #expect($0.status == .badRequest, "\(query)")
                        #expect($0.apiError?.code == "invalid_query", "\(query)")
                    }
                }
            }
        }
    }

    @Test func anIncidentShowsEveryRunWithoutItsSecret() async throws {
        let harness = ServerHarness()
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/incidents/\(incident.id.uuidString)", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(!text.contains(incident.callbackSecret))
                    let body = try #require(response.json)
                    #expect(body["state"] == .string("analysed"))
                    #expect(body["suggestedActions"] == .array([.string("jira")]))
                    let run = try #require(body["runs"]?.arrayValue?.first)
                    #expect(run["recipe"] == .string("dummy"))
                    #expect(run["state"] == .string("reported"))
                    #expect(run["result"]?["results"]?["analysis"] == .string("fine"))
                    #expect(run["startedAt"]?.stringValue != nil && run["finishedAt"]?.stringValue != nil)
                }
                try await client.execute(uri: "/api/incidents/not-a-uuid", method: .get) {
                    #expect($0.status == .badRequest)
                    #expect($0.apiError?.code == "invalid_uuid")
                }
                try await client.execute(uri: "/api/incidents/\(UUID().uuidString)", method: .get) {
                    #expect($0.status == .notFound)
                    #expect($0.apiError?.code == "incident_not_found")
                }
            }
        }
    }

    @Test func theListenerServesOverARealSocket() async throws {
        let harness = ServerHarness()
        try await harness.api.test(.live) { client in
            try await client.execute(uri: "/api/incidents", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json?["total"] == .integer(0))
            }
        }
    }
}

/// A store whose every call fails the way a Redis client does, naming the server it could not reach.
struct UnreachableStore: IncidentStore {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "connection refused: redis.internal.example:6379 (10.0.3.7)" }
    }

    nonisolated(nonsending) func save(_ incident: Incident) async throws { throw Failure() }
    nonisolated(nonsending) func create(_ incident: Incident, replacing stale: UUID?) async throws -> UUID? { throw Failure() }
    nonisolated(nonsending) func incident(_ id: UUID) async throws -> Incident? { throw Failure() }
    nonisolated(nonsending) func list(offset: Int, limit: Int) async throws -> IncidentPage { throw Failure() }
    nonisolated(nonsending) func openIncidents() async throws -> [Incident] { throw Failure() }
    var isDurable: Bool { true }
}

@Suite struct StoreOutageTests {
    @Test func anUnreachableStoreIs503WithRetryAfterAndNeverNamesItsAddress() async throws {
        let harness = ServerHarness(store: UnreachableStore())
        try await harness.running {
            try await harness.api.test(.router) { client in
                for (uri, method) in [("/api/incidents", HTTPRequest.Method.get), ("/api/incidents/\(UUID())", .get)] {
                    try await client.execute(uri: uri, method: method) { response in
                        #expect(response.status == .serviceUnavailable, "\(uri)")
                        #expect(response.apiError?.code == "store_unavailable")
                        #expect(response.headers[HTTPField.Name("Retry-After")!] != nil)
                        let body = String(buffer: response.body)
                        #expect(!body.contains("redis.internal") && !body.contains("10.0.3.7") && !body.contains("6379"), "\(body)")
                    }
                }
            }
            try await harness.webhook.test(.router) { client in
                try await client.execute(uri: "/webhook", method: .post, headers: .json,
                                         body: ByteBuffer(json: #"{"version":"4","groupKey":"g","alerts":[]}"#)) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(!String(buffer: response.body).contains("10.0.3.7"))
                }
            }
        }
    }
}
