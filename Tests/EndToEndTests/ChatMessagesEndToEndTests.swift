import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import NIOCore
import Testing

/// The real `euphrosyne serve --local` with the built-in Slack integration: the incident's one message outlives a
/// restart (its id is kept in Redis), and a route sends an incident to another channel, where its buttons work.
@Suite struct ChatMessagesEndToEndTests {
    @Test func aRestartedReconcilerEditsTheSameMessageWhenTheAlertResolves() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = try SlackLoopEndToEndTests.demoRegistryFile(loop)
        let slack = FakeSlack()
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        try await withRedisServer { redis in
            try await RunningServer.with([loop.bot.router, slack.router]) { ports in
                let environment = SlackLoopEndToEndTests.slackEnvironment(slack, port: ports[1])
                let arguments = ["--local", "--recipes", registryPath, "--redis-address", "127.0.0.1:\(redis.port)",
                                 "--webex-bot-address", "http://127.0.0.1:\(ports[0])"]
                let ts = try await ServeProcess.with(arguments, environment: environment, directory: loop.directory) { serve in
                    let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: ports[0])
                    let id = try await endpoints.alert(alert)
                    try await endpoints.waitForState(id, "analysed")
                    try await waitUntil("the analysed message with its button") {
                        slack.messages.contains { $0.threadTS == nil && !$0.buttons.isEmpty }
                    }
                    return try #require(slack.messages.first { $0.threadTS == nil }?.ts)
                }
                // Another process, the same Redis: it knows the message from the incident store.
                try await ServeProcess.with(arguments, environment: environment, directory: loop.directory) { serve in
                    let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: ports[0])
                    _ = try await endpoints.alert(try LocalModeEndToEndTests.fixture("alertmanager-resolved.json"))
                    try await waitUntil("the message says resolved") {
                        slack.message(ts: ts)?.blockText.contains("*Resolved*") == true
                    }
                }
                #expect(slack.message(ts: ts)?.buttons.isEmpty == true)
                #expect(slack.messages.filter { $0.threadTS == nil }.count == 1, "the restarted reconciler posted nothing new")
            }
        }
    }

    @Test func aRouteSendsTheIncidentToItsChannelWhereItsButtonsWork() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = try SlackLoopEndToEndTests.demoRegistryFile(loop)
        let slack = FakeSlack(channels: ["C0123ALERTS", "C0ONCALL"])
        slack.addUser(id: "U0123ALICE", name: "alice", email: "alice@example.com")
        let routes = loop.directory.appendingPathComponent("routes.yaml").path
        try """
            routes:
              - match: '{severity="critical", namespace="shop"}'
                recipes: [dummy]
                slack: C0ONCALL
            """.write(toFile: routes, atomically: true, encoding: .utf8)
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        try await RunningServer.with([loop.bot.router, slack.router]) { ports in
            let environment = SlackLoopEndToEndTests.slackEnvironment(slack, port: ports[1])
                .merging(["CHAT_ROUTES_FILE": routes]) { $1 }
            try await ServeProcess.with(["--local", "--recipes", registryPath], environment: environment,
                                        directory: loop.directory) { serve in
                let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: ports[0])
                let id = try await endpoints.alert(alert)
                try await waitUntil("the analysed message") { slack.messages.contains { !$0.buttons.isEmpty } }
                let message = try #require(slack.messages.first { $0.threadTS == nil })
                #expect(message.channel == "C0ONCALL")
                let value = try #require(message.buttons.first?["value"]?.stringValue)
                let click = slack.click(user: "U0123ALICE", message: message, actionID: "euphrosyne-approve-0", value: value)
                #expect(try await SlackLoopEndToEndTests.post(click, port: serve.apiPort) == 200)
                try await endpoints.waitForState(id, "done")
                try await waitUntil("the outcome in the thread") {
                    slack.messages.contains { $0.threadTS == message.ts && $0.blockText.contains("Outcome of approval 1") }
                }
                #expect(slack.messages.allSatisfy { $0.channel == "C0ONCALL" }, "everything about it in its channel")
            }
        }
    }
}
