import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import EuphrosyneWebex
import Foundation
import Testing

/// `WebexNotifier` against the fake Webex API: one message per incident, edited in place as the incident moves on,
/// its buttons a card in its thread that is replaced or deleted as the actions change, outcomes in the thread.
@Suite struct WebexNotifierTests {
    static let registry = StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [.fake("jira", .action)]))
    static let analysis = Analysis(text: "dummy: fine", actions: ["jira"], links: [], successful: ["dummy"], shortfalls: [])

    static func withNotifier(clock: ManualClock? = nil,
                             _ body: @escaping @Sendable (FakeWebex, WebexClient) async throws -> Void) async throws {
        let fake = FakeWebex()
        try await RunningServer.with([fake.router]) { ports in
            let retry = clock.map { RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50), clock: $0) }
                ?? RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50))
            try await body(fake, WebexClient(baseURL: FakeWebex.baseURL(port: ports[0]), token: fake.botToken,
                                             httpClient: .shared, retry: retry))
        }
    }

    static func card(_ id: UUID, _ state: Incident.State, labels: [String: String] = [:]) -> IncidentCard {
        SampleIncidents.card(id: id, alerts: [labels], state: state, analysis: state == .diagnosing ? nil : analysis,
                             recipes: ["dummy"])
    }

    @Test func theMessageIsEditedInPlaceAndItsButtonsAreAReplyDeletedOnceTheIncidentCloses() async throws {
        try await Self.withNotifier { fake, client in
            let notifier = WebexNotifier(client: client, roomID: "ROOM", registry: Self.registry)
            let incident = UUID()
            var threads = try await notifier.send(.incident(Self.card(incident, .diagnosing)), threads: [:])
            let root = try #require(fake.messages.first)
            #expect(threads[WebexNotifier.threadKey] == root.id && root.attachments == nil && root.parentId == nil)
            #expect(root.markdown?.hasPrefix("🟡 **Diagnosing**") == true)

            threads.merge(try await notifier.send(.incident(Self.card(incident, .analysed)), threads: threads)) { $1 }
            #expect(try await notifier.send(.analysis(incident: incident, Self.analysis), threads: threads).isEmpty)
            #expect(fake.message(id: root.id)?.edits == 1)
            #expect(fake.message(id: root.id)?.markdown?.contains("dummy: fine") == true)
            let buttons = try #require(fake.messages.first { $0.attachments != nil })
            #expect(buttons.parentId == root.id, "the buttons are a reply in the incident's thread")

            // The same actions: the card stays.
            threads.merge(try await notifier.send(.incident(Self.card(incident, .acting)), threads: threads)) { $1 }
            #expect(fake.messages.filter { $0.attachments != nil }.map(\.id) == [buttons.id])

            #expect(try await notifier.send(.resolved(incident: incident, alert: "PodCrashLooping", cancelledRuns: []), threads: threads).isEmpty)
            threads.merge(try await notifier.send(.incident(Self.card(incident, .resolved)), threads: threads)) { $1 }
            #expect(fake.message(id: root.id)?.markdown?.hasPrefix("🟢 **Resolved**") == true)
            #expect(fake.message(id: root.id)?.edits == 3)
            #expect(fake.message(id: buttons.id) == nil, "the buttons are gone")
            #expect(fake.messages.count == 1, "nothing else was posted")
        }
    }

    @Test func anotherProcessEditsTheMessageKeptWithTheIncidentAndRepliesInItsThread() async throws {
        try await Self.withNotifier { fake, client in
            let incident = UUID()
            var threads = try await WebexNotifier(client: client, roomID: "ROOM", registry: Self.registry)
                .send(.incident(Self.card(incident, .analysed)), threads: [:])
            let root = try #require(threads[WebexNotifier.threadKey])
            // As after a restart (or on another replica): a new notifier, and the message from the incident store.
            let restarted = WebexNotifier(client: client, roomID: "ROOM", registry: Self.registry)
            try await restarted.send(.actionOutcome(incident: incident, approvalID: 1,
                                                    Analysis(text: "jira: OPS-1", actions: [], links: [], successful: ["jira"], shortfalls: [])),
                                     threads: threads)
            threads.merge(try await restarted.send(.incident(Self.card(incident, .resolved)), threads: threads)) { $1 }
            #expect(fake.message(id: root)?.edits == 1)
            #expect(!fake.messages.contains { $0.attachments != nil })
            let outcome = try #require(fake.messages.first { $0.markdown?.contains("Outcome of approval 1") == true })
            #expect(outcome.parentId == root)
            // An incident the notifier never posted (e.g. before a restart): a top-level message.
            try await restarted.send(.actionOutcome(incident: UUID(), approvalID: 1, Self.analysis))
            #expect(fake.messages.last?.parentId == nil)
        }
    }

    @Test func pastWebexsTenEditsTheStateGoesIntoTheThread() async throws {
        try await Self.withNotifier { fake, client in
            let notifier = WebexNotifier(client: client, roomID: "ROOM", registry: StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [])))
            let incident = UUID()
            var threads = try await notifier.send(.incident(Self.card(incident, .diagnosing)), threads: [:])
            let root = try #require(threads[WebexNotifier.threadKey])
            for index in 1...12 {
                let card = SampleIncidents.card(id: incident, alerts: (0...index).map { ["pod": "p\($0)"] }, state: .diagnosing)
                threads.merge(try await notifier.send(.incident(card), threads: threads)) { $1 }
            }
            #expect(fake.message(id: root)?.edits == 10)
            let replies = fake.messages.filter { $0.parentId == root }
            #expect(replies.count == 2 && replies.last?.markdown?.contains("13 alerts firing") == true)
        }
    }

    @Test func aRouteSendsTheIncidentToItsRoom() async throws {
        try await Self.withNotifier { fake, client in
            let routes = ChatRoutes([.init(matchers: try AlertMatchers(parsing: #"severity="page""#), destinations: ["webex": "ONCALL"])])
            let notifier = WebexNotifier(client: client, roomID: "ROOM", routes: routes, registry: Self.registry)
            let threads = try await notifier.send(.incident(Self.card(UUID(), .analysed, labels: ["severity": "page"])), threads: [:])
            #expect(fake.messages.allSatisfy { $0.roomId == "ONCALL" } && fake.messages.count == 2)
            #expect(threads[WebexNotifier.threadKey] != nil)
            _ = try await notifier.send(.incident(Self.card(UUID(), .analysed, labels: ["severity": "info"])), threads: [:])
            #expect(fake.messages.suffix(2).allSatisfy { $0.roomId == "ROOM" }, "no route matches: the default room")
        }
    }

    @Test func theFirstPostWaitsOutA429AndJobStatesGoInTheThread() async throws {
        // Pauses on a manual clock: the test moves it past Retry-After, and no wall-clock second passes.
        let clock = ManualClock()
        try await Self.withNotifier(clock: clock) { fake, client in
            let notifier = WebexNotifier(client: client, roomID: "ROOM", registry: Self.registry)
            let incident = UUID()
            fake.failNext(1, status: 429, retryAfterSeconds: 7, pathPrefix: "/v1/messages")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await notifier.send(.incident(Self.card(incident, .diagnosing)), threads: [:]) }
                try await waitUntil("the pause after the 429") { clock.sleepers == 1 }
                clock.advance(by: .milliseconds(6_999))
                #expect(clock.sleepers == 1, "Retry-After (7 s) is honoured, not the 10 ms back-off")
                #expect(fake.requestLog.map(\.status) == [429])
                clock.advance(by: .milliseconds(1))
                try await group.waitForAll()
            }
            #expect(fake.requestLog.map(\.status) == [429, 200])
            // This process remembers the message it posted.
            try await notifier.send(.jobStatus(incident: incident, [JobStatus(name: "dummy-abcde", startTime: "2026-11-29T00:00:00Z", status: .completed, labels: [:], description: "")]))
            let root = try #require(fake.messages.first)
            #expect(fake.messages.last?.parentId == root.id)
            #expect(fake.messages.last?.markdown?.contains("`dummy-abcde`: Completed") == true)
        }
    }
}
