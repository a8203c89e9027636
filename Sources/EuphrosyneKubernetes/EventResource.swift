import Foundation

// MARK: - Event

/// A core/v1 `Event` (`/api/v1/namespaces/{ns}/events`): what the scheduler, the kubelet and controllers said about
/// an object (`FailedScheduling`, `BackOff`, `Failed` to pull an image…). Read by the `pod-diagnostics` recipe;
/// list them with the field selector `involvedObject.name=<name>`.
public struct KubernetesEvent: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "events", kind: "Event",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference?
    public var reason: String?
    public var message: String?
    /// `Normal` or `Warning`.
    public var type: String?
    public var count: Int?
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    /// Set (with `series`) by clients of the newer events.k8s.io API instead of the timestamps above.
    public var eventTime: String?
    public var series: Series?
    public var source: Source?
    public var reportingComponent: String?

    public struct ObjectReference: Codable, Sendable, Hashable {
        public var kind: String?
        public var namespace: String?
        public var name: String?
        public var uid: String?
        public var apiVersion: String?
        public var fieldPath: String?

        public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil,
                    apiVersion: String? = nil, fieldPath: String? = nil) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
            self.uid = uid
            self.apiVersion = apiVersion
            self.fieldPath = fieldPath
        }
    }

    public struct Series: Codable, Sendable, Hashable {
        public var count: Int?
        public var lastObservedTime: String?
    }

    public struct Source: Codable, Sendable, Hashable {
        public var component: String?
        public var host: String?
    }

    public init(metadata: ObjectMeta, involvedObject: ObjectReference?, reason: String?, message: String?,
                type: String?, count: Int? = nil, firstTimestamp: String? = nil, lastTimestamp: String? = nil) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.count = count
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
    }

    public var isWarning: Bool { type == "Warning" }

    /// How many times it happened (`series.count`, else `count`, else once).
    public var occurrences: Int { series?.count ?? count ?? 1 }

    /// When it last happened, whichever API wrote it.
    public var lastSeen: String? {
        series?.lastObservedTime ?? lastTimestamp ?? eventTime ?? firstTimestamp ?? metadata.creationTimestamp
    }
}
