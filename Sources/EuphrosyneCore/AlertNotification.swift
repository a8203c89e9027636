import Foundation

/// One inbound webhook body: an Alertmanager v4 notification, a Grafana notification, or any
/// other JSON object (a "generic" alert).
///
/// The webhook listener decodes every request body with `decode(_:)`; the reconciler then
/// reads `alerts` and the common labels to open, update or close incidents. Decoding is
/// deliberately lenient — once the body is a JSON object, nothing throws: fields of the wrong
/// type are dropped, and a body whose structure is unusable is kept as a generic alert.
/// `raw` always holds the object exactly as received, so recipes can see fields we ignore.
public struct AlertNotification: Sendable, Hashable {
    /// Which kind of sender the payload came from, decided from its `version` field.
    public enum Source: String, Sendable, Codable {
        case alertmanager
        case grafana
        case generic
    }

    public var source: Source
    /// The top-level `status` as sent. Payloads can mix firing and resolved alerts, so decide
    /// per alert (see `aggregateStatus`) rather than trusting this.
    public var status: AlertStatus?
    public var receiver: String?
    public var groupKey: String?
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    public var externalURL: String?
    public var alerts: [Alert]
    public var truncatedAlerts: Int
    /// Grafana's notification title, e.g. `[FIRING:1] HighMemory Platform (shop)`.
    public var title: String?
    /// Grafana's rendered notification message.
    public var message: String?
    /// The object exactly as received.
    public var raw: [String: JSONValue]

    /// Parses and classifies a request body.
    ///
    /// - Throws: `JSONInputError` only when the body is not JSON or not a JSON object.
    public static func decode(_ data: Data) throws(JSONInputError) -> AlertNotification {
        AlertNotification(raw: try JSONValue.parseObject(data))
    }

    /// Classifies and decodes an already-parsed object. Never fails: see the type's docs.
    public init(raw: [String: JSONValue]) {
        self.raw = raw
        let fields = LenientObject(raw)
        let source = Self.classify(raw)
        // Without an `alerts` array nothing typed is usable, whatever the version claims.
        guard source != .generic, let alertValues = raw["alerts"]?.arrayValue else {
            self.source = .generic
            status = nil
            receiver = nil
            groupKey = nil
            groupLabels = [:]
            commonLabels = [:]
            commonAnnotations = [:]
            externalURL = nil
            alerts = []
            truncatedAlerts = 0
            title = nil
            message = nil
            return
        }
        self.source = source
        status = fields.string("status").flatMap(AlertStatus.init(rawValue:))
        receiver = fields.string("receiver")
        groupKey = fields.string("groupKey")
        groupLabels = fields.stringMap("groupLabels")
        commonLabels = fields.stringMap("commonLabels")
        commonAnnotations = fields.stringMap("commonAnnotations")
        externalURL = fields.nonEmptyString("externalURL")
        // Elements that are not objects cannot describe an alert; skip them.
        alerts = alertValues.compactMap { $0.objectValue.map(Alert.init(json:)) }
        truncatedAlerts = max(0, fields.integer("truncatedAlerts") ?? 0)
        title = fields.string("title")
        message = fields.string("message")
    }

    /// Alertmanager sends `version: "4"`, Grafana `version: "1"`; anything else is generic.
    private static func classify(_ raw: [String: JSONValue]) -> Source {
        let version: String?
        switch raw["version"] {
        case .string(let text): version = text
        // Tolerate senders that emit the version as a number.
        case .integer(let number): version = String(number)
        default: version = nil
        }
        switch version {
        case "4": return .alertmanager
        case "1": return .grafana
        default: return .generic
        }
    }

    /// The `alertname` label from the common labels, else the group labels, else the first alert.
    public var alertName: String? {
        commonLabels["alertname"] ?? groupLabels["alertname"] ?? alerts.first?.labels["alertname"]
    }

    public var firingAlerts: [Alert] {
        alerts.filter { $0.status == .firing }
    }

    public var resolvedAlerts: [Alert] {
        alerts.filter { $0.status == .resolved }
    }

    /// The notification's status judged from its alerts: firing while any alert fires,
    /// resolved once every alert is; falls back to the top-level `status` when no alert says.
    public var aggregateStatus: AlertStatus? {
        if alerts.contains(where: { $0.status == .firing }) { return .firing }
        if !alerts.isEmpty, alerts.allSatisfy({ $0.status == .resolved }) { return .resolved }
        return status
    }

    /// One human-readable line for logs and chat, e.g.
    /// `PodCrashLooping (firing, 2 alerts): api pod restarting`, or `generic alert`.
    public var summary: String {
        guard source != .generic else { return "generic alert" }
        let firing = firingAlerts.count
        let resolved = resolvedAlerts.count
        var state: String
        if firing > 0 && resolved > 0 {
            state = "\(firing) firing, \(resolved) resolved"
        } else {
            state = aggregateStatus?.rawValue ?? "unknown status"
            if alerts.count > 1 {
                state += ", \(alerts.count) alerts"
            }
        }
        var line = "\(alertName ?? "unnamed alert") (\(state))"
        let detail = alerts.first?.annotations["summary"] ?? commonAnnotations["summary"]
        if let detail, !detail.isEmpty {
            // Keep it to one line whatever the annotation template produced.
            line += ": " + detail.split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        return line
    }
}

extension AlertNotification: Codable {
    // Only the raw object is stored: decoding re-derives everything else, so a stored
    // notification is always read back exactly as a freshly received one would be.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self.init(raw: try container.decode([String: JSONValue].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(raw)
    }
}
