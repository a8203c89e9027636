import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneSlack

/// `SlackNotifier` against `FakeSlack`: one message per incident, posted once and edited as the incident moves on,
/// everything else in its thread, in the channel its route names.
@Suite struct SlackNotifierTests {
    static func withNotifier(channels: Set<String> = ["C0123ALERTS"],
                             _ body: @Sendable (SlackClient, FakeSlack) async throws -> Void) async throws {
        let slack = FakeSlack(channels: channels)
        try await RunningServer.with([slack.router]) { ports in
            let retry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5))
            try await body(SlackClient(baseURL: FakeSlack.baseURL(port: ports[0]), token: slack.botToken,
                                       httpClient: HTTPClient.shared, retry: retry), slack)
        }
    }

    static let analysis = Analysis(text: "disk: /var is 97% full", actions: ["cleanup-logs"], links: [],
                                   successful: ["disk"], shortfalls: [])

    static func card(_ id: UUID, _ state: Incident.State, labels: [String: String] = [:]) -> IncidentCard {
        SampleIncidents.card(id: id, alertname: "DiskFull", alerts: [labels], state: state,
                             analysis: state == .diagnosing ? nil : analysis, recipes: ["disk"])
    }

    @Test func theIncidentMessageIsPostedOnceThenEditedAndEverythingElseGoesInItsThread() async throws {
        try await Self.withNotifier { client, slack in
            let notifier = SlackNotifier(client: client, channel: "C0123ALERTS")
            let incident = UUID()
            let started = try await notifier.send(.incident(Self.card(incident, .diagnosing)), threads: [:])
            let root = try #require(started[SlackNotifier.threadKey])
            #expect(started[SlackNotifier.channelKey] == "C0123ALERTS")
            let first = try #require(slack.message(ts: root))
            #expect(first.threadTS == nil && first.buttons.isEmpty && first.blockText.contains("Diagnosing"))
            #expect(first.attachments.first?["color"]?.stringValue == "#ECB22E")

            #expect(try await notifier.send(.incident(Self.card(incident, .analysed)), threads: started).isEmpty)
            #expect(try await notifier.send(.analysis(incident: incident, Self.analysis), threads: started).isEmpty)
            let analysed = try #require(slack.message(ts: root))
            #expect(analysed.edits == 1 && analysed.buttons.count == 1 && analysed.blockText.contains("/var is 97% full"))

            let outcome = Analysis(text: "cleanup-logs: freed 12 GiB", actions: [], links: [], successful: ["cleanup-logs"],
                                   shortfalls: [])
            #expect(try await notifier.send(.actionOutcome(incident: incident, approvalID: 1, outcome), threads: started).isEmpty)
            #expect(try await notifier.send(.resolved(incident: incident, alert: "DiskFull", cancelledRuns: []), threads: started).isEmpty)
            _ = try await notifier.send(.incident(Self.card(incident, .resolved)), threads: started)
            let resolved = try #require(slack.message(ts: root))
            #expect(resolved.edits == 2 && resolved.buttons.isEmpty && resolved.blockText.contains("Resolved"))
            #expect(resolved.attachments.first?["color"]?.stringValue == "#2EB67D")
            #expect(slack.messages.filter { $0.threadTS == nil }.count == 1, "one message for the incident")
            let replies = slack.messages.filter { $0.threadTS == root }
            #expect(replies.count == 1)
            #expect(replies.first?.blocks.first?["text"]?["text"]?.stringValue?.hasPrefix("*Outcome of approval 1*") == true)
            #expect(replies.first?.blocks.last?["text"]?["text"]?.stringValue == "cleanup-logs: freed 12 GiB")
        }
    }

    @Test func aMessageKeptWithTheIncidentIsEditedByAnotherProcessAndOneGoneIsPostedAgain() async throws {
        try await Self.withNotifier { client, slack in
            let incident = UUID()
            let first = SlackNotifier(client: client, channel: "C0123ALERTS")
            let started = try await first.send(.incident(Self.card(incident, .diagnosing)), threads: [:])
            // A restarted reconciler (or another replica) knows the message only from the incident store.
            let second = SlackNotifier(client: client, channel: "C0123ALERTS")
            #expect(try await second.send(.incident(Self.card(incident, .analysed)), threads: started).isEmpty)
            #expect(slack.message(ts: started[SlackNotifier.threadKey]!)?.edits == 1)
            try await second.send(.jobStatus(incident: incident, [JobStatus(name: "disk-6f1d-1", startTime: "2026-12-05T06:00:00Z", status: .active, labels: [:], description: "")]),
                                  threads: started)
            #expect(slack.messages.filter { $0.threadTS == started[SlackNotifier.threadKey] }.count == 1)
            try await second.send(.jobStatus(incident: nil, []))
            #expect(slack.messages.last?.threadTS == nil && slack.messages.last?.blocks.last?["text"]?["text"]?.stringValue == "No jobs.")
            // A message Slack no longer has: the card is posted anew, and the new message kept.
            let gone = [SlackNotifier.threadKey: "1764364000.000100", SlackNotifier.channelKey: "C0123ALERTS"]
            let again = try await second.send(.incident(Self.card(incident, .resolved)), threads: gone)
            let ts = try #require(again[SlackNotifier.threadKey])
            #expect(slack.message(ts: ts)?.blockText.contains("Resolved") == true)
        }
    }

    @Test func aRouteSendsTheIncidentToItsChannelAndRepliesFollowIt() async throws {
        try await Self.withNotifier(channels: ["C0123ALERTS", "C0PAYMENTS"]) { client, slack in
            let routes = ChatRoutes([
                .init(matchers: try AlertMatchers(parsing: #"team="payments""#), destinations: ["slack": "C0PAYMENTS"]),
                .init(recipes: ["other"], destinations: ["slack": "C0NOWHERE"]),
            ])
            let notifier = SlackNotifier(client: client, channel: "C0123ALERTS", routes: routes)
            let paid = UUID()
            let started = try await notifier.send(.incident(Self.card(paid, .diagnosing, labels: ["team": "payments"])), threads: [:])
            #expect(started[SlackNotifier.channelKey] == "C0PAYMENTS")
            _ = try await notifier.send(.incident(Self.card(paid, .analysed, labels: ["team": "payments"])), threads: started)
            try await notifier.send(.actionOutcome(incident: paid, approvalID: 1, Self.analysis), threads: started)
            #expect(slack.messages.allSatisfy { $0.channel == "C0PAYMENTS" })
            let other = try await notifier.send(.incident(Self.card(UUID(), .diagnosing, labels: ["team": "web"])), threads: [:])
            #expect(other[SlackNotifier.channelKey] == "C0123ALERTS", "no route matches: the default channel")
        }
    }

    @Test func aRefusalReachesTheCaller() async throws {
        try await Self.withNotifier { client, _ in
            let notifier = SlackNotifier(client: client, channel: "C0NOWHERE")
            await #expect(throws: SlackError.self) {
                _ = try await notifier.send(.incident(Self.card(UUID(), .diagnosing)), threads: [:])
            }
        }
    }
}
