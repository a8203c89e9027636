import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How a replica standing by (leader election) passes the requests only the leader may answer — alerts, approvals,
/// `/api/status` — to the leader, so that every replica can take traffic and a client never has to find the leader.
///
/// The replica forwards such a request as it came (method, path, headers, body) to the leader's listener, which
/// authenticates and answers it as if it had come directly; the answer goes back unchanged. Nothing is decided or
/// authenticated on the way, so a signed request's replay check happens once, at the leader. A request that was
/// forwarded already (`X-Euphrosyne-Forwarded-By`) is never forwarded again. Without a known leader the replica
/// answers itself (`503 not_leader`, `Retry-After`). `Listeners` installs it when the app provides one.
public struct LeaderForwarding: Sendable {
    /// Who leads now, as this replica knows it.
    public var leader: @Sendable () -> Leader
    /// Sends a request to the leader and returns its answer; throws when the leader cannot be reached.
    public var send: @Sendable (ForwardedRequest) async throws -> ForwardedResponse
    /// This replica's name, sent along in `X-Euphrosyne-Forwarded-By`.
    public var identity: String
    /// Sends a request to the leader and hands each piece of its answer's body to `write` as it comes, until the
    /// leader ends it: the dashboard's event stream on a replica standing by is the leader's. Nil: not available.
    public var relay: (@Sendable (ForwardedRequest, _ write: @escaping @Sendable (ByteBuffer) async throws -> Void) async throws -> Void)?

    public enum Leader: Sendable, Hashable {
        /// This replica leads: it answers.
        case this
        /// Another replica leads and published where its listeners are.
        case elsewhere(webhook: String, api: String)
        /// No leader is known (an election under way): the replica answers, refusing.
        case unknown
    }

    public struct ForwardedRequest: Sendable {
        public var method: HTTPRequest.Method
        /// The leader's listener's base URL plus the request's path and query.
        public var url: String
        public var headers: HTTPFields
        public var body: ByteBuffer

        public init(method: HTTPRequest.Method, url: String, headers: HTTPFields, body: ByteBuffer) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    public struct ForwardedResponse: Sendable {
        public var status: HTTPResponse.Status
        public var headers: HTTPFields
        public var body: ByteBuffer

        public init(status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public init(identity: String, leader: @escaping @Sendable () -> Leader,
                send: @escaping @Sendable (ForwardedRequest) async throws -> ForwardedResponse,
                relay: (@Sendable (ForwardedRequest, _ write: @escaping @Sendable (ByteBuffer) async throws -> Void) async throws -> Void)? = nil) {
        self.identity = identity
        self.leader = leader
        self.send = send
        self.relay = relay
    }

    /// `X-Euphrosyne-Forwarded-By`: a request that carries it came from another replica and is answered here.
    public static let forwardedBy = HTTPField.Name("X-Euphrosyne-Forwarded-By")!

    /// Headers that belong to one connection, not to the request.
    static let hopByHop: Set<HTTPField.Name> = [
        .connection, .transferEncoding, .contentLength, .te, .upgrade, .proxyAuthorization,
        HTTPField.Name("Keep-Alive")!, HTTPField.Name("Trailer")!,
    ]
}

/// Forwards the leader-only requests of one listener (`Listeners` puts it before authentication on the routes that
/// change something: `POST /webhook`; the API's `POST`s).
struct LeaderForwardingMiddleware<Context: RequestContext>: RouterMiddleware {
    enum Listener { case webhook, api }

    let forwarding: LeaderForwarding
    let listener: Listener

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, request.headers[LeaderForwarding.forwardedBy] == nil else {
            return try await next(request, context)
        }
        guard case .elsewhere(let webhook, let api) = forwarding.leader() else { return try await next(request, context) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: RequestBody.limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge
        }
        var headers = HTTPFields()
        for field in request.headers where !LeaderForwarding.hopByHop.contains(field.name) { headers.append(field) }
        headers[LeaderForwarding.forwardedBy] = forwarding.identity
        let base = listener == .webhook ? webhook : api
        let answer: LeaderForwarding.ForwardedResponse
        do {
            answer = try await forwarding.send(.init(method: request.method, url: base + request.uri.description,
                                                     headers: headers, body: body))
        } catch {
            var refusal = APIError(.serviceUnavailable, code: "not_leader",
                                   message: "this replica is standing by and the leader cannot be reached; retry shortly")
            refusal.headers[HTTPField.Name("Retry-After")!] = "5"
            throw refusal
        }
        var responseHeaders = HTTPFields()
        for field in answer.headers where !LeaderForwarding.hopByHop.contains(field.name) { responseHeaders.append(field) }
        return Response(status: answer.status, headers: responseHeaders, body: .init(byteBuffer: answer.body))
    }
}
