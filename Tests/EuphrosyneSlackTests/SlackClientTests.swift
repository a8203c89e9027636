import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import EuphrosyneTestSupport
import Testing

@testable import EuphrosyneSlack

/// `SlackClient` against `FakeSlack` over HTTP: the envelope decides, `429` and `5xx` are retried, refusals are not.
@Suite struct SlackClientTests {
    static func withClient(
        token: String? = nil, _ body: @Sendable (SlackClient, FakeSlack) async throws -> Void
    ) async throws {
        let slack = FakeSlack()
        try await RunningServer.with([slack.router]) { ports in
            let retry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5))
            let client = SlackClient(baseURL: FakeSlack.baseURL(port: ports[0]), token: token ?? slack.botToken,
                                     httpClient: HTTPClient.shared, retry: retry)
            try await body(client, slack)
        }
    }

    static func refusal(_ work: () async throws -> Void) async -> SlackError? {
        do {
            try await work()
            return nil
        } catch let error as SlackError {
            return error
        } catch {
            Issue.record("expected a SlackError, got \(error)")
            return nil
        }
    }

    @Test func postsAMessageRepliesInItsThreadAndEditsIt() async throws {
        try await Self.withClient { client, slack in
            let blocks: [JSONValue] = [.object(["type": .string("section"),
                                                "text": .object(["type": .string("mrkdwn"), "text": .string("*Disk full*")])])]
            let posted = try await client.postMessage(channel: "C0123ALERTS", text: "Disk full", blocks: blocks)
            #expect(posted.channel == "C0123ALERTS" && !posted.ts.isEmpty)
            let reply = try await client.postMessage(channel: "C0123ALERTS", text: "outcome", threadTS: posted.ts)
            #expect(slack.message(ts: reply.ts)?.threadTS == posted.ts)

            let edited = try await client.update(posted, text: "Disk full (resolved)", blocks: [])
            #expect(edited == posted)
            let stored = try #require(slack.message(ts: posted.ts))
            #expect(stored.text == "Disk full (resolved)" && stored.blocks.isEmpty && stored.edits == 1)
        }
    }

    @Test func looksAUserUp() async throws {
        try await Self.withClient { client, slack in
            slack.addUser(id: "U0123ALICE", name: "alice", email: "alice@example.com")
            let user = try await client.user(id: "U0123ALICE")
            #expect(user == .init(id: "U0123ALICE", name: "alice", email: "alice@example.com", deleted: false, isBot: false))
            let unknown = await Self.refusal { _ = try await client.user(id: "U0NOBODY") }
            #expect(unknown?.code == .refused && unknown?.error == "user_not_found")
        }
    }

    @Test func refusalsInAnOKAnswerAreNotRetried() async throws {
        try await Self.withClient { client, slack in
            let missing = await Self.refusal { _ = try await client.postMessage(channel: "C0NOWHERE", text: "x") }
            #expect(missing?.code == .refused && missing?.error == "channel_not_found" && missing?.statusCode == 200)
            let notFound = await Self.refusal {
                _ = try await client.update(.init(channel: "C0123ALERTS", ts: "1.000000"), text: "x", blocks: [])
            }
            #expect(notFound?.error == "message_not_found")
            #expect(slack.requestLog.count == 2, "each refused once, never retried")
        }
        try await Self.withClient(token: "xoxb-wrong") { client, slack in
            let refused = await Self.refusal { _ = try await client.postMessage(channel: "C0123ALERTS", text: "x") }
            #expect(refused?.error == "invalid_auth")
            #expect(!(refused?.description.contains("xoxb-wrong") ?? true), "the token is never in an error")
            #expect(slack.messages.isEmpty)
        }
    }

    @Test func rateLimitsAndServerErrorsAreRetriedUntilTheyPass() async throws {
        try await Self.withClient { client, slack in
            slack.failNext(1, status: 429, retryAfterSeconds: 0, method: "chat.postMessage")
            slack.failNext(1, status: 503, method: "chat.postMessage")
            _ = try await client.postMessage(channel: "C0123ALERTS", text: "after two failures")
            #expect(slack.requestLog.map(\.status) == [429, 503, 200])
            #expect(slack.messages.count == 1)

            slack.failNext(3, status: 500)
            let gaveUp = await Self.refusal { _ = try await client.postMessage(channel: "C0123ALERTS", text: "never") }
            #expect(gaveUp?.code == .unreachable && gaveUp?.method == "chat.postMessage")
            #expect(slack.messages.count == 1)
        }
    }

    @Test func blocksOverSlacksLimitsAreRefusedAsSlackDoes() async throws {
        try await Self.withClient { client, _ in
            let long = String(repeating: "x", count: 3001)
            let refusal = await Self.refusal {
                _ = try await client.postMessage(channel: "C0123ALERTS", text: "x", blocks: [.object([
                    "type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(long)]),
                ])])
            }
            #expect(refusal?.error == "invalid_blocks")
        }
    }

    @Test func longTextIsCutOnACharacterBoundaryAndSaysSo() {
        let text = String(repeating: "é", count: 40_001)
        let cut = SlackClient.truncated(text)
        #expect(cut.count == 40_000 && cut.hasSuffix("…(truncated)"))
        #expect(SlackClient.truncated("short") == "short")
    }
}
