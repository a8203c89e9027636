import EuphrosyneServer
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/slack/interactions` on the API listener: the Slack app's interactivity Request URL, where button clicks
/// arrive. It is not behind the API's bearer/HMAC authentication; Slack signs it instead (`X-Slack-Signature`,
/// `X-Slack-Request-Timestamp`), checked over the raw bytes before anything is parsed. Answered at once with an
/// empty `200`, as Slack asks; the click is worked off by `SlackApprovals`.
///
/// Public: the app builder hands it to `Listeners.api(routes:)`.
public struct SlackRoutes: ListenerRoutes {
    static let path = "/api/slack/interactions"

    public let approvals: SlackApprovals
    /// Unix seconds now; tests move it to check the replay window.
    let now: @Sendable () -> Int

    public init(approvals: SlackApprovals, now: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }) {
        self.approvals = approvals
        self.now = now
    }

    public func add(to router: some RouterMethods<BasicRequestContext>) {
        let approvals = self.approvals
        let now = self.now
        router.post(RouterPath(Self.path)) { request, _ -> Response in
            // Qualified: Hummingbird has a `RequestBody` of its own.
            let body = try await EuphrosyneServer.RequestBody.collectForm(request)
            do throws(SlackSignature.Refusal) {
                try approvals.verify(timestamp: request.headers[HTTPField.Name("X-Slack-Request-Timestamp")!],
                                     signature: request.headers[HTTPField.Name("X-Slack-Signature")!], body: body, now: now())
            } catch {
                throw APIError(.unauthorized, code: "bad_signature", message: error.description)
            }
            switch approvals.accept(body) {
            case .queued, .ignored:
                return Response(status: .ok)
            case .unavailable:
                var error = APIError(.serviceUnavailable, code: "shutting_down", message: "the reconciler is shutting down")
                error.headers[HTTPField.Name("Retry-After")!] = "5"
                throw error
            }
        }
    }
}
