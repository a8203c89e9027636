/// Typed reads from a JSON object that answer nil (or empty) instead of failing on a wrong type.
///
/// Webhook senders are not ours to fix: a notification with one odd field must still open an
/// incident, so `Alert` and `AlertNotification` read through this and drop what does not fit.
struct LenientObject: Sendable {
    let object: [String: JSONValue]

    init(_ object: [String: JSONValue]) {
        self.object = object
    }

    func string(_ key: String) -> String? {
        object[key]?.stringValue
    }

    /// Grafana and Alertmanager send "" for unset URLs; treating it as absent spares callers
    /// from checking both.
    func nonEmptyString(_ key: String) -> String? {
        guard let value = string(key), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ key: String) -> Int? {
        object[key]?.integerValue.flatMap { Int(exactly: $0) }
    }

    /// A string→string map; entries whose value is not a string are dropped.
    func stringMap(_ key: String) -> [String: String] {
        guard let members = object[key]?.objectValue else { return [:] }
        return members.compactMapValues(\.stringValue)
    }

    /// A string→number map; nil when absent, null or not an object, non-numbers dropped.
    func numberMap(_ key: String) -> [String: Double]? {
        guard let members = object[key]?.objectValue else { return nil }
        return members.compactMapValues(\.doubleValue)
    }
}
