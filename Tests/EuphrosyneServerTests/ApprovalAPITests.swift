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

/// The approval policy over HTTP: idempotency, races, suggested actions only.
@Suite struct ApprovalAPITests {
    static let catalog = RecipeCatalog(
        debugging: [.fake("dummy")],
        actions: [.fake("jira", .action), .fake("webhook", .action)]
    )

    /// jira hangs, so its run stays underway while the test approves again.
    static func harness(_ configuration: CoordinatorConfiguration = .init(drainTimeout: .milliseconds(200))) -> ServerHarness {
        ServerHarness(["dummy": .report(analysis: "fine", actions: ["jira"], delay: .zero), "jira": .hang, "webhook": .hang],
                      registry: StaticRecipeRegistry(catalog), configuration: configuration)
    }

    static func body(_ id: UUID, _ action: String = "jira", summary: String = "api down") -> ByteBuffer {
        ByteBuffer(json: #"{"uuid":"\#(id.uuidString.lowercased())","actions":[{"name":"\#(action)","data":{"summary":"\#(summary)"}}]}"#)
    }

    @Test func theSameApprovalTwiceRunsTheActionOnceAndAnswersWithTheFirst() async throws {
        let harness = Self.harness()
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: Self.body(incident.id)) { response in
                    #expect(response.status == .accepted)
                    #expect(response.json?["duplicate"] == .bool(false))
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: Self.body(incident.id)) { response in
                    #expect(response.status == .ok)
                    #expect(response.json?["duplicate"] == .bool(true) && response.json?["approval"] == .integer(1))
                    #expect(response.json?["runs"]?.arrayValue?.count == 1)
                }
            }
            let stored = try #require(try await harness.coordinator.incident(incident.id))
            #expect(stored.runs.filter { $0.recipe == "jira" }.count == 1)
            #expect(stored.approvalAttempts.map(\.outcome) == [.approved, .duplicate])
            try await waitUntil("jira to be launched") { harness.launcher.requests.contains { $0.recipe.name == "jira" } }
            #expect(harness.launcher.requests.filter { $0.recipe.name == "jira" }.count == 1)
        }
    }

    @Test func twoDifferentApprovalsRacingForOneActionRunItOnce() async throws {
        let harness = Self.harness()
        try await harness.running {
            let incident = try await harness.analysedIncident()
            let statuses = try await harness.api.test(.router) { client in
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            try await client.execute(uri: "/api/actions", method: .post, headers: .json,
                                                     body: Self.body(incident.id, summary: "from approver \(index)")) { $0.status }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(statuses.filter { $0 == .accepted }.count == 1)
            #expect(statuses.filter { $0 == .ok }.count == 7)
            let stored = try #require(try await harness.coordinator.incident(incident.id))
            #expect(stored.approvals.count == 1 && stored.approvalAttempts.count == 8)
            #expect(stored.runs.filter { $0.recipe == "jira" }.count == 1)
            try await waitUntil("jira to be launched") { harness.launcher.requests.contains { $0.recipe.name == "jira" } }
            #expect(harness.launcher.requests.filter { $0.recipe.name == "jira" }.count == 1)
        }
    }

    @Test func anIdempotencyKeyAnswersItsApprovalAndIsRefusedForOtherActions() async throws {
        let harness = Self.harness(.init(drainTimeout: .milliseconds(200), approvesUnsuggestedActions: true))
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                let keyed: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "card-submit-42", .contentType: "application/json"]
                try await client.execute(uri: "/api/actions", method: .post, headers: keyed, body: Self.body(incident.id)) {
                    #expect($0.status == .accepted)
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: keyed, body: Self.body(incident.id)) {
                    #expect($0.status == .ok && $0.json?["duplicate"] == .bool(true))
                }
                try await client.execute(uri: "/api/actions", method: .post, headers: keyed,
                                         body: Self.body(incident.id, "webhook")) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(response.apiError?.code == "idempotency_key_reused")
                }
                let tooLong: HTTPFields = [HTTPField.Name("Idempotency-Key")!: String(repeating: "k", count: 256),
                                           .contentType: "application/json"]
                try await client.execute(uri: "/api/actions", method: .post, headers: tooLong, body: Self.body(incident.id)) {
                    #expect($0.status == .badRequest && $0.apiError?.field == "Idempotency-Key")
                }
            }
            #expect(try await harness.coordinator.incident(incident.id)?.runs.filter { $0.kind == .action }.count == 1)
            try await waitUntil("jira to be launched") { harness.launcher.requests.contains { $0.recipe.name == "jira" } }
            #expect(harness.launcher.requests.filter { $0.recipe.kind == .action }.count == 1)
        }
    }

    @Test func anActionTheAnalysisDidNotSuggestIsRefusedAndAuditedUnderTheDefaultPolicy() async throws {
        let harness = Self.harness()
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: Self.body(incident.id, "webhook")) { response in
                    #expect(response.status == .conflict)
                    #expect(response.apiError?.code == "action_not_suggested")
                    #expect(response.apiError?.message == #"action "webhook" was not suggested by the incident's analysis (suggested: "jira")"#)
                }
                try await client.execute(uri: "/api/incidents/\(incident.id)", method: .get) { response in
                    let attempt = response.json?["approvalAttempts"]?.arrayValue?.first
                    #expect(attempt?["outcome"] == .string("refused"))
                    #expect(attempt?["actions"] == .array([.string("webhook")]))
                    #expect(attempt?["reason"]?.stringValue?.contains("not suggested") == true)
                }
            }
            #expect(try await harness.coordinator.incident(incident.id)?.runs.allSatisfy { $0.kind == .debugging } == true)
        }
    }

    @Test func theFlagAllowsAnyRegisteredAction() async throws {
        let harness = Self.harness(.init(drainTimeout: .milliseconds(200), approvesUnsuggestedActions: true))
        try await harness.running {
            let incident = try await harness.analysedIncident()
            try await harness.api.test(.router) { client in
                try await client.execute(uri: "/api/actions", method: .post, headers: .json, body: Self.body(incident.id, "webhook")) {
                    #expect($0.status == .accepted)
                }
            }
            try await waitUntil("webhook to be launched") { harness.launcher.requests.contains { $0.recipe.name == "webhook" } }
        }
    }
}
