import Foundation

/// One approval as asked for: the actions, who asked (as the API or the Webex bot authenticated them) and the
/// caller's `Idempotency-Key`, if any. The state machine judges it with an `ApprovalPolicy`.
public struct ApprovalRequest: Sendable, Hashable {
    public var actions: [ActionRequest]
    /// `token:<name>`, `hmac:<key id>`, `webex:<person email>`, or nil when the API is open.
    public var approvedBy: String?
    public var idempotencyKey: String?

    public init(actions: [ActionRequest], approvedBy: String? = nil, idempotencyKey: String? = nil) {
        self.actions = actions
        self.approvedBy = approvedBy
        self.idempotencyKey = idempotencyKey
    }
}

/// The rules an approval must pass beyond "registered and enabled". Set once by `serve` flags.
public struct ApprovalPolicy: Sendable, Hashable {
    /// Any registered, enabled action may be approved, not only those the analysis suggested
    /// (`--approve-any-action`).
    public var allowsUnsuggestedActions: Bool
    /// A resolved incident still takes approvals (`--approve-resolved`).
    public var allowsResolvedIncidents: Bool

    public init(allowsUnsuggestedActions: Bool = false, allowsResolvedIncidents: Bool = false) {
        self.allowsUnsuggestedActions = allowsUnsuggestedActions
        self.allowsResolvedIncidents = allowsResolvedIncidents
    }
}

/// What an accepted approval led to.
public enum ApprovalDecision: Sendable, Hashable {
    /// A new approval, and the runs to launch for it.
    case started(Approval, [IncidentAction])
    /// Nothing new to run: the same approval (same `Idempotency-Key`, or actions that already run or succeeded)
    /// was accepted before; this is that earlier approval.
    case duplicate(Approval)

    public var approval: Approval {
        switch self {
        case .started(let approval, _), .duplicate(let approval): approval
        }
    }
}

/// One line of an incident's approval audit: every attempt, accepted or not, with who made it.
public struct ApprovalAttempt: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// A new approval started runs.
        case approved
        /// Answered with an earlier approval; nothing new ran.
        case duplicate
        /// Refused by the policy, the registry, the incident's state, or the approver allow-list.
        case refused
    }

    public var at: Date
    public var by: String?
    public var actions: [String]
    public var idempotencyKey: String?
    public var outcome: Outcome
    /// The approval it started or repeated.
    public var approvalID: Int?
    /// Why it was refused.
    public var reason: String?

    /// Keeps what the attempt names within bounds (an attempt is recorded even when refused, so its text is
    /// whatever a caller sent): at most 20 action names of at most 63 characters (a recipe name's limit), and
    /// `by`, the key and the reason cut to 256, 255 and 1,024 bytes.
    public init(at: Date, by: String?, actions: [String], idempotencyKey: String?, outcome: Outcome,
                approvalID: Int? = nil, reason: String? = nil) {
        self.at = at
        self.by = by.map { RecipeResult.cut($0, to: 256) }
        self.actions = actions.prefix(20).map { RecipeResult.cut($0, to: 63) }
        self.idempotencyKey = idempotencyKey.map { RecipeResult.cut($0, to: 255) }
        self.outcome = outcome
        self.approvalID = approvalID
        self.reason = reason.map { RecipeResult.cut($0, to: 1_024) }
    }
}
