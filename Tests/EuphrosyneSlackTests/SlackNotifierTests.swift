import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneSlack

/// `SlackNotifier` against `FakeSlack`: one message per incident, everything after it in its thread.
@Suite struct SlackNotifierTests {
    static func withNotifier(_ body: @Sendable (SlackClient, FakeSlack) async throws -> Void) async throws {
        let slack = FakeSlack()
        try await RunningServer.with([slack.router]) { ports in
            let retry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5))
            try await body(SlackClient(baseURL: FakeSlack.baseURL(port: ports[0]), token: slack.botToken,
                                       httpClient: HTTPClient.shared, retry: retry), slack)
        }
    }

    static let analysis = Analysis(text: "disk: /var is 97% full", actions: ["cleanup-logs"], links: [],
                                   successful: ["disk"], shortfalls: [])

    @Test func theAnalysisStartsAThreadThatOutcomesAndTheResolveReplyIn() async throws {
        try await Self.withNotifier { client, slack in
            let notifier = SlackNotifier(client: client, channel: "C0123ALERTS")
            let incident = UUID()
            let started = try await notifier.send(.analysis(incident: incident, Self.analysis), threads: [:])
            let root = try #require(started[SlackNotifier.threadKey])
            let message = try #require(slack.message(ts: root))
            #expect(message.threadTS == nil && message.channel == "C0123ALERTS")
            #expect(message.blocks.contains { $0["type"]?.stringValue == "actions" })

            let outcome = Analysis(text: "cleanup-logs: freed 12 GiB", actions: [], links: [], successful: ["cleanup-logs"],
                                   shortfalls: [])
            #expect(try await notifier.send(.actionOutcome(incident: incident, approvalID: 1, outcome), threads: started).isEmpty)
            #expect(try await notifier.send(.resolved(incident: incident, alert: "DiskFull", cancelledRuns: []), threads: started).isEmpty)
            let replies = slack.messages.filter { $0.threadTS == root }
            #expect(replies.count == 2)
            #expect(replies.first?.blocks.first?["text"]?["text"]?.stringValue?.hasPrefix("*Outcome of approval 1*") == true)
            #expect(replies.first?.blocks.last?["text"]?["text"]?.stringValue == "cleanup-logs: freed 12 GiB")
            #expect(replies.last?.blocks.last?["text"]?["text"]?.stringValue?.hasPrefix("Resolved: DiskFull.") == true)
        }
    }

    @Test func aThreadKeptWithTheIncidentIsUsedByAnotherProcess() async throws {
        try await Self.withNotifier { client, slack in
            let incident = UUID()
            let first = SlackNotifier(client: client, channel: "C0123ALERTS")
            let started = try await first.send(.analysis(incident: incident, Self.analysis), threads: [:])
            // A restarted reconciler (or another replica) knows the thread only from the incident store.
            let second = SlackNotifier(client: client, channel: "C0123ALERTS")
            #expect(try await second.send(.analysis(incident: incident, Self.analysis), threads: started).isEmpty,
                    "a later analysis replies in the first one's thread")
            try await second.send(.jobStatus(incident: incident, [JobStatus(name: "disk-6f1d-1", startTime: "2026-12-05T06:00:00Z", status: .active, labels: [:], description: "")]),
                                  threads: started)
            #expect(slack.messages.filter { $0.threadTS == started[SlackNotifier.threadKey] }.count == 2)
            try await second.send(.jobStatus(incident: nil, []))
            #expect(slack.messages.last?.threadTS == nil && slack.messages.last?.blocks.last?["text"]?["text"]?.stringValue == "No jobs.")
        }
    }

    @Test func aRefusalReachesTheCaller() async throws {
        try await Self.withNotifier { client, _ in
            let notifier = SlackNotifier(client: client, channel: "C0NOWHERE")
            await #expect(throws: SlackError.self) {
                _ = try await notifier.send(.analysis(incident: UUID(), Self.analysis), threads: [:])
            }
        }
    }
}
