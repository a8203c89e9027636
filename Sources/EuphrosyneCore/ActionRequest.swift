import Foundation

/// One action a human approved, with the data they gave for it (e.g. the Jira summary).
///
/// Arrives in the body of `POST /api/actions`; the state machine turns each into an action run.
public struct ActionRequest: Sendable, Hashable, Codable {
    public var name: String
    public var data: [String: JSONValue]

    public init(name: String, data: [String: JSONValue] = [:]) {
        self.name = name
        self.data = data
    }

    /// The approver asked for a dry run (`dryRun: true`, or the string `"true"` a chat field sends): the action
    /// reports what it would change and changes nothing.
    public var isDryRun: Bool { Self.isDryRun(data) }

    /// Whether approval data asks for a dry run.
    public static func isDryRun(_ data: [String: JSONValue]?) -> Bool { flag("dryRun", in: data) }

    /// A yes/no choice of the approver: `true`, or the strings `true`, `yes`, `1` (chat fields send strings).
    public static func flag(_ key: String, in data: [String: JSONValue]?) -> Bool {
        switch data?[key] {
        case .bool(let value): value
        case .string(let text): ["true", "yes", "1"].contains(text.lowercased().trimmingCharacters(in: .whitespaces))
        default: false
        }
    }
}

extension ApprovalRequest {
    /// The size of every action's `data` as JSON, for `Incident.maxApprovalDataBytes`.
    public var encodedDataSize: Int {
        let encoder = JSONEncoder()
        return actions.reduce(0) { total, action in
            action.data.isEmpty ? total : total + ((try? encoder.encode(action.data))?.count ?? Int.max / 2)
        }
    }
}

/// A recorded approval: what was approved, when, and by whom (when the caller is known).
public struct Approval: Sendable, Hashable, Codable, Identifiable {
    /// Numbered from 1 within the incident.
    public var id: Int
    public var actions: [ActionRequest]
    public var approvedAt: Date
    public var approvedBy: String?
    /// The runs this approval started.
    public var runIDs: [Int]
    /// Set once every run of this approval has finished.
    public var outcome: Analysis?
    /// The caller's `Idempotency-Key`: the same key again is answered with this approval.
    public var idempotencyKey: String?

    public init(id: Int, actions: [ActionRequest], approvedAt: Date, approvedBy: String?, runIDs: [Int],
                outcome: Analysis?, idempotencyKey: String? = nil) {
        self.id = id
        self.actions = actions
        self.approvedAt = approvedAt
        self.approvedBy = approvedBy
        self.runIDs = runIDs
        self.outcome = outcome
        self.idempotencyKey = idempotencyKey
    }
}

