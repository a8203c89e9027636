import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import RecipeKit
import Synchronization
import Testing

/// The `webhook` action against a receiver on loopback that records what arrives and answers what a test says.
@Suite struct WebhookRecipeTests {
    final class Receiver: Sendable {
        struct Request: Sendable {
            var path: String
            var authorization: String?
            var contentType: String?
            var body: Data
            var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }
        }

        private let state = Mutex<(requests: [Request], status: Int, body: String)>(([], 200, #"{"ok":true}"#))

        init(status: Int = 200, body: String = #"{"ok":true}"#) {
            state.withLock { $0.status = status; $0.body = body }
        }

        var requests: [Request] { state.withLock { $0.requests } }

        var router: Router<BasicRequestContext> {
            let router = Router(context: BasicRequestContext.self)
            router.post("/**") { [self] request, _ -> Response in
                let body = Data(try await request.body.collect(upTo: 1 << 20).readableBytesView)
                let (status, answer) = state.withLock { state in
                    state.requests.append(Request(
                        path: request.uri.path, authorization: request.headers[.authorization],
                        contentType: request.headers[.contentType], body: body
                    ))
                    return (state.status, state.body)
                }
                return Response(status: .init(code: status), body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
            }
            return router
        }
    }

    static func run(_ environment: [String: String], _ input: RecipeInput) async throws -> RecipeOutcome {
        try await ActionInputs.outcome(
            WebhookRecipe(requestTimeout: .seconds(10)).run,
            ActionInputs.context("webhook", environment: environment, input: input)
        )
    }

    @Test func theReceiverGetsTheIncidentAsJSONWithTheBearerToken() async throws {
        let receiver = Receiver(status: 202)
        try await RunningServer.with([receiver.router]) { ports in
            let input = ActionInputs.input(data: ["note": .string("paging the api team")], analysis: "dummy: all bad")
            let outcome = try await Self.run(
                ["WEBHOOK_URL": "http://127.0.0.1:\(ports[0])/hooks/incidents", "WEBHOOK_BEARER_TOKEN": "s3cret-token"],
                input
            )
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis == "Posted incident \(input.incident) to the webhook at http://127.0.0.1:\(ports[0]) (202).")
            let request = try #require(receiver.requests.first)
            #expect(receiver.requests.count == 1)
            #expect(request.path == "/hooks/incidents")
            #expect(request.authorization == "Bearer s3cret-token")
            #expect(request.contentType == "application/json")
            let body = try #require(request.json)
            #expect(body["uuid"] == .string(input.incident))
            #expect(body["summary"] == .string("PodCrashLooping (firing): api pod restarting"))
            #expect(body["status"] == .string("firing"))
            #expect(body["alertname"] == .string("PodCrashLooping"))
            #expect(body["labels"]?["pod"] == .string("api-7d9f"))
            #expect(body["annotations"]?["runbook"] == .string("restart-api"))
            #expect(body["alerts"]?.arrayValue?.first?["fingerprint"] == .string("09f827451c0fe9f3"))
            #expect(body["data"] == .object(["note": .string("paging the api team")]))
            #expect(body["analysis"] == .string("dummy: all bad"))
            #expect(body["payload"] == nil)
        }
    }

    @Test func withoutATokenNoAuthorizationIsSent() async throws {
        let receiver = Receiver()
        try await RunningServer.with([receiver.router]) { ports in
            let outcome = try await Self.run(["WEBHOOK_URL": "http://127.0.0.1:\(ports[0])/hook"], ActionInputs.input())
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(receiver.requests.first?.authorization == nil)
            #expect(receiver.requests.first?.json?["analysis"] == nil)
        }
    }

    @Test func aNon2xxAnswerFailsWithTheStatusAndTheStartOfTheBody() async throws {
        let answer = String(repeating: "a", count: 500) + "TAIL"
        let receiver = Receiver(status: 500, body: answer)
        try await RunningServer.with([receiver.router]) { ports in
            let outcome = try await Self.run(
                ["WEBHOOK_URL": "http://127.0.0.1:\(ports[0])/hooks/T0KEN-IN-PATH", "WEBHOOK_BEARER_TOKEN": "s3cret-token"],
                ActionInputs.input()
            )
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.hasPrefix("the webhook at http://127.0.0.1:\(ports[0]) answered 500: aaaa"),
                    "\(outcome.analysis)")
            #expect(outcome.analysis.contains(String(repeating: "a", count: 500)))
            #expect(!outcome.analysis.contains("TAIL"))
            #expect(!outcome.analysis.contains("T0KEN-IN-PATH"))
            #expect(!outcome.analysis.contains("s3cret-token"))
        }
    }

    @Test func theApprovalChoosesTheURLOnlyWhenAllowed() async throws {
        let configured = Receiver()
        let chosen = Receiver()
        try await RunningServer.with([configured.router, chosen.router]) { ports in
            let data: [String: JSONValue] = ["url": .string("http://127.0.0.1:\(ports[1])/elsewhere")]
            let environment = ["WEBHOOK_URL": "http://127.0.0.1:\(ports[0])/hook"]
            let ignored = try await Self.run(environment, ActionInputs.input(data: data))
            #expect(ignored.status == .successful)
            #expect(ignored.analysis.contains("The approval data's \"url\" was ignored"))
            #expect(configured.requests.count == 1)
            #expect(chosen.requests.isEmpty)

            let allowed = try await Self.run(
                environment.merging(["WEBHOOK_ALLOW_URL_FROM_DATA": "1"]) { $1 }, ActionInputs.input(data: data)
            )
            #expect(allowed.status == .successful, "\(allowed.analysis)")
            #expect(chosen.requests.map(\.path) == ["/elsewhere"])
            #expect(configured.requests.count == 1)
        }
    }

    @Test func nowhereToPostOrNoOneListeningFails() async throws {
        let unset = try await Self.run([:], ActionInputs.input())
        #expect(unset.status == .failed)
        #expect(unset.analysis.contains("WEBHOOK_URL is not set"))

        let fromDataOnly = try await Self.run([:], ActionInputs.input(data: ["url": .string("http://127.0.0.1:1/")]))
        #expect(fromDataOnly.analysis.contains("WEBHOOK_ALLOW_URL_FROM_DATA=1"), "\(fromDataOnly.analysis)")

        let notHTTP = try await Self.run(["WEBHOOK_URL": "ftp://example.com/x"], ActionInputs.input())
        #expect(notHTTP.analysis == "the webhook URL from WEBHOOK_URL is not an http(s) URL")

        let port = try await ActionInputs.closedPort()
        let down = try await Self.run(["WEBHOOK_URL": "http://127.0.0.1:\(port)/hook"], ActionInputs.input())
        #expect(down.status == .failed)
        #expect(down.analysis.hasPrefix("the webhook at http://127.0.0.1:\(port) is unreachable"), "\(down.analysis)")
    }
}
