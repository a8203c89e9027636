import Foundation

/// The stable name of one notification about an incident: the same for every send of it, whichever replica sends
/// it and however often it is tried again, and different for a different one. Chats get it as `Idempotency-Key`;
/// the incident records the ones delivered (`Incident.sentNotifications`), so a new leader sends what is missing.
public enum NotificationKey {
    /// `<incident>:analysis:<digest>`: an analysis updated by runs for alerts that joined is a new notification.
    public static func analysis(_ incident: UUID, _ analysis: Analysis) -> String {
        "\(incident.uuidString.lowercased()):analysis:\(digest(analysis))"
    }

    /// `<incident>:action-outcome:<approval>:<digest>`.
    public static func actionOutcome(_ incident: UUID, approval: Int, _ analysis: Analysis) -> String {
        "\(incident.uuidString.lowercased()):action-outcome:\(approval):\(digest(analysis))"
    }

    /// `<incident>:resolved`.
    public static func resolved(_ incident: UUID) -> String {
        "\(incident.uuidString.lowercased()):resolved"
    }

    /// FNV-1a (64 bits, hex) of what a chat shows of an analysis: its text and actions. Stable across processes,
    /// unlike `Hasher`.
    static func digest(_ analysis: Analysis) -> String {
        let hash = FNV1a.hash64(analysis.text + "\u{0}" + analysis.actions.joined(separator: "\u{0}"))
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
