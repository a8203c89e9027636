import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneBot

@Suite struct BotNotifierTests {
    static let incident = UUID(uuidString: "0b3f7a52-9d4e-4c1a-8f00-5e6d7c8b9a01")!
    static let analysis = Analysis(text: "dummy: all good", actions: ["jira"], links: [], successful: ["dummy"],
                                   shortfalls: [])
    static let fastRetry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(20))

    @Test func postsTheAnalysisInTheBotProtocol() async throws {
        let bot = FakeBot()
        try await RunningServer.with([bot.router]) { ports in
            let notifier = BotNotifier(baseURL: "http://127.0.0.1:\(ports[0])/", httpClient: .shared)
            try await notifier.send(.analysis(incident: Self.incident, Self.analysis))
        }
        let received = bot.received
        #expect(received.count == 1)
        #expect(received.first?.path == "/api/analysis")
        #expect(received.first?.contentType == "application/json")
        let key = try #require(received.first?.idempotencyKey)
        #expect(key.hasPrefix("0b3f7a52-9d4e-4c1a-8f00-5e6d7c8b9a01:analysis:") && key.count == 36 + 10 + 16, "\(key)")
        // The same analysis has the same key; an updated one (runs for joined alerts) a new one.
        #expect(ChatNotification.analysis(incident: Self.incident, Self.analysis).idempotencyKey == key)
        var updated = Self.analysis
        updated.text += "\n\nfresh: more found"
        #expect(ChatNotification.analysis(incident: Self.incident, updated).idempotencyKey != key)
        #expect(received.first?.json == .object([
            "uuid": .string("0b3f7a52-9d4e-4c1a-8f00-5e6d7c8b9a01"), "actions": .array([.string("jira")]),
            "analysis": .string("dummy: all good"),
        ]))
    }

    @Test func postsJobStatusesAsAnArray() async throws {
        let bot = FakeBot()
        let job = JobStatus(name: "dummy-bbbbb", startTime: "2026-11-28T21:13:44Z", status: .active,
                            labels: ["app": "euphrosyne"], description: "d")
        try await RunningServer.with([bot.router]) { ports in
            try await BotNotifier(baseURL: "http://127.0.0.1:\(ports[0])", httpClient: .shared)
                .send(.jobStatus(incident: Self.incident, [job]))
        }
        #expect(bot.received(path: "/api/status").first?.json == .array([.object([
            "name": .string("dummy-bbbbb"), "startTime": .string("2026-11-28T21:13:44Z"), "status": .string("Active"),
            "labels": .object(["app": .string("euphrosyne")]), "description": .string("d"),
        ])]))
    }

    @Test func retriesServerErrorsUntilTheBotAccepts() async throws {
        let bot = FakeBot()
        bot.queueAnswers([503, 500])
        try await RunningServer.with([bot.router]) { ports in
            try await BotNotifier(baseURL: "http://127.0.0.1:\(ports[0])", httpClient: .shared, retry: Self.fastRetry)
                .send(.actionOutcome(incident: Self.incident, approvalID: 1, Self.analysis))
        }
        #expect(bot.received.count == 3)
        #expect(Set(bot.received.map(\.body)).count == 1)
        // Each attempt carries the same key, so a bot that keeps them shows the outcome once.
        let keys = bot.received.map(\.idempotencyKey)
        #expect(Set(keys).count == 1 && keys.first??.hasPrefix("0b3f7a52-9d4e-4c1a-8f00-5e6d7c8b9a01:action-outcome:1:") == true,
                "\(keys)")
    }

    @Test func givesUpAfterTheLastAttempt() async throws {
        let bot = FakeBot()
        bot.queueAnswers([500, 500, 500, 500])
        let error = await #expect(throws: BotError.self) {
            try await RunningServer.with([bot.router]) { ports in
                try await BotNotifier(baseURL: "http://127.0.0.1:\(ports[0])", httpClient: .shared, retry: Self.fastRetry)
                    .send(.analysis(incident: Self.incident, Self.analysis))
            }
        }
        #expect(bot.received.count == 3)
        #expect(error?.code == .unreachable)
        #expect(error?.path == "/api/analysis")
        #expect(error?.description.contains("after 3 attempts") == true)
    }

    @Test func doesNotRetryAClientError() async throws {
        let bot = FakeBot()
        bot.queueAnswers([400])
        let error = await #expect(throws: BotError.self) {
            try await RunningServer.with([bot.router]) { ports in
                try await BotNotifier(baseURL: "http://127.0.0.1:\(ports[0])", httpClient: .shared, retry: Self.fastRetry)
                    .send(.analysis(incident: Self.incident, Self.analysis))
            }
        }
        #expect(bot.received.count == 1)
        #expect(error?.code == .refused)
        #expect(error?.statusCode == 400)
    }

    @Test func retriesWhenTheBotIsUnreachable() async throws {
        // Port 1 on loopback refuses connections.
        let notifier = BotNotifier(baseURL: "http://127.0.0.1:1", httpClient: .shared, retry: Self.fastRetry,
                                   requestTimeout: .milliseconds(300))
        let error = await #expect(throws: BotError.self) {
            try await notifier.send(.analysis(incident: Self.incident, Self.analysis))
        }
        #expect(error?.code == .unreachable)
        #expect(error?.statusCode == nil)
    }

    @Test func backoffGrowsAndStaysWithinItsCap() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: .milliseconds(100), maxDelay: .seconds(1))
        for attempt in 1...10 {
            let ceiling = min(Duration.milliseconds(100) * (1 << (attempt - 1)), .seconds(1))
            let delay = policy.delay(afterAttempt: attempt)
            #expect(delay <= ceiling && delay >= ceiling / 2)
        }
    }
}
