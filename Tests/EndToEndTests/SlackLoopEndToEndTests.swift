import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import NIOCore
import Testing

/// The real `euphrosyne serve --local` with the built-in Slack integration and the original bot at once, against
/// `FakeSlack` and the fake bot: the analysis reaches both, clicks come back signed over HTTP, only an approver's
/// click runs the action, once, and the outcome lands in the Slack thread and at the bot.
@Suite struct SlackLoopEndToEndTests {
    static func post(_ interaction: FakeSlack.Interaction, port: Int) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/slack/interactions")
        request.method = .POST
        for (name, value) in interaction.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: interaction.body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    /// `payload` (an Alertmanager notification) with a third firing alert in its group.
    static func withAnotherAlert(_ payload: String) throws -> String {
        var object = try JSONValue.parseObject(Data(payload.utf8))
        let alerts = try #require(object["alerts"]?.arrayValue)
        var third = try #require(alerts.first?.objectValue)
        var labels = try #require(third["labels"]?.objectValue)
        labels["pod"] = .string("db-3c4d")
        third["labels"] = .object(labels)
        third["fingerprint"] = .string("3c4d000000000000")
        object["alerts"] = .array(alerts + [.object(third)])
        return String(decoding: try JSONEncoder().encode(JSONValue.object(object)), as: UTF8.self)
    }

    /// The demo registry (`dummy` suggests `record`, which appends to the loop's record file), as a file.
    static func demoRegistryFile(_ loop: LocalLoop) throws -> String {
        let path = loop.directory.appendingPathComponent("recipes.yaml").path
        try LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `serve`'s Slack settings for `slack` served on `port`, with Alice as the one approver.
    static func slackEnvironment(_ slack: FakeSlack, port: Int) -> [String: String] {
        ["SLACK_BOT_TOKEN": slack.botToken, "SLACK_CHANNEL": "C0123ALERTS", "SLACK_SIGNING_SECRET": slack.signingSecret,
         "SLACK_API_URL": FakeSlack.baseURL(port: port), "SLACK_APPROVERS": "alice@example.com"]
    }

    @Test func aSlackClickRunsTheActionOnceAndEveryChatHearsTheOutcome() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = try Self.demoRegistryFile(loop)
        let slack = FakeSlack()
        slack.addUser(id: "U0123ALICE", name: "alice", email: "alice@example.com")
        slack.addUser(id: "U0456MALLORY", name: "mallory", email: "mallory@example.com")
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")

        try await RunningServer.with([loop.bot.router, slack.router]) { ports in
            let environment = Self.slackEnvironment(slack, port: ports[1])
            try await ServeProcess.with(
                ["--local", "--recipes", registryPath, "--webex-bot-address", "http://127.0.0.1:\(ports[0])"],
                environment: environment, directory: loop.directory
            ) { serve in
                let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: ports[0])
                let id = try await endpoints.alert(alert)
                try await waitUntil("the analysis in Slack and at the bot") {
                    slack.messages.contains { $0.threadTS == nil && !$0.buttons.isEmpty } && !loop.bot.received(path: "/api/analysis").isEmpty
                }
                let message = try #require(slack.messages.first { $0.threadTS == nil })
                #expect(message.edits >= 1, "posted while diagnosing, then edited with the analysis")
                #expect(message.blockText.contains("Analysed") && message.blockText.contains("Dummy analysis of PodCrashLooping"))
                let button = try #require(message.buttons.first)
                #expect(button["text"]?["text"]?.stringValue == "Run record")
                let value = try #require(button["value"]?.stringValue)
                @Sendable func replies() -> [String] {
                    slack.messages.filter { $0.threadTS == message.ts }.compactMap { $0.blocks.last?["text"]?["text"]?.stringValue }
                }
                func click(_ user: String, secret: String? = nil, timestamp: Int = Int(Date().timeIntervalSince1970)) -> FakeSlack.Interaction {
                    slack.click(user: user, message: message, actionID: "euphrosyne-approve-0", value: value,
                                timestamp: timestamp, secret: secret)
                }

                // Forged and stale callbacks never get in.
                #expect(try await Self.post(click("U0123ALICE", secret: "forged"), port: serve.apiPort) == 401)
                #expect(try await Self.post(click("U0123ALICE", timestamp: Int(Date().timeIntervalSince1970) - 600),
                                            port: serve.apiPort) == 401)
                // Someone off the list is refused and told so.
                #expect(try await Self.post(click("U0456MALLORY"), port: serve.apiPort) == 200)
                try await waitUntil("the refusal in the thread") { replies().contains { $0.hasPrefix("⛔ mallory@example.com may not approve") } }

                // Alice's click runs the action; her second is told it was approved already.
                #expect(try await Self.post(click("U0123ALICE"), port: serve.apiPort) == 200)
                try await waitUntil("the outcome in the Slack thread") { replies().contains { $0.contains("record:") } }
                #expect(try await Self.post(click("U0123ALICE"), port: serve.apiPort) == 200)
                try await waitUntil("the second answer") { replies().contains { $0.contains("already approved") } }
                let recorded = try String(contentsOfFile: loop.recordFile, encoding: .utf8)
                #expect(recorded.split(separator: "\n").count == 1, "the action ran once: \(recorded)")
                #expect(recorded.contains(id.uuidString.lowercased()))
                // The bot heard the outcome too.
                try await waitUntil("the outcome at the bot") { loop.bot.received(path: "/api/analysis").count == 2 }
                let incident = try await endpoints.incident(id)
                #expect(incident["state"] == .string("done"))
                #expect(incident["approvals"]?.arrayValue?.first?["approvedBy"] == .string("slack:alice@example.com"))
                try await waitUntil("the message says done") { slack.message(ts: message.ts)?.blockText.contains("*Done*") == true }

