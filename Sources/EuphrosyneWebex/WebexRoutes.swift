import EuphrosyneServer
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /api/webex/events` on the API listener: the Webex webhook callback for card buttons. It is not behind the
/// API's bearer/HMAC authentication; Webex signs it instead (`X-Spark-Signature`), checked over the raw bytes
/// before anything is parsed. Answered at once; the submission is worked off by `WebexApprovals`.
///
/// Public: the app builder hands it to `Listeners.api(routes:)`.
public struct WebexRoutes: ListenerRoutes {
    static let path = "/api/webex/events"

    public let approvals: WebexApprovals

    public init(approvals: WebexApprovals) {
        self.approvals = approvals
    }

    struct Answer: Codable {
        var accepted: Bool
        var reason: String?
    }

    public func add(to router: some RouterMethods<BasicRequestContext>) {
        let approvals = self.approvals
        router.post(RouterPath(Self.path)) { request, _ in
            // Qualified: Hummingbird has a `RequestBody` of its own.
            let body = try await EuphrosyneServer.RequestBody.collectJSON(request)
            guard approvals.isSignatureValid(body: body, signature: request.headers[HTTPField.Name("X-Spark-Signature")!]) else {
                throw APIError(.unauthorized, code: "bad_signature",
                               message: "X-Spark-Signature is missing or does not match the webhook secret")
            }
            switch approvals.accept(body) {
            case .queued:
                return try JSONResponse.make(Answer(accepted: true), status: .accepted)
            case .ignored(let reason):
                return try JSONResponse.make(Answer(accepted: false, reason: reason), status: .ok)
            case .unavailable:
                var error = APIError(.serviceUnavailable, code: "shutting_down", message: "the reconciler is shutting down")
                error.headers[HTTPField.Name("Retry-After")!] = "5"
                throw error
            }
        }
    }
}
