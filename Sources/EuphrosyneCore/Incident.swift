import Foundation

/// Chat name → the id of the message an incident's conversation hangs from in that chat (and what else a chat keeps
/// about its messages, under keys of its own).
public typealias ChatThreads = [String: String]

extension Dictionary where Key == String, Value == String {
    /// These threads with what a chat send changed (`Notifier.send(_:threads:)`): each key replaces the kept one, an
    /// empty value removes it.
    public func applying(_ changes: ChatThreads) -> ChatThreads {
        var threads = self
        for (key, value) in changes { threads[key] = value.isEmpty ? nil : value }
        return threads
    }
}

/// One incident: an alert notification, the recipe runs it caused, what they found, and what humans approved.
///
/// A plain value. The coordinator keeps the live ones, feeds them events through `handle(_:)` (the state machine in
/// `Incident+StateMachine.swift`) and saves every new version in the incident store; the API renders it.
public struct Incident: Sendable, Hashable, Codable, Identifiable {
    /// The incident's life. See `Incident+StateMachine.swift` for the transitions.
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Opened; no recipe started yet.
        case received
        /// Debugging recipes are running.
        case diagnosing
        /// Every debugging run finished and the analysis was sent; waiting for a human to approve actions.
        case analysed
        /// Approved action recipes are running.
        case acting
        /// Every approved action finished. Further approvals are still accepted.
        case done
        /// Closed: no debugging recipe could run or none reported a result.
        case failed
        /// Closed: the approval window passed.
        case expired
        /// The alert group resolved: debugging runs still going were cancelled, approvals are refused (unless the
        /// reconciler allows approving resolved incidents) and the next firing of the group opens a new incident.
        case resolved

