import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import EuphrosyneWebex
import Foundation
import Hummingbird
import Testing

/// `WebexClient` against the fake Webex API: retries and refusals (`WebexNotifierTests` has the notifier).
@Suite struct WebexClientTests {
    static let quick = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(50))

    static func withFake(_ body: @escaping @Sendable (FakeWebex, WebexClient) async throws -> Void) async throws {
        let fake = FakeWebex()
        try await RunningServer.with([fake.router]) { ports in
            try await body(fake, WebexClient(baseURL: FakeWebex.baseURL(port: ports[0]), token: fake.botToken,
                                             httpClient: .shared, retry: quick))
        }
    }


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
}
