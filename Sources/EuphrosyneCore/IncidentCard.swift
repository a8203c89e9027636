import Foundation

/// What a chat message that follows an incident shows, as one value derived from the incident: its stage, its
/// alerts, its runs, its analysis, the actions that can still be approved and what approvals became.
///
/// The coordinator derives it after every change it saves and sends it (`ChatNotification.incident`) whenever it
/// differs from the one last sent; Slack and Webex render it as the one message they edit in place, and routes
/// (`ChatRoutes`) choose where that message goes from its labels and recipes. Pure, so it is tested as a value.
public struct IncidentCard: Sendable, Hashable, Codable {
    /// The incident's life as a person reads it (`received` shows as diagnosing).
    public enum Stage: String, Sendable, Hashable, Codable, CaseIterable {
        case diagnosing, analysed, acting, done, resolved, failed, expired

        public init(_ state: Incident.State) {
            switch state {
            case .received, .diagnosing: self = .diagnosing
            case .analysed: self = .analysed
            case .acting: self = .acting
            case .done: self = .done
            case .resolved: self = .resolved
            case .failed: self = .failed
            case .expired: self = .expired
            }
        }

        /// Whether the incident has closed: its message no longer offers actions.
        public var isClosed: Bool { self == .resolved || self == .failed || self == .expired }
    }

    /// One recipe run as the message lists it.
    public struct Run: Sendable, Hashable, Codable {
        public var recipe: String
        public var kind: RecipeKind
        public var state: RecipeRun.State
    }

    /// One approval and what became of it.
    public struct ApprovalLine: Sendable, Hashable, Codable {
        public enum Result: String, Sendable, Hashable, Codable { case running, succeeded, failed }
        public var id: Int
        public var actions: [String]
        public var approvedBy: String?
        public var result: Result
    }

    public var incident: UUID
    public var stage: Stage
    /// One line for the group: `AlertNotification.summary`.
    public var alert: String
    /// How many alerts of the group fire now, and one line for each of the first `maxAlertLines`.
    public var firingAlerts: Int
    public var alertLines: [String]
    public var runs: [Run]
    /// The diagnosis, once every debugging run has finished.
    public var analysis: Analysis?
    /// The suggested actions a person can still approve from chat: none while diagnosing and once closed.
    public var approvable: [String]
    public var approvals: [ApprovalLine]
    /// Why a failed or expired incident closed.
    public var closedReason: String?
    /// The label sets routes match (`ChatRoutes`): each firing alert's labels over the common labels, or the
    /// common and group labels when no alert fires. Not shown.
    public var labelSets: [[String: String]]

    /// Alerts listed one per line; the rest are counted.
    public static let maxAlertLines = 10
    /// Label sets kept for routing.
    public static let maxLabelSets = 50

    public init(_ incident: Incident) {
        let notification = incident.alert
        self.incident = incident.id
        stage = Stage(incident.state)
        alert = notification.summary
        let firing = notification.firingAlerts
        firingAlerts = firing.count
        alertLines = firing.prefix(Self.maxAlertLines).map(Self.line)
        // A run waiting for its start shows as running: a run starting is not worth an edit of every chat message.
        runs = incident.runs.map { Run(recipe: $0.recipe, kind: $0.kind, state: $0.state == .pending ? .running : $0.state) }
        analysis = incident.analysis
        approvable = incident.approvableActions
        approvals = incident.approvals.map { approval in
            let result: ApprovalLine.Result = approval.outcome.map { $0.shortfalls.isEmpty ? .succeeded : .failed } ?? .running
            return ApprovalLine(id: approval.id, actions: approval.actions.map(\.name), approvedBy: approval.approvedBy,
                                result: result)
        }
        closedReason = incident.closedReason
        let common = notification.commonLabels
        let sets = firing.prefix(Self.maxLabelSets).map { common.merging($0.labels) { $1 } }
        labelSets = sets.isEmpty ? [notification.groupLabels.merging(common) { $1 }] : sets
    }

    /// The recipes that diagnosed the incident (routes can name them).
    public var debuggingRecipes: [String] {
        runs.filter { $0.kind == .debugging }.map(\.recipe)
    }

    /// A name for what this card shows, the same in every process: the incident records the one last delivered
    /// (`Incident.chatCard`), so a leader taking over sends a card only when the chats do not show it yet.
    /// FNV-1a: a collision (which alert text could be made to cause) only skips one edit.
    public var key: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        let encoded = (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "\(self)"
        let hex = String(FNV1a.hash64(encoded), radix: 16)
        return "\(stage.rawValue):" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// `alertname` then the other labels, sorted, as `name=value`, cut to 200 characters.
    static func line(_ alert: Alert) -> String {
        let name = alert.labels["alertname"] ?? "alert"
        let others = alert.labels.filter { $0.key != "alertname" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let text = ([name] + others).joined(separator: " ")
        return text.count > 200 ? String(text.prefix(199)) + "…" : text
    }
}
