import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import Foundation
import HTTPTypes
import Hummingbird

/// An error answered to an HTTP client as JSON: `{"error": {"status", "code", "message", "field"?}}`.
///
/// Every route throws these for bad requests; `JSONErrorMiddleware` turns every other error into one too, so a
/// client never sees an empty or HTML error body.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A stable machine-readable code, e.g. `malformed_json`, `unknown_action`.
    public var code: String
    public var message: String
    /// The JSON field at fault, e.g. `actions[0].name`.
    public var field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    struct Body: Codable {
        struct Detail: Codable {
            var status: Int
            var code: String
            var message: String
            var field: String?
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: jsonBody))
    }

    /// The `{"error": {...}}` body.
    var jsonBody: ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and integers always encode.
        let body = try! encoder.encode(Body(error: .init(status: status.code, code: code, message: message, field: field)))
        return ByteBuffer(bytes: body)
    }

    /// The same error, asking the server to close the connection once it is answered: for requests whose body
    /// was not (wholly) read, so nothing of it is mistaken for the next request.
    var closingConnection: APIError {
        var error = self
        error.headers[.connection] = "close"
        return error
    }
}

extension APIError {
    static func badJSON(_ error: JSONInputError) -> APIError {
        APIError(.badRequest, code: error.message.hasPrefix("malformed JSON") ? "malformed_json" : "invalid_body",
                 message: error.description, field: error.path)
    }

    static let bodyTooLarge = APIError(
        .contentTooLarge, code: "body_too_large", message: "the request body is larger than 1 MiB"
    ).closingConnection

    static let bodyReadTimeout = APIError(
        .requestTimeout, code: "request_timeout", message: "the request body did not arrive within the read timeout"
    ).closingConnection

    static let malformedRequest = APIError(
        .badRequest, code: "malformed_request", message: "the request is not valid HTTP/1.1 (its body framing is broken)"
    ).closingConnection

    public static func invalidIncidentID(_ text: String) -> APIError {
        APIError(.badRequest, code: "invalid_uuid", message: "\"\(text)\" is not an incident UUID", field: "uuid")
    }

    public static func incidentNotFound(_ id: UUID) -> APIError {
        APIError(.notFound, code: "incident_not_found", message: "no incident \(id.uuidString.lowercased())")
    }

    public static func from(_ error: CoordinatorError) -> APIError {
        switch error {
        case .incidentNotFound(let id):
            return .incidentNotFound(id)
        case .approvalRejected(let rejection):
            switch rejection {
            case .noActions:
                return APIError(.unprocessableContent, code: "no_actions", message: rejection.description, field: "actions")
            case .unknownAction:
                return APIError(.unprocessableContent, code: "unknown_action", message: rejection.description, field: "actions")
            case .disabledAction:
                return APIError(.unprocessableContent, code: "disabled_action", message: rejection.description, field: "actions")
            case .stillDiagnosing:
                return APIError(.conflict, code: "still_diagnosing", message: rejection.description)
            case .closed:
                return APIError(.conflict, code: "incident_closed", message: rejection.description)
            case .notSuggested:
                return APIError(.conflict, code: "action_not_suggested", message: rejection.description, field: "actions")
            case .idempotencyKeyReused:
                return APIError(.unprocessableContent, code: "idempotency_key_reused", message: rejection.description)
            case .approverNotAllowed:
                return APIError(.forbidden, code: "approver_not_allowed", message: rejection.description)
            case .dataTooLarge:
                return APIError(.badRequest, code: "too_large", message: rejection.description, field: "actions")
            case .runLimitReached:
                return APIError(.conflict, code: "run_limit_reached", message: rejection.description)
            }
        case .shuttingDown:
            var error = APIError(.serviceUnavailable, code: "shutting_down", message: error.description)
            error.headers[HTTPField.Name("Retry-After")!] = "5"
            return error
        case .notLeading:
            var error = APIError(.serviceUnavailable, code: "not_leader", message: error.description)
            error.headers[HTTPField.Name("Retry-After")!] = "5"
            return error
        case .storeUnavailable:
            // The reason (logged by the coordinator) may name the store's address; the client gets none of it.
            var error = APIError(.serviceUnavailable, code: "store_unavailable",
                                 message: "the incident store is unavailable; retry shortly")
            error.headers[HTTPField.Name("Retry-After")!] = "5"
            return error
        case .intakeQueueFull(let retryAfter):
            var error = APIError(.serviceUnavailable, code: "intake_queue_full", message: error.description)
            error.headers[HTTPField.Name("Retry-After")!] = String(retryAfter)
            return error
        case .tooManyOpenIncidents(_, let retryAfter):
            var error = APIError(.serviceUnavailable, code: "too_many_open_incidents", message: error.description)
            error.headers[HTTPField.Name("Retry-After")!] = String(retryAfter)
            return error
        case .rateLimited(_, let retryAfter):
            var error = APIError(.tooManyRequests, code: "rate_limited", message: error.description)
            error.headers[HTTPField.Name("Retry-After")!] = String(retryAfter)
            return error
        case .notificationIgnored:
            return APIError(.unprocessableContent, code: "notification_ignored", message: error.description)
        }
    }
}
