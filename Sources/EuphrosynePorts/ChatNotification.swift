import EuphrosyneCore
import Foundation

/// A message for the humans in chat.
public enum ChatNotification: Sendable, Hashable {
    /// The diagnosis of an incident.
    case analysis(incident: UUID, Analysis)
    /// The outcome of the runs one approval started.
    case actionOutcome(incident: UUID, approvalID: Int, Analysis)
    /// The Job states of an incident's runs (answer to `/api/status`).
    case jobStatus(incident: UUID?, [JobStatus])
    /// The incident's alert resolved; `cancelledRuns` names the debugging recipes stopped because of it.
    case resolved(incident: UUID, alert: String, cancelledRuns: [String])

    public var incidentID: UUID? {
        switch self {
        case .analysis(let id, _), .actionOutcome(let id, _, _): return id
        case .jobStatus(let id, _): return id
        case .resolved(let id, _, _): return id
        }
    }

    /// The chat text for a resolved incident: what resolved and what was stopped because of it.
    public static func resolvedText(alert: String, cancelledRuns: [String]) -> String {
        var text = "Resolved: \(alert). Suggested actions can no longer be approved."
        if !cancelledRuns.isEmpty {
            text += " Stopped the recipes still diagnosing: \(cancelledRuns.joined(separator: ", "))."
        }
        return text
    }

    /// The same for every send of the same notification, whichever replica sends it and however often it is tried
    /// again, and different for a different one: `<incident>:analysis:<digest>` (an analysis updated by runs for
    /// alerts that joined is a new notification), `<incident>:action-outcome:<approval>:<digest>`,
    /// `<incident>:resolved`. The digest is a 64-bit FNV-1a of the text and actions, in hex. Chats that take an
    /// `Idempotency-Key` get it, so a notification sent twice shows once. Nil for Job states, which answer a request
    /// each time.
    public var idempotencyKey: String? {
        switch self {
        case .analysis(let id, let analysis):
            return "\(id.uuidString.lowercased()):analysis:\(Self.digest(analysis))"
        case .actionOutcome(let id, let approval, let analysis):
            return "\(id.uuidString.lowercased()):action-outcome:\(approval):\(Self.digest(analysis))"
        case .resolved(let id, _, _):
            return "\(id.uuidString.lowercased()):resolved"
        case .jobStatus:
            return nil
        }
    }

    /// FNV-1a (64 bits) of what a chat shows of an analysis: stable across processes, unlike `Hasher`.
    static func digest(_ analysis: Analysis) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (analysis.text + "\u{0}" + analysis.actions.joined(separator: "\u{0}")).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public var kind: String {
        switch self {
        case .analysis: return "analysis"
        case .actionOutcome: return "action-outcome"
        case .jobStatus: return "job-status"
        case .resolved: return "resolved"
        }
    }
}
