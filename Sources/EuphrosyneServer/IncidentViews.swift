import EuphrosyneCore
import Foundation

/// What the API shows of incidents. Never includes the callback secret.
enum IncidentViews {
    struct AlertSummary: Codable {
        var source: String
        var status: String?
        var alertname: String?
        var groupKey: String?
        var summary: String
        var alertCount: Int
    }

    struct Run: Codable {
        var id: Int
        var name: String
        var recipe: String
        var kind: String
        var state: String
        var createdAt: Date
        var startedAt: Date?
        var finishedAt: Date?
        var durationSeconds: Double?
        var timeoutSeconds: Int
        var failureReason: String?
        var approval: Int?
        var result: RecipeResult?
    }

    struct ApprovalView: Codable {
        var id: Int
        var actions: [ActionRequest]
        var approvedAt: Date
        var approvedBy: String?
        var runs: [Int]
        var outcome: Analysis?
        var idempotencyKey: String?
    }

    struct Detail: Codable {
        var uuid: String
        var state: String
        var createdAt: Date
        var updatedAt: Date
        var alert: AlertSummary
        var runs: [Run]
        var analysis: Analysis?
        var suggestedActions: [String]
        var approvals: [ApprovalView]
        /// The audit: every approval attempt, accepted, repeated or refused, with who made it.
        var approvalAttempts: [ApprovalAttempt]
        var approvalDeadline: Date?
        var closedReason: String?
        /// Notifications of the group received so far (the first included), the last one's time, and when the
        /// group resolved.
        var notifications: Int
        var lastNotifiedAt: Date
        var resolvedAt: Date?
        var payload: [String: JSONValue]
    }

    struct Summary: Codable {
        var uuid: String
        var state: String
        var createdAt: Date
        var updatedAt: Date
        var alert: AlertSummary
        var runs: Int
        var suggestedActions: [String]
        var notifications: Int
    }

    struct Page: Codable {
        var incidents: [Summary]
        var total: Int
        var offset: Int
        var limit: Int
        var nextOffset: Int?
    }

    static func alert(_ incident: Incident) -> AlertSummary {
        let alert = incident.alert
        return AlertSummary(
            source: alert.source.rawValue, status: alert.status?.rawValue, alertname: alert.alertName,
            groupKey: alert.groupKey, summary: alert.summary, alertCount: alert.alerts.count
        )
    }

    static func detail(_ incident: Incident) -> Detail {
        Detail(
            uuid: incident.id.uuidString.lowercased(), state: incident.state.rawValue, createdAt: incident.createdAt,
            updatedAt: incident.updatedAt, alert: alert(incident),
            runs: incident.runs.map { run in
                Run(
                    id: run.id, name: run.name, recipe: run.recipe, kind: run.kind.rawValue, state: run.state.rawValue,
                    createdAt: run.createdAt, startedAt: run.startedAt, finishedAt: run.finishedAt,
                    durationSeconds: run.startedAt.flatMap { start in run.finishedAt.map { $0.timeIntervalSince(start) } },
                    timeoutSeconds: run.timeoutSeconds, failureReason: run.failureReason, approval: run.approvalID,
                    result: run.result
                )
            },
            analysis: incident.analysis, suggestedActions: incident.analysis?.actions ?? [],
            approvals: incident.approvals.map {
                ApprovalView(id: $0.id, actions: $0.actions, approvedAt: $0.approvedAt, approvedBy: $0.approvedBy,
                             runs: $0.runIDs, outcome: $0.outcome, idempotencyKey: $0.idempotencyKey)
            },
            approvalAttempts: incident.approvalAttempts,
            approvalDeadline: incident.approvalDeadline, closedReason: incident.closedReason,
            notifications: incident.notificationCount, lastNotifiedAt: incident.lastNotifiedAt,
            resolvedAt: incident.resolvedAt, payload: incident.payload
        )
    }

    static func summary(_ incident: Incident) -> Summary {
        Summary(
            uuid: incident.id.uuidString.lowercased(), state: incident.state.rawValue, createdAt: incident.createdAt,
            updatedAt: incident.updatedAt, alert: alert(incident), runs: incident.runs.count,
            suggestedActions: incident.analysis?.actions ?? [], notifications: incident.notificationCount
        )
    }
}
