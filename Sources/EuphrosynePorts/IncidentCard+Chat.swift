import EuphrosyneCore

// How the chats that follow incidents (Slack, Webex) word an incident card: the same state line, colour and lines
// in both, each chat escaping what came from outside its own way.

extension IncidentCard.Stage {
    /// The stage's name at the head of the message.
    public var title: String {
        switch self {
        case .diagnosing: "Diagnosing"
        case .analysed: "Analysed"
        case .acting: "Acting"
        case .done: "Done"
        case .resolved: "Resolved"
        case .failed: "Failed"
        case .expired: "Expired"
        }
    }
}

extension IncidentCard {
    /// The message's colour, as a hex RGB: yellow while diagnosing, orange while it waits for a person, blue while
    /// actions run, green once done (red when an action failed) or resolved, red when it failed, grey expired.
    public var colour: String {
        switch stage {
        case .diagnosing: "#ECB22E"
        case .analysed: approvable.isEmpty ? "#ECB22E" : "#E8912D"
        case .acting: "#1D9BD1"
        case .done: approvals.contains { $0.result == .failed } ? "#E01E5A" : "#2EB67D"
        case .resolved: "#2EB67D"
        case .failed: "#E01E5A"
        case .expired: "#9E9EA6"
        }
    }

    /// A coloured mark for chats without colours (Webex), matching `colour`.
    public var colourMark: String {
        switch colour {
        case "#ECB22E": "🟡"
        case "#E8912D": "🟠"
        case "#1D9BD1": "🔵"
        case "#2EB67D": "🟢"
        case "#E01E5A": "🔴"
        default: "⚪"
        }
    }

    /// What the stage means for the reader: written by the reconciler, safe as markup.
    public var stateDetail: String {
        switch stage {
        case .diagnosing:
            let running = runs.filter { $0.kind == .debugging && !$0.state.isFinished }.count
            return running == 1 ? "1 recipe is looking into it" : "\(running) recipes are looking into it"
        case .analysed:
            return approvable.isEmpty ? "nothing to approve" : "waiting for someone to approve an action"
        case .acting: return "approved actions are running"
        case .done:
            return approvals.contains { $0.result == .failed } ? "an approved action failed" : "the approved actions finished"
        case .resolved: return "the alert resolved; actions can no longer be approved here"
        case .failed: return "no recipe could diagnose it"
        case .expired: return "nobody approved an action in time"
        }
    }

    /// `Recipes: a (reported), b (running)`: recipe names come from the catalog, so the caller escapes them.
    public var runsLine: String? {
        guard !runs.isEmpty else { return nil }
        return "Recipes: " + runs.map { "\($0.recipe) (\($0.state.rawValue))" }.joined(separator: ", ")
    }

    /// One line per approval: `Approval 1: restart-pod by slack:alice@example.com — succeeded`. The approver and
    /// action names came from outside: the caller escapes them.
    public var approvalLines: [String] {
        approvals.map { approval in
            "Approval \(approval.id): \(approval.actions.joined(separator: ", "))"
                + (approval.approvedBy.map { " by \($0)" } ?? "") + " — \(approval.result.rawValue)"
        }
    }

    /// The firing alerts, one per line, and how many more there are; nil for a group of one. From outside.
    public var alertsText: String? {
        guard firingAlerts > 1 else { return nil }
        var text = "\(firingAlerts) alerts firing:\n" + alertLines.joined(separator: "\n")
        if firingAlerts > alertLines.count { text += "\n…and \(firingAlerts - alertLines.count) more" }
        return text
    }
}
