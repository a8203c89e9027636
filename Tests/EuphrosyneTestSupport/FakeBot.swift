import EuphrosyneCore
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// A stand-in for the original Webex bot: records every request to `/api/analysis` and `/api/status` and answers
/// with the statuses a test queues (200 once the queue is empty).
public final class FakeBot: Sendable {
    public struct Received: Sendable, Hashable {
        public var path: String
        public var contentType: String?
        public var body: Data
        /// The `Idempotency-Key` header, when the request had one.
        public var idempotencyKey: String? = nil

        /// The body as a JSON value (for comparisons that ignore key order); nil if it is not JSON.
        public var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }
    }

    private let state = Mutex<(received: [Received], answers: [Int])>(([], []))

    public init() {}

    /// Makes the next requests answer these statuses, in order.
    public func queueAnswers(_ statuses: [Int]) {
        state.withLock { $0.answers.append(contentsOf: statuses) }
    }

    public var received: [Received] { state.withLock { $0.received } }

    public func received(path: String) -> [Received] { received.filter { $0.path == path } }

    public var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        for path in ["/api/analysis", "/api/status"] {
            router.post(RouterPath(path)) { [self] request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let status = state.withLock { state -> Int in
                    state.received.append(Received(
                        path: path, contentType: request.headers[.contentType], body: Data(body.readableBytesView),
                        idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!]
                    ))
                    return state.answers.isEmpty ? 200 : state.answers.removeFirst()
                }
                return Response(status: .init(code: status))
            }
        }
        return router
    }
}

