import Foundation

/// One run of one recipe for one incident: a local process or a Kubernetes Job.
///
/// The incident state machine creates runs and moves them through their states; the API shows them and the
/// status endpoint maps them to the Job states of the bot protocol.
public struct RecipeRun: Sendable, Hashable, Codable, Identifiable {
    /// Where a run is in its life. Only `pending` and `running` are unfinished.
    public enum State: String, Sendable, Hashable, Codable {
        /// Created, not yet confirmed started by the launcher.
        case pending
        case running
        /// The recipe reported a result (whatever status the result carries).
        case reported
        /// The run ended without a result: it could not start, crashed, or exited without reporting.
        case failed
        /// The run was stopped at its timeout.
        case timedOut
        /// The run was stopped because the incident no longer needed it.
        case cancelled

        public var isFinished: Bool { self != .pending && self != .running }
    }

    /// An action run that is underway, or reported success: approving its action again must not run it again.
    /// A run that failed, timed out, was cancelled or reported failure may be retried by a new approval.
    public var blocksReapproval: Bool {
        switch state {
        case .pending, .running: true
        case .reported: result?.status == .successful
        case .failed, .timedOut, .cancelled: false
        }
    }

    /// An action run its approver asked to be a dry run: it changes nothing, so it neither blocks nor stands in for
    /// the real run of the same action.
    public var isDryRun: Bool { kind == .action && ActionRequest.isDryRun(actionData) }

    /// Numbered from 1 within the incident, in order of creation.
    public var id: Int
    public var recipe: String
    public var kind: RecipeKind
    public var description: String
    /// A Job-style name, `<recipe>-<5 characters>`, unique within the incident and stable across restarts.
    public var name: String
    public var state: State
    public var timeoutSeconds: Int
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var result: RecipeResult?
    /// Why the run failed, timed out or was cancelled, in words for a human.
    public var failureReason: String?
    /// For action runs: the approval that started it and the data the approver gave.
    public var approvalID: Int?
    public var actionData: [String: JSONValue]?
    /// For a debugging run started because alerts joined the group later: the identity keys of those alerts, so
    /// its data file holds only them. Nil for runs about the whole notification.
    public var alertKeys: [String]?

    public init(
        id: Int, recipe: String, kind: RecipeKind, description: String, name: String, timeoutSeconds: Int,
        createdAt: Date, approvalID: Int? = nil, actionData: [String: JSONValue]? = nil, alertKeys: [String]? = nil
    ) {
        self.alertKeys = alertKeys
        self.id = id
        self.recipe = recipe
        self.kind = kind
        self.description = description
        self.name = name
        self.state = .pending
        self.timeoutSeconds = timeoutSeconds
        self.createdAt = createdAt
        self.approvalID = approvalID
        self.actionData = actionData
    }

    /// Whether the run ended with a result whose status is `successful`.
    public var succeeded: Bool { state == .reported && result?.status == .successful }
}

extension RecipeRun {
    /// A Job-style name for run `index` of `incident`: Kubernetes' generateName suffix alphabet (no vowels, no
    /// look-alike characters), derived from the incident and index so it is deterministic.
    static func jobStyleName(recipe: String, incident: UUID, index: Int) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var hash = FNV1a.hash64("\(incident.uuidString)/\(index)")
        var suffix = ""
        for _ in 0..<5 {
            suffix.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
        }
        return "\(recipe)-\(suffix)"
    }
}
