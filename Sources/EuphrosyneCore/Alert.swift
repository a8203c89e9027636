import Foundation

/// One alert inside an Alertmanager or Grafana webhook notification.
///
/// Built by `AlertNotification` from the `alerts` array; the reconciler keys incidents on
/// `fingerprint` and labels, and recipes receive labels and annotations as their input.
/// Every field is optional or defaulted because the decoder is lenient: a field of the wrong
/// type is dropped rather than failing the whole notification.
public struct Alert: Sendable, Hashable, Codable {
    public var status: AlertStatus?
    public var labels: [String: String]
    public var annotations: [String: String]
    /// When the alert started firing; nil when absent or unparseable.
    public var startsAt: Date?
    /// When the alert ended; nil for firing alerts, which carry Go's zero time.
    public var endsAt: Date?
    /// Link back to the rule in its source; nil when absent (Alertmanager sends "" then too).
    public var generatorURL: String?
    /// Alertmanager's 16-hex-digit identity of the label set.
    public var fingerprint: String?
    // Grafana-only extras.
    public var silenceURL: String?
    public var dashboardURL: String?
    public var panelURL: String?
    public var valueString: String?
    public var imageURL: String?
    /// Grafana's evaluated query results, refID → value; nil when absent or null.
    public var values: [String: Double]?

    public init(
        status: AlertStatus? = nil,
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        startsAt: Date? = nil,
        endsAt: Date? = nil,
        generatorURL: String? = nil,
        fingerprint: String? = nil,
        silenceURL: String? = nil,
        dashboardURL: String? = nil,
        panelURL: String? = nil,
        valueString: String? = nil,
        imageURL: String? = nil,
        values: [String: Double]? = nil
    ) {
        self.status = status
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.fingerprint = fingerprint
        self.silenceURL = silenceURL
        self.dashboardURL = dashboardURL
        self.panelURL = panelURL
        self.valueString = valueString
        self.imageURL = imageURL
        self.values = values
    }

    /// Decodes one element of a webhook's `alerts` array, dropping fields of the wrong type.
    public init(json object: [String: JSONValue]) {
        let lenient = LenientObject(object)
        self.init(
            status: lenient.string("status").flatMap(AlertStatus.init(rawValue:)),
            labels: lenient.stringMap("labels"),
            annotations: lenient.stringMap("annotations"),
            startsAt: lenient.string("startsAt").flatMap(RFC3339.parse),
            endsAt: lenient.string("endsAt").flatMap(RFC3339.parse),
            generatorURL: lenient.nonEmptyString("generatorURL"),
            fingerprint: lenient.nonEmptyString("fingerprint"),
            silenceURL: lenient.nonEmptyString("silenceURL"),
            dashboardURL: lenient.nonEmptyString("dashboardURL"),
            panelURL: lenient.nonEmptyString("panelURL"),
            valueString: lenient.nonEmptyString("valueString"),
            imageURL: lenient.nonEmptyString("imageURL"),
            values: lenient.numberMap("values")
        )
    }
}