                // An alert joining the group updates the message; nothing new is posted.
                let joined = try Self.withAnotherAlert(alert)
                _ = try await endpoints.alert(joined)
                try await waitUntil("the message lists the third alert") {
                    slack.message(ts: message.ts)?.blockText.contains("3 alerts firing") == true
                }
                // The resolve edits the message: it says resolved, and its buttons are gone.
                _ = try await endpoints.alert(try LocalModeEndToEndTests.fixture("alertmanager-resolved.json"))
                try await waitUntil("the message says resolved") {
                    slack.message(ts: message.ts)?.blockText.contains("*Resolved*") == true
                }
                let resolved = try #require(slack.message(ts: message.ts))
                #expect(resolved.buttons.isEmpty && !resolved.blocks.contains { $0["type"]?.stringValue == "input" })
                #expect(resolved.attachments.first?["color"]?.stringValue == "#2EB67D")
                #expect(slack.messages.filter { $0.threadTS == nil }.count == 1, "one message for the incident, edited in place")
                #expect(!replies().contains { $0.contains("Resolved") }, "the resolve is not posted anew")
            }
        }
    }

    /// Webex, Slack and the bot at once: one incident reaches all three, and approvals of the same action from a
    /// Webex card and a Slack button run it once.
    @Test func oneIncidentReachesThreeChatsAndTwoApprovalsRunTheActionOnce() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = try Self.demoRegistryFile(loop)
        let slack = FakeSlack()
        slack.addUser(id: "U0123ALICE", name: "alice", email: "alice@example.com")
        let webex = FakeWebex()
        let bob = webex.addPerson(email: "bob@example.com", displayName: "Bob")
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        // The API listener's port is chosen here: Webex must be told the callback URL at start-up.
        let apiPort = try RedisServerProcess.freePort()

        try await RunningServer.with([loop.bot.router, slack.router, webex.router]) { ports in
            let environment = Self.slackEnvironment(slack, port: ports[1]).merging([
                "WEBEX_TOKEN": webex.botToken, "WEBEX_ROOM_ID": "ROOM-OPS", "WEBEX_API_URL": FakeWebex.baseURL(port: ports[2]),
                "WEBEX_WEBHOOK_URL": "http://127.0.0.1:\(apiPort)/api/webex/events", "WEBEX_WEBHOOK_SECRET": "whsec-three",
                "WEBEX_APPROVERS": "bob@example.com",
            ]) { $1 }
            try await ServeProcess.with(
                ["--local", "--recipes", registryPath, "--webex-bot-address", "http://127.0.0.1:\(ports[0])",
                 "--api-port", String(apiPort)],
                environment: environment, directory: loop.directory
            ) { serve in
                #expect(serve.apiPort == apiPort)
                #expect(serve.log.contains("chats=webex,slack,bot") || serve.log.contains(#""chats":"webex,slack,bot""#), "\(serve.log.prefix(2_000))")
                let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: ports[0])
                try await waitUntil("the Webex webhook to be registered") { !webex.webhooks.isEmpty }
                let id = try await endpoints.alert(alert)
                try await waitUntil("the analysis in all three chats") {
                    slack.messages.contains { $0.threadTS == nil && !$0.buttons.isEmpty } && webex.messages.contains { $0.attachments != nil }
                        && !loop.bot.received(path: "/api/analysis").isEmpty
                }
                let message = try #require(slack.messages.first { $0.threadTS == nil })
                let card = try #require(webex.messages.first { $0.attachments != nil })
                let thread = try #require(card.parentId, "the Webex buttons are in the incident message's thread")
                let button = try #require(message.buttons.first)
                let value = try #require(button["value"]?.stringValue)

                // Bob approves from Webex and Alice from Slack, the same action.
                let data = try #require(card.attachments?.arrayValue?.first?["content"]?["actions"]?.arrayValue?.first?["data"]?.objectValue)
                #expect(data["incident"] == .string(id.uuidString.lowercased()) && data["action"] == .string("record"))
                let fromWebex = try await webex.submitCard(messageID: card.id, personID: bob, inputs: data)
                #expect(fromWebex.statuses == [202])
                let click = slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
                #expect(try await Self.post(click, port: serve.apiPort) == 200)
                try await waitUntil("both answers") {
                    webex.messages.contains { $0.parentId == thread && ($0.markdown ?? "").contains("approved") }
                        && slack.messages.contains { $0.threadTS == message.ts && ($0.blocks.last?["text"]?["text"]?.stringValue ?? "").contains("approved") }
                }
                try await waitUntil("the outcome at the bot") { loop.bot.received(path: "/api/analysis").count == 2 }
                let recorded = try String(contentsOfFile: loop.recordFile, encoding: .utf8)
                #expect(recorded.split(separator: "\n").count == 1, "the action ran once: \(recorded)")
                let incident = try await endpoints.incident(id)
                #expect(incident["approvals"]?.arrayValue?.count == 1)
                let by = Set((incident["approvalAttempts"]?.arrayValue ?? []).compactMap { $0["by"]?.stringValue })
                #expect(by == ["webex:bob@example.com", "slack:alice@example.com"], "\(incident["approvalAttempts"] ?? .null)")
            }
        }
    }
}