        /// Closed incidents accept no more events that start work (a resolved one may still take an approval when
        /// the reconciler is configured to allow it).
        public var isClosed: Bool { self == .failed || self == .expired || self == .resolved }
    }

    public var id: UUID
    public var state: State
    /// Bumped by the coordinator on every saved change, so stores can refuse to overwrite a newer version.
    public var revision: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// The alert notification exactly as it last arrived.
    public var payload: [String: JSONValue]
    /// What makes a later notification part of this incident (`AlertNotification.identityKey`).
    public var identity: String
    /// How many notifications this incident has received, the first included, and when the last one came.
    public var notificationCount: Int
    public var lastNotifiedAt: Date
    /// Identity keys (`Alert.identityKey`) of the alerts that fired in this incident's notifications, so an alert
    /// joining the group later is recognised as new: the newest `maxKnownAlerts`; older ones are only counted in
    /// `forgottenAlertCount`.
    public var knownAlerts: [String]
    /// How many alert keys were dropped from `knownAlerts` to keep it within `maxKnownAlerts`.
    public var forgottenAlertCount: Int {
        get { forgottenAlerts ?? 0 }
        set { forgottenAlerts = newValue == 0 ? nil : newValue }
    }
    /// Stored optional so incidents saved before the cap existed still decode.
    private var forgottenAlerts: Int?
    /// When the group's resolved notification arrived.
    public var resolvedAt: Date?
    public var runs: [RecipeRun]
    public var approvals: [Approval]
    /// Every approval attempt, accepted or refused, oldest first; the newest `maxApprovalAttempts` are kept.
    public var approvalAttempts: [ApprovalAttempt] {
        get { approvalAudit ?? [] }
        set { approvalAudit = newValue.count > Self.maxApprovalAttempts ? Array(newValue.suffix(Self.maxApprovalAttempts)) : newValue }
    }
    /// Stored optional so incidents saved before the audit existed still decode.
    private var approvalAudit: [ApprovalAttempt]?
    public static let maxApprovalAttempts = 200

    // Bounds on what senders can make an incident grow to: with the request limits and `RecipeResult.bounded()`
    // they keep a stored incident under `maxStoredBytes` (docs/incidents.md, "Bounds of one incident"; a test builds the largest
    // incident these allow).

    /// Alert keys remembered per incident (a group whose alerts keep changing would otherwise grow it forever).
    public static let maxKnownAlerts = 2_000
    /// Runs per incident, debugging and action runs together: runs for alerts that joined later are not started
    /// past it, and an approval that would pass it is refused.
    public static let maxRuns = 32
    /// The data one approval may carry for its actions, all together, as JSON (the approver's inputs go to the
    /// recipes, the audit and chat; nothing an approver types needs more).
    public static let maxApprovalDataBytes = 16 << 10
    /// The most a stored incident (its JSON) can take, given the bounds above and the request limits.
    public static let maxStoredBytes = 8 << 20
    /// The aggregated result of the diagnosis, once every debugging run has finished.
    public var analysis: Analysis?
    /// Why the incident closed as failed or expired.
    public var closedReason: String?
    /// Authenticates results posted back for this incident over the HTTP callback. Never shown by the API.
    public var callbackSecret: String
    /// The message each chat's conversation about this incident hangs from ("webex": its message id), so replies
    /// land in the thread after a restart.
    public var chatThreads: ChatThreads {
        get { chatThreadRoots ?? [:] }
        set { chatThreadRoots = newValue.isEmpty ? nil : newValue }
    }
    /// Stored optional so incidents saved before threads were kept still decode.
    private var chatThreadRoots: ChatThreads?
    /// The notifications delivered to every chat (`NotificationKey`s), the newest `maxSentNotifications`, so a new
    /// leader sends what its predecessor had not; nil for an incident saved before they were recorded (its
    /// notifications count as sent).
    public var sentNotifications: [String]?
    public static let maxSentNotifications = 64
    /// The `IncidentCard.key` of the card every chat that follows incidents last showed (nil: none yet), so a leader
    /// taking over edits the messages only when they are behind.
    public var chatCard: String?
    /// How long an analysed or done incident waits for an approval before it expires.
    public var approvalWindowSeconds: Int
    /// When the incident expires unless it is approved (or acting) by then.
    public var approvalDeadline: Date?

    public init(
        id: UUID, payload: [String: JSONValue], callbackSecret: String, approvalWindowSeconds: Int = 86_400,
        identity: String? = nil, notification: AlertNotification? = nil, at now: Date
    ) {
        // Decoded once (or taken as the intake decoded it).
        let notification = notification ?? AlertNotification(raw: payload)
        self.id = id
        self.approvalWindowSeconds = approvalWindowSeconds
        self.state = .received
        self.revision = 0
        self.createdAt = now
        self.updatedAt = now
        self.payload = payload
        self.identity = identity ?? notification.identityKey
        self.notificationCount = 1
        self.lastNotifiedAt = now
        let keys = notification.firingAlertKeys
        self.knownAlerts = Array(keys.suffix(Self.maxKnownAlerts))
        self.forgottenAlerts = keys.count > Self.maxKnownAlerts ? keys.count - Self.maxKnownAlerts : nil
        self.runs = []
        self.approvals = []
        self.callbackSecret = callbackSecret
        self.sentNotifications = []
    }

    /// The decoded alert notification.
    public var alert: AlertNotification { AlertNotification(raw: payload) }

    public func run(_ id: Int) -> RecipeRun? { runs.first { $0.id == id } }

    /// Whether the notification `key` was delivered (or the incident predates the record, and it counts as such).
    public func hasSent(_ key: String) -> Bool {
        sentNotifications.map { $0.contains(key) } ?? true
    }

    /// Keeps what a chat send changed (`Notifier.send(_:threads:)`): each key replaces the kept one, an empty value
    /// removes it.
    public mutating func keepChatThreads(_ changes: ChatThreads) {
        chatThreads = chatThreads.applying(changes)
    }

    /// The suggested actions a person can approve from chat or the dashboard now: none while diagnosing and once
    /// closed (the API may still take an approval for a resolved incident when the policy allows it).
    public var approvableActions: [String] {
        switch state {
        case .analysed, .acting, .done: analysis?.actions ?? []
        case .received, .diagnosing, .resolved, .failed, .expired: []
        }
    }

    /// Records that the notification `key` was delivered.
    public mutating func recordSent(_ key: String) {
        var sent = sentNotifications ?? []
        guard !sent.contains(key) else { return }
        sent.append(key)
        sentNotifications = Array(sent.suffix(Self.maxSentNotifications))
    }

    /// Runs that have not finished, of either kind.
    public var unfinishedRuns: [RecipeRun] { runs.filter { !$0.state.isFinished } }
}
