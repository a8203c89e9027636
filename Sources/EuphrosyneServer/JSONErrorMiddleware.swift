import EuphrosyneEngine
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error a route throws into a JSON `APIError` response, and logs each request without its query or
/// path secrets (the result callback path carries one): only the route pattern, the status and the duration.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Counts every request as `euphrosyne_http_requests_total{listener, method, route, status}`.
    var listener: String = "http"
    var metrics: ReconcilerMetrics = ReconcilerMetrics()

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            log(request, context, status: error.status, start: start, detail: error.message)
            throw error
        } catch is NIOTooManyBytesError {
            log(request, context, status: .contentTooLarge, start: start, detail: nil)
            throw APIError.bodyTooLarge
        } catch is RequestBodyReadTimeout {
            // ConnectionGuardHandler cut a body that did not arrive in time.
            log(request, context, status: .requestTimeout, start: start, detail: nil)
            throw APIError.bodyReadTimeout
        } catch is HTTPParserError {
            // The body's framing broke mid-request (e.g. a bad chunk-size line): the client's fault, never a 500.
            log(request, context, status: .badRequest, start: start, detail: "malformed body framing")
            throw APIError.malformedRequest
        } catch let error as HTTPError {
            let apiError = Self.translate(error)
            log(request, context, status: apiError.status, start: start, detail: apiError.message)
            throw apiError
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "route": "\(route(request, context))"])
            throw APIError(.internalServerError, code: "internal_error", message: "internal error; see the reconciler log")
        }
        log(request, context, status: response.status, start: start, detail: nil)
        return response
    }

    static func translate(_ error: HTTPError) -> APIError {
        let code: String
        switch error.status {
        case .notFound: code = "not_found"
        case .methodNotAllowed: code = "method_not_allowed"
        case .contentTooLarge: return .bodyTooLarge
        default: code = "http_\(error.status.code)"
        }
        return APIError(error.status, code: code, message: error.body ?? error.status.reasonPhrase)
    }

    private func route(_ request: Request, _ context: Context) -> String {
        context.endpointPath ?? "unmatched"
    }

    private func log(
        _ request: Request, _ context: Context, status: HTTPResponse.Status, start: ContinuousClock.Instant,
        detail: String?
    ) {
        metrics.increment("euphrosyne_http_requests_total", [
            ("listener", listener), ("method", request.method.rawValue), ("route", route(request, context)),
            ("status", String(status.code)),
        ])
        let level: Logger.Level = status.code >= 500 ? .error : (status.code >= 400 ? .notice : .debug)
        // Successful requests log at debug: skip building their metadata when that level is off.
        guard context.logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "route": "\(route(request, context))", "status": "\(status.code)",
            "duration": "\(ContinuousClock.now - start)",
        ]
        if let detail { metadata["detail"] = "\(detail)" }
        context.logger.log(level: level, "request", metadata: metadata)
    }
}
