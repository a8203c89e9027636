import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import NIOCore
import Testing

@testable import EuphrosyneSlack

/// Button clicks through `POST /api/slack/interactions` into a real coordinator: the signature is checked first,
/// only approvers approve, a click runs its action once, and the person is told in the message's thread.
@Suite struct SlackApprovalsTests {
    static let catalog: RecipeCatalog = {
        var cleanup = Recipe.fake("cleanup-logs", .action)
        cleanup.inputs = ["path"]
        return RecipeCatalog(debugging: [.fake("disk")], actions: [cleanup])
    }()

    struct Loop: Sendable {
        let slack: FakeSlack
        let launcher: ScriptedLauncher
        let coordinator: IncidentCoordinator
        let routesPort: Int

        /// Posts an interaction to the route; the HTTP status.
        func deliver(_ interaction: FakeSlack.Interaction) async throws -> Int {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(routesPort)/api/slack/interactions")
            request.method = .POST
            for (name, value) in interaction.headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(string: interaction.body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            return Int(response.status.code)
        }

        func replies(to message: FakeSlack.Message) -> [String] {
            slack.messages.filter { $0.threadTS == message.ts }.compactMap { $0.blocks.last?["text"]?["text"]?.stringValue }
        }
    }

    static func withLoop(approvers: Set<String>, channels: Set<String> = [], now: (@Sendable () -> Int)? = nil,
                         _ body: @Sendable (Loop) async throws -> Void) async throws {
        let slack = FakeSlack()
        slack.addUser(id: "U0123ALICE", name: "alice", email: "Alice@Example.com")
        slack.addUser(id: "U0456MALLORY", name: "mallory", email: "mallory@example.com")
        try await RunningServer.with([slack.router]) { slackPorts in
            let client = SlackClient(baseURL: FakeSlack.baseURL(port: slackPorts[0]), token: slack.botToken,
                                     httpClient: HTTPClient.shared,
                                     retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5)))
            let notifier = SlackNotifier(client: client, channel: "C0123ALERTS", registry: StaticRecipeRegistry(catalog))
            let launcher = ScriptedLauncher([
                "disk": .report(analysis: "/var is full", actions: ["cleanup-logs"], delay: .zero),
                "cleanup-logs": .report(analysis: "freed 12 GiB", actions: [], delay: .zero),
            ])
            let coordinator = IncidentCoordinator(
                registry: StaticRecipeRegistry(catalog), launcher: launcher,
                resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier,
                store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .seconds(5))
            )
            launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
            let approvals = SlackApprovals(client: client, notifier: notifier, coordinator: coordinator, configuration: .init(
                signingSecret: slack.signingSecret, approvers: approvers, channels: channels))
            let routes = SlackRoutes(approvals: approvals, now: now ?? { Int(Date().timeIntervalSince1970) })
            try await RunningServer.with(services: [coordinator, approvals], ports: PortCollector(count: 0)) { _ in
                let router = Router(context: BasicRequestContext.self)
                routes.add(to: router)
                try await RunningServer.with([router]) { ports in
                    try await body(Loop(slack: slack, launcher: launcher, coordinator: coordinator, routesPort: ports[0]))
                }
            }
        }
    }

    /// Opens an incident and waits for its analysis message in Slack.
    static func analysed(_ loop: Loop) async throws -> (UUID, FakeSlack.Message, String) {
        let id = try await loop.coordinator.openIncident(payload: ["version": .string("4")]).id
        try await waitUntil("the analysis in Slack") {
            loop.slack.messages.contains { $0.threadTS == nil && !$0.buttons.isEmpty }
        }
        let message = try #require(loop.slack.messages.first { $0.threadTS == nil })
        let button = try #require(message.buttons.first)
        let value = try #require(button["value"]?.stringValue)
        return (id, message, value)
    }

    @Test func anApproversClickRunsTheActionOnceAndASecondClickIsToldItWasApproved() async throws {
        try await Self.withLoop(approvers: ["alice@example.com"]) { loop in
            let (id, message, value) = try await Self.analysed(loop)
            let click = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
            #expect(try await loop.deliver(click) == 200)
            // Slack delivering the same callback again changes nothing.
            #expect(try await loop.deliver(click) == 200)
            try await waitUntil("the outcome") { try await loop.coordinator.incident(id)?.state == .done }
            #expect(loop.launcher.requests.filter { $0.recipe.name == "cleanup-logs" }.count == 1)
            let approval = try #require(try await loop.coordinator.incident(id)?.approvals.first)
            #expect(approval.approvedBy == "slack:alice@example.com")

            let again = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
            #expect(try await loop.deliver(again) == 200)
            try await waitUntil("the second answer") { loop.replies(to: message).contains { $0.contains("already approved") } }
            #expect(loop.launcher.requests.filter { $0.recipe.name == "cleanup-logs" }.count == 1)
            let replies = loop.replies(to: message)
            #expect(replies.contains { $0.hasPrefix("✅ alice@example.com approved cleanup-logs (approval 1)") })
            #expect(replies.contains("freed 12 GiB") || replies.contains { $0.contains("freed 12 GiB") }, "the outcome in the thread")
        }
    }

    @Test func whatTheApproverTypedIntoTheActionsFieldsIsItsData() async throws {
        try await Self.withLoop(approvers: ["U0123ALICE"]) { loop in
            let (id, message, value) = try await Self.analysed(loop)
            #expect(message.blocks.contains { $0["block_id"]?.stringValue == "euphrosyne-input:cleanup-logs:path" })
            let click = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value,
                                         typed: ["euphrosyne-input:cleanup-logs:path": "/var/log"])
            #expect(try await loop.deliver(click) == 200)
            try await waitUntil("the action") { loop.launcher.requests.contains { $0.recipe.name == "cleanup-logs" } }
            let approval = try #require(try await loop.coordinator.incident(id)?.approvals.first)
            #expect(approval.actions == [ActionRequest(name: "cleanup-logs", data: ["path": .string("/var/log")])])
        }
    }

    @Test func someoneNotOnTheListIsRefusedToldAndAudited() async throws {
        try await Self.withLoop(approvers: ["U0123ALICE"]) { loop in
            let (id, message, value) = try await Self.analysed(loop)
            let click = loop.slack.click(user: "U0456MALLORY", message: message, actionID: "euphrosyne-approve-0", value: value)
            #expect(try await loop.deliver(click) == 200)
            try await waitUntil("the refusal") { loop.replies(to: message).contains { $0.hasPrefix("⛔") } }
            #expect(loop.launcher.requests.allSatisfy { $0.recipe.name != "cleanup-logs" })
            let incident = try #require(try await loop.coordinator.incident(id))
            #expect(incident.approvals.isEmpty)
        }
    }

    @Test func aButtonInAnotherChannelIsRefusedWhenChannelsAreSet() async throws {
        try await Self.withLoop(approvers: ["U0123ALICE"], channels: ["C0999OPS"]) { loop in
            let (_, message, value) = try await Self.analysed(loop)
            _ = try await loop.deliver(loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value))
            try await waitUntil("the refusal") { loop.replies(to: message).contains { $0.hasPrefix("⛔") } }
            #expect(loop.launcher.requests.allSatisfy { $0.recipe.name != "cleanup-logs" })
        }
    }

    @Test func forgedStaleAndMalformedCallbacksAreRefusedBeforeAnythingIsParsed() async throws {
        try await Self.withLoop(approvers: ["U0123ALICE"]) { loop in
            let (_, message, value) = try await Self.analysed(loop)
            let forged = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value,
                                          secret: "not-the-signing-secret")
            #expect(try await loop.deliver(forged) == 401)
            let stale = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value,
                                         timestamp: Int(Date().timeIntervalSince1970) - 301)
            #expect(try await loop.deliver(stale) == 401)
            var unsigned = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
            unsigned.headers.removeAll { $0.0 == "X-Slack-Signature" }
            #expect(try await loop.deliver(unsigned) == 401)
            var json = loop.slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
            json.headers = json.headers.map { $0.0 == "Content-Type" ? ("Content-Type", "application/json") : $0 }
            #expect(try await loop.deliver(json) == 415)
            #expect(loop.launcher.requests.allSatisfy { $0.recipe.name != "cleanup-logs" })
            #expect(loop.replies(to: message).isEmpty)
        }
    }

    @Test func clicksThatAreNotOursAreIgnored() {
        func body(_ payload: String) -> Data {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._*")
            return Data(("payload=" + (payload.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")).utf8)
        }
        func reason(_ data: Data) -> String? {
            if case .failure(let notOurs) = SlackApprovals.click(in: data) { return notOurs.description }
            return nil
        }
        #expect(reason(Data("nothing=here".utf8)) == "the body has no payload field")
        #expect(reason(body("[1]")) == "the payload is not a JSON object")
        #expect(reason(body(#"{"type":"view_submission"}"#)) == "not a button click")
        #expect(reason(body(#"{"type":"block_actions","actions":[{"action_id":"other-app","value":"x"}]}"#)) == "not one of our buttons")
        let ours = #"{"type":"block_actions","actions":[{"action_id":"euphrosyne-approve-0","value":"{\"incident\":\"6f1d2c3b-4a59-4e6d-8f70-81928374a5b6\",\"action\":\"jira\"}","action_ts":"1.2"}]}"#
        #expect(reason(body(ours)) == "the click lacks its user, channel, message or action_ts")
        #expect(SlackApprovals.formField("payload", in: Data("a=1&payload=hello+world%21".utf8)) == "hello world!")
    }
}
