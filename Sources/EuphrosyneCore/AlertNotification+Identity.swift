import Foundation

extension AlertNotification {
    /// What makes two notifications the same incident, so a re-sent one opens nothing new.
    ///
    /// - Alertmanager and Grafana: the notification group, `group:<groupKey>`. Alertmanager re-sends a group every
    ///   `repeat_interval` and whenever it changes; all of those belong to one incident.
    /// - Without a `groupKey` but with alerts: the sorted alert fingerprints, `alerts:<fp>,<fp>` (or, for alerts
    ///   without fingerprints, a hash of their label sets).
    /// - A generic JSON object: a hash of the payload itself, `payload:<hash>`, so only an identical re-post
    ///   deduplicates.
    public var identityKey: String {
        if let groupKey, !groupKey.isEmpty { return "group:\(groupKey)" }
        if !alerts.isEmpty {
            let fingerprints = alerts.compactMap(\.fingerprint).filter { !$0.isEmpty }
            if fingerprints.count == alerts.count { return "alerts:" + Set(fingerprints).sorted().joined(separator: ",") }
            let labelSets = alerts.map { $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
            return "labels:" + Self.hash(Set(labelSets).sorted().joined(separator: "\n"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let canonical = (try? encoder.encode(JSONValue.object(raw))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "payload:" + Self.hash(canonical)
    }

    /// Two independent 64-bit FNV-1a hashes as 32 hex digits: stable across processes and releases (unlike
    /// `Hasher`), and wide enough that unrelated payloads do not collide in practice.
    static func hash(_ text: String) -> String {
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in text.utf8 {
            first = (first ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            second = (second &* 0x0000_0100_0000_01b3) ^ UInt64(byte)
        }
        return String(first, radix: 16).leftPadded(to: 16) + String(second, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
