import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import EuphrosyneWebex
import Foundation
import Hummingbird
import Testing

/// `WebexClient` and `WebexNotifier` against the fake Webex API: retries, refusals, threads.
@Suite struct WebexClientTests {
    static let quick = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50))

    static func withFake(_ body: @escaping @Sendable (FakeWebex, WebexClient) async throws -> Void) async throws {
        let fake = FakeWebex()
        try await RunningServer.with([fake.router]) { ports in
            try await body(fake, WebexClient(baseURL: FakeWebex.baseURL(port: ports[0]), token: fake.botToken,
                                             httpClient: .shared, retry: quick))
        }
    }

    static let analysis = Analysis(text: "dummy: fine", actions: ["jira"], links: [], successful: ["dummy"], shortfalls: [])

    @Test func serverErrorsAreRetriedAndARefusalIsNot() async throws {
        try await Self.withFake { fake, client in
            fake.failNext(2, status: 503, pathPrefix: "/v1/messages")
            let posted = try await client.post(.init(roomId: "R", text: "hi", markdown: "hi"))
            #expect(fake.message(id: posted.id)?.markdown == "hi")
            #expect(fake.requestLog.map(\.status) == [503, 503, 200])

            fake.failNext(1, status: 400, pathPrefix: "/v1/messages")
            let refusal = await #expect(throws: WebexError.self) { try await client.post(.init(roomId: "R", text: "x", markdown: "x")) }
            #expect(refusal?.code == .refused)
            #expect(refusal?.statusCode == 400)
            #expect(refusal?.request == "POST /messages")
            #expect(fake.requestLog.count == 4, "a 400 is not retried")

            fake.failNext(3, status: 500, pathPrefix: "/v1/messages")
            do {
                _ = try await client.post(.init(roomId: "R", text: "x", markdown: "x"))
                Issue.record("expected the client to give up")
            } catch let failure as WebexError {
                #expect(failure.code == .unreachable)
                #expect(failure.statusCode == nil)
                #expect(failure.description.contains("after 3 attempts"))
                #expect(!failure.description.contains(fake.botToken), "the token never shows in errors")
            }
        }
    }

    @Test func anAnswerThatDoesNotDecodeIsAnUnexpectedAnswer() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/v1/people/{id}") { _, _ in #"{"id":"P1"}"# }
        try await RunningServer.with([router]) { ports in
            let client = WebexClient(baseURL: "http://127.0.0.1:\(ports[0])/v1", token: "t", httpClient: .shared, retry: Self.quick)
            let error = await #expect(throws: WebexError.self) { try await client.person(id: "P1") }
            #expect(error?.code == .unexpectedAnswer)
            #expect(error?.request == "GET /people/P1")
            #expect(error?.underlying is DecodingError)
        }
    }

    @Test func aWrongTokenIsARefusalWithWebexsMessage() async throws {
        let fake = FakeWebex()
        try await RunningServer.with([fake.router]) { ports in
            let client = WebexClient(baseURL: FakeWebex.baseURL(port: ports[0]), token: "wrong", httpClient: .shared, retry: Self.quick)
            do {
                _ = try await client.webhooks()
                Issue.record("expected a refusal")
            } catch let failure as WebexError {
                #expect(failure.code == .refused)
                #expect(failure.statusCode == 401)
                #expect(failure.trackingID?.isEmpty == false)
                #expect(!failure.message.isEmpty, "Webex's own message")
                #expect(failure.description.contains("trackingId"))
            }
            #expect(fake.requestLog.count == 1)
        }
    }

    @Test func aNotifierThatNeverSawTheAnalysisRepliesInTheThreadKeptWithTheIncident() async throws {
        try await Self.withFake { fake, client in
            let registry = StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [.fake("jira", .action)]))
            let incident = UUID()
            let started = try await WebexNotifier(client: client, roomID: "ROOM", registry: registry)
                .send(.analysis(incident: incident, Self.analysis), threads: [:])
            let root = try #require(fake.messages.first)
            #expect(started == [WebexNotifier.threadKey: root.id])
            // As after a restart (or on another replica): a new notifier, and the thread from the incident store.
            let restarted = WebexNotifier(client: client, roomID: "ROOM", registry: registry)
            let more = try await restarted.send(.resolved(incident: incident, alert: "PodCrashLooping", cancelledRuns: []),
                                                threads: started)
            #expect(more.isEmpty)
            #expect(fake.messages.count == 2 && fake.messages[1].parentId == root.id)
        }
    }

    @Test func theNotifierThreadsOutcomesUnderTheAnalysisAndWaitsOutA429() async throws {
        let fake = FakeWebex()
        try await RunningServer.with([fake.router]) { ports in
            // Pauses on a manual clock: the test moves it past Retry-After, and no wall-clock second passes.
            let clock = ManualClock()
            let client = WebexClient(baseURL: FakeWebex.baseURL(port: ports[0]), token: fake.botToken, httpClient: .shared,
                                     retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10),
                                                        maxDelay: .milliseconds(50), clock: clock))
            let registry = StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [.fake("jira", .action)]))
            let notifier = WebexNotifier(client: client, roomID: "ROOM", registry: registry)
            let incident = UUID()
            fake.failNext(1, status: 429, retryAfterSeconds: 7, pathPrefix: "/v1/messages")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await notifier.send(.analysis(incident: incident, Self.analysis)) }
                try await waitUntil("the pause after the 429") { clock.sleepers == 1 }
                clock.advance(by: .milliseconds(6_999))
                #expect(clock.sleepers == 1, "Retry-After (7 s) is honoured, not the 10 ms back-off")
                #expect(fake.requestLog.map(\.status) == [429])
                clock.advance(by: .milliseconds(1))
                try await group.waitForAll()
            }
            #expect(fake.requestLog.map(\.status) == [429, 200])
            try await notifier.send(.actionOutcome(incident: incident, approvalID: 1,
                                                   Analysis(text: "jira: OPS-1", actions: [], links: [], successful: ["jira"], shortfalls: [])))
            try await notifier.send(.resolved(incident: incident, alert: "PodCrashLooping", cancelledRuns: []))
            try await notifier.send(.jobStatus(incident: incident, [JobStatus(name: "dummy-abcde", startTime: "2026-11-29T00:00:00Z", status: .completed, labels: [:], description: "")]))
            let messages = fake.messages
            #expect(messages.count == 4)
            let root = try #require(messages.first)
            #expect(root.parentId == nil && root.attachments != nil)
            #expect(messages.dropFirst().allSatisfy { $0.parentId == root.id && $0.attachments == nil })
            #expect(messages[1].markdown?.contains("Outcome of approval 1") == true)
            #expect(messages[2].markdown?.contains("Resolved: PodCrashLooping") == true)
            #expect(messages[3].markdown?.contains("`dummy-abcde`: Completed") == true)

            // An incident the notifier never posted (e.g. before a restart): a top-level message.
            try await notifier.send(.resolved(incident: UUID(), alert: "Other", cancelledRuns: []))
            #expect(fake.messages.last?.parentId == nil)
        }
    }
}
