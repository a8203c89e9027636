import Crypto
import EuphrosyneSupport
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

    /// SHA-256 as 64 hex digits: stable across processes and releases (unlike `Hasher`), and infeasible to
    /// collide on purpose, so nobody can craft a notification that lands in another group's incident.
    static func hash(_ text: String) -> String {
        Hex.lowercase(SHA256.hash(data: Array(text.utf8)))
    }
}

extension Alert {
    /// What identifies this alert within its group: Alertmanager's fingerprint, else a hash of the label set
    /// (Grafana and hand-written payloads may carry no fingerprint). Same labels, same key.
    public var identityKey: String {
        // A fingerprint is 16 hex digits from Alertmanager; a longer one (any sender can send any) is hashed, so
        // what an incident remembers per alert stays small.
        if let fingerprint, !fingerprint.isEmpty {
            return fingerprint.utf8.count <= 64 ? fingerprint : "fingerprint:" + AlertNotification.hash(fingerprint)
        }
        let labelSet = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "labels:" + AlertNotification.hash(labelSet)
    }
}

extension AlertNotification {
    /// The identity keys of the alerts still firing, the ones that count as "seen" for the incident.
    public var firingAlertKeys: [String] { firingAlerts.map(\.identityKey) }

    /// The notification as received, with its `alerts` array cut down to the alerts whose identity key is in
    /// `keys`: the data file of a recipe that runs for alerts which joined the group later.
    public func payload(restrictedTo keys: Set<String>) -> [String: JSONValue] {
        guard let values = raw["alerts"]?.arrayValue else { return raw }
        var payload = raw
        payload["alerts"] = .array(values.filter { value in
            guard let object = value.objectValue else { return false }
            return keys.contains(Alert(json: object).identityKey)
        })
        return payload
    }
}

extension Incident {
    /// A fixed-length digest of a notification identity, for store keys (a group key can be long and hold any
    /// character).
    public static func identityDigest(_ identity: String) -> String { AlertNotification.hash(identity) }
}
