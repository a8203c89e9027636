import Foundation

/// Something that happened to an incident. The coordinator turns webhooks, launcher reports, results, approvals
/// and timers into events and feeds them to `Incident.handle(_:)`.
public enum IncidentEvent: Sendable, Hashable {
    /// Start the diagnosis with these debugging recipes; a recipe without its own timeout gets `defaultTimeout`.
    case open(recipes: [Recipe], defaultTimeoutSeconds: Int, at: Date)
    /// The launcher started run `runID` (the process is up, the Job is created).
    case runStarted(runID: Int, at: Date)
    /// Run `runID` ended as the launcher saw it.
    case runEnded(runID: Int, exit: RunExit, at: Date)
    /// A recipe reported its result.
    case resultReceived(RecipeResult, at: Date)
    /// The approval window of an analysed or done incident has passed.
    case approvalWindowPassed(at: Date)
    /// The same notification group arrived again, still firing (a repeat, or a changed group): refresh the alert
    /// data. Alerts firing for the first time in this incident start a run of each of `recipesForNewAlerts` that is
    /// an enabled debugging recipe with `runForNewAlerts` and whose matchers fit them; nothing else starts.
    ///
    /// The notification comes decoded: the intake decodes it once, and the incident does not again.
    case notifiedAgain(
        AlertNotification, recipesForNewAlerts: [Recipe] = [], defaultTimeoutSeconds: Int = 300, at: Date)
    /// The group's notification says every alert resolved: stop the diagnosis and close the incident.
    case resolved(AlertNotification, at: Date)

    /// `notifiedAgain` for a raw notification payload.
    public static func notifiedAgain(
        payload: [String: JSONValue], recipesForNewAlerts: [Recipe] = [], defaultTimeoutSeconds: Int = 300, at now: Date
    ) -> IncidentEvent {
        .notifiedAgain(AlertNotification(raw: payload), recipesForNewAlerts: recipesForNewAlerts,
                       defaultTimeoutSeconds: defaultTimeoutSeconds, at: now)
    }

    /// `resolved` for a raw notification payload.
    public static func resolved(payload: [String: JSONValue], at now: Date) -> IncidentEvent {
        .resolved(AlertNotification(raw: payload), at: now)
    }
}

/// How the launcher saw a run end. A process that reported a result may still end in any of these ways.
public enum RunExit: Sendable, Hashable, Codable {
    /// The process or Job ended by itself; `status` is the exit status (or a signal number, negated).
    case exited(status: Int32, stderrTail: String)
    /// It never started (no such executable, the API refused the Job…).
    case launchFailed(reason: String)
    /// The launcher stopped it at its timeout.
    case timedOut
    /// The launcher stopped it on request (shutdown, incident closed).
    case cancelled(reason: String)
}

/// What the coordinator must do after an event: the state machine's output.
public enum IncidentAction: Sendable, Hashable {
    /// Start this run of this recipe.
    case launch(runID: Int, recipe: Recipe)
    /// Stop this run (the incident no longer needs it); the state machine has already marked it cancelled.
    case cancelRun(runID: Int)
    /// Tell the notifier the alert resolved, naming the runs that were cancelled.
    case notifyResolved(cancelledRuns: [String])
    /// The incident no longer stands for its notification group: the group's next notification opens a new one.
    case endDeduplication
    /// Send the diagnosis to the notifier.
    case notifyAnalysis(Analysis)
    /// Send the outcome of one approval's runs to the notifier.
    case notifyActionOutcome(approvalID: Int, Analysis)
    /// Fire `.approvalWindowPassed` at this time unless the incident moved on.
    case scheduleApprovalDeadline(Date)
    /// The incident is closed and nothing of it runs any more: release whatever was held for it (subscriptions,
    /// callback routes, its notification group).
    case release
}

/// The state machine's answer to an event.
public enum EventOutcome: Sendable, Hashable {
    /// The event changed the incident; carry out these actions in order.
    case applied([IncidentAction])
    /// The event was not applicable (a duplicate or late result, a stale timer…); nothing changed. The text says why.
    case ignored(String)
}

/// Why an approval was refused. The API maps each to an HTTP status.
public enum ApprovalRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The approval named no action.
    case noActions
    /// The action is not in the registry.
    case unknownAction(String)
    /// The action is registered but disabled.
    case disabledAction(String)
    /// Debugging recipes are still running: there is nothing to approve yet.
    case stillDiagnosing
    /// The incident is closed.
    case closed(Incident.State, reason: String?)
    /// The analysis did not suggest this action (and the policy allows only suggested ones).
    case notSuggested(String, suggested: [String])
    /// The `Idempotency-Key` was used before for an approval of other actions.
    case idempotencyKeyReused(String, approvalID: Int)
    /// The approver is not allowed to approve (e.g. not on the Webex allow-list).
    case approverNotAllowed(String)
    /// The incident already has `Incident.maxRuns` runs; more would make it grow without bound.
    case runLimitReached(Int)
    /// The actions' data together is larger than `Incident.maxApprovalDataBytes` as JSON.
    case dataTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .noActions: return "the approval names no action"
        case .unknownAction(let name): return "action \"\(name)\" is not a registered action recipe"
        case .disabledAction(let name): return "action recipe \"\(name)\" is disabled"
        case .stillDiagnosing: return "the incident is still being diagnosed; approve once its analysis is out"
        case .closed(let state, let reason):
            return "the incident is \(state.rawValue)" + (reason.map { ": \($0)" } ?? "")
        case .notSuggested(let name, let suggested):
            let list = suggested.isEmpty ? "none" : suggested.map { "\"\($0)\"" }.joined(separator: ", ")
            return "action \"\(name)\" was not suggested by the incident's analysis (suggested: \(list))"
        case .idempotencyKeyReused(let key, let approvalID):
            return "Idempotency-Key \"\(key)\" was used for approval \(approvalID) of other actions"
        case .approverNotAllowed(let who):
            return "\(who) is not allowed to approve actions"
        case .dataTooLarge(let limit):
            return "the approval's data is larger than \(limit / 1024) KiB as JSON"
        case .runLimitReached(let limit):
            return "the incident has reached its limit of \(limit) recipe runs; open a new incident to act further"
        }
    }
}
