import EuphrosyneCore
import EuphrosyneEngine
import EuphrosynePorts
import Foundation
import HTTPTypes
import Hummingbird

/// The API listener (8081, behind the Ingress under `/api/`): approvals, job status, incidents.
public enum APIRoutes {
    /// `POST /api/actions` body, as the original bot sends it.
    struct ActionsBody: Codable {
        var uuid: String
        var actions: [ActionRequestBody]
    }

    struct ActionRequestBody: Codable {
        var name: String
        var data: [String: JSONValue]?
    }

    struct Approved: Codable {
        var uuid: String
        var state: String
        var approval: Int
        var runs: [String]
        /// True when this approval repeated an earlier one (same `Idempotency-Key`, or its actions already run
        /// or succeeded): nothing new started; `approval` and `runs` are the earlier approval's.
        var duplicate: Bool
    }

    /// `POST /api/status` body; `uuid` optional.
    struct StatusBody: Codable {
        var uuid: String?
    }

    static let defaultPageSize = 50
    static let maxPageSize = 500

    static func add<Context: RequestContext>(to router: some RouterMethods<Context>, coordinator: IncidentCoordinator) {
        router.post("/api/actions") { request, _ in
            try await approve(request, coordinator: coordinator, approvedBy: APICaller.current)
        }

        router.post("/api/status") { request, _ in
            let data = try await RequestBody.collectJSON(request)
            var id: UUID?
            if !data.isEmpty {
                let body = try RequestBody.decode(StatusBody.self, from: data)
                if let text = body.uuid, !text.isEmpty {
                    try RequestLimits.checkUUID(text)
                    guard let parsed = UUID(uuidString: text) else { throw APIError.invalidIncidentID(text) }
                    id = parsed
                }
            }
            let statuses: [JobStatus]
            do throws(CoordinatorError) {
                statuses = try await coordinator.jobStatuses(incident: id)
            } catch {
                throw APIError.from(error)
            }
            return try JSONResponse.make(statuses)
        }

        router.get("/api/incidents") { request, _ in
            let limit = try queryInteger(request, "limit", default: defaultPageSize, range: 1...maxPageSize)
            let offset = try queryInteger(request, "offset", default: 0, range: 0...Int.max)
            let page: IncidentPage
            do throws(CoordinatorError) {
                page = try await coordinator.incidents(offset: offset, limit: limit)
            } catch {
                throw APIError.from(error)
            }
            let next = offset + page.incidents.count
            return try JSONResponse.make(IncidentViews.Page(
                incidents: page.incidents.map(IncidentViews.summary), total: page.total, offset: offset,
                limit: limit, nextOffset: next < page.total ? next : nil
            ))
        }

        router.get("/api/incidents/{uuid}") { _, context in
            let text = context.parameters.get("uuid") ?? ""
            guard let id = UUID(uuidString: text) else { throw APIError.invalidIncidentID(text) }
            let incident: Incident?
            do throws(CoordinatorError) {
                incident = try await coordinator.incident(id)
            } catch {
                throw APIError.from(error)
            }
            guard let incident else { throw APIError.incidentNotFound(id) }
            return try JSONResponse.make(IncidentViews.detail(incident))
        }
    }

    /// An approval as `POST /api/actions` takes it (the body `{"uuid", "actions": [{"name", "data"}]}`, an optional
    /// `Idempotency-Key`), recorded as approved by `approvedBy`. The dashboard's approvals go through it too.
    public static func approve(
        _ request: Request, coordinator: IncidentCoordinator, approvedBy: String?
    ) async throws -> Response {
        // The request's own form first (400), then its action names against the registry (422), and only
        // then the incident (404, 409…).
        let body = try await RequestBody.decode(ActionsBody.self, from: request)
        try RequestLimits.checkUUID(body.uuid)
        try RequestLimits.checkApproval(body.actions)
        for (index, action) in body.actions.enumerated() where action.name.isEmpty {
            throw APIError(.badRequest, code: "invalid_body", message: "an action name must not be empty",
                           field: "actions[\(index)].name")
        }
        guard let id = UUID(uuidString: body.uuid) else { throw APIError.invalidIncidentID(body.uuid) }
        let idempotencyKey = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.utf8.count > 255 {
            throw APIError(.badRequest, code: "invalid_header",
                           message: "Idempotency-Key must be 1 to 255 characters", field: "Idempotency-Key")
        }
        let approvalRequest = ApprovalRequest(
            actions: body.actions.map { ActionRequest(name: $0.name, data: $0.data ?? [:]) },
            approvedBy: approvedBy, idempotencyKey: idempotencyKey
        )
        // Unknown or disabled actions are refused whatever the incident (missing, closed, diagnosing); an open
        // incident still records the attempt in its audit.
        if let problem = await coordinator.actionNameProblem(body.actions.map(\.name)) {
            await coordinator.recordRefusedApproval(incident: id, approvalRequest, reason: problem.description)
            throw APIError.from(.approvalRejected(problem))
        }
        let incident: Incident
        let decision: ApprovalDecision
        do throws(CoordinatorError) {
            (incident, decision) = try await coordinator.approve(incident: id, approvalRequest)
        } catch {
            throw APIError.from(error)
        }
        let approval = decision.approval
        let runs = incident.runs.filter { approval.runIDs.contains($0.id) }.map(\.name)
        let duplicate = if case .duplicate = decision { true } else { false }
        return try JSONResponse.make(
            Approved(uuid: body.uuid.lowercased(), state: incident.state.rawValue, approval: approval.id,
                     runs: runs, duplicate: duplicate),
            // A repeat changes nothing: 200 with the earlier approval; a new one is accepted for running.
            status: duplicate ? .ok : .accepted
        )
    }

    private static func queryInteger(
        _ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>
    ) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw APIError(.badRequest, code: "invalid_query", message: "\(name) must be a whole number \(bound)",
                           field: name)
        }
        return number
    }
}
