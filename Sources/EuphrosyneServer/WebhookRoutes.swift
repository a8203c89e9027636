import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Hummingbird

/// The webhook listener (8080, cluster-internal): alerts in, and results from recipes in local mode.
enum WebhookRoutes {
    /// The answer to `/webhook`: what became of the notification.
    struct Received: Codable {
        /// `opened`, `joined` (an open incident of the same group), `resolved`, or `ignored`.
        var outcome: String
        var uuid: String?
        var state: String?
        /// The recipes this notification started.
        var recipes: [String]
        /// True when a new incident opened.
        var new: Bool
        /// Why an ignored notification was ignored.
        var reason: String?
    }

    struct Delivered: Codable {
        var accepted: Bool
        var reason: String?
    }

    /// `POST /webhook`, on the route group `Listeners` puts behind the webhook's authentication.
    static func addWebhook<Context: RequestContext>(to router: some RouterMethods<Context>, coordinator: IncidentCoordinator) {
        router.post("/webhook") { request, _ in
            let payload = try await RequestBody.jsonObject(request)
            try RequestLimits.checkAlerts(payload)
            let reception: Reception
            do throws(CoordinatorError) {
                reception = try await coordinator.receive(payload: payload)
            } catch {
                throw APIError.from(error)
            }
            var reason: String?
            if case .ignored(let why) = reception { reason = why }
            let received = Received(outcome: reception.outcome, uuid: reception.incident?.id.uuidString.lowercased(),
                                    state: reception.incident?.state.rawValue, recipes: reception.startedRecipes,
                                    new: reception.isNew, reason: reason)
            // Written by hand: this answer goes out for every alert (see `Received.json`).
            return Response(status: reception.incident == nil ? .ok : .accepted,
                            headers: [.contentType: "application/json; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: received.json)))
        }

    }

    /// The result callback of local mode. The path carries the incident's secret; a wrong one is refused the same
    /// way as an unknown incident, so the endpoint does not reveal which incidents exist.
    static func addResultCallback<Context: RequestContext>(
        to router: some RouterMethods<Context>, coordinator: IncidentCoordinator
    ) {
        router.post("/results/{uuid}/{secret}") { request, context in
            try RequestBody.requireJSONContentType(request)
            let idText = context.parameters.get("uuid") ?? ""
            guard let id = UUID(uuidString: idText) else { throw APIError.invalidIncidentID(idText) }
            let secret = context.parameters.get("secret") ?? ""
            guard let expected = coordinator.callbackSecret(for: id),
                  ConstantTime.equals(Array(secret.utf8), Array(expected.utf8))
            else {
                throw APIError(.notFound, code: "unknown_callback",
                               message: "no open incident with that callback URL")
            }
            let body = try await RequestBody.collectJSON(request)
            let result: RecipeResult
            do throws(JSONInputError) {
                result = try RecipeResult.decode(body)
            } catch {
                throw APIError.badJSON(error)
            }
            guard UUID(uuidString: result.incident) == id else {
                throw APIError(.unprocessableContent, code: "incident_mismatch",
                               message: "the result names incident \"\(result.incident)\" but was posted for \(idText)",
                               field: "incident")
            }
            switch await coordinator.deliver(result, via: .callback) {
            case .accepted:
                return try JSONResponse.make(Delivered(accepted: true), status: .accepted)
            case .ignored(let reason):
                throw APIError(.conflict, code: "result_ignored", message: reason, field: "name")
            case .unknownIncident:
                throw APIError(.notFound, code: "unknown_callback", message: "no open incident with that callback URL")
            case .refused(let refusal):
                throw APIError(.unprocessableContent, code: refusal.label, message: refusal.description,
                               field: "signature")
            }
        }
    }
}
