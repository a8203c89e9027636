import Foundation

/// Where a kind of object lives in the API: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` else.
public struct ResourceType: Sendable, Hashable {
    public var group: String
    public var version: String
    /// The plural resource name in paths and RBAC (`jobs`, `configmaps`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// The collection path, e.g. `/apis/batch/v1/namespaces/alerts/jobs`.
    public func collectionPath(namespace: String?) -> String {
        let base = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        guard namespaced, let namespace else { return "\(base)/\(plural)" }
        return "\(base)/namespaces/\(Self.escape(namespace))/\(plural)"
    }

    public func objectPath(name: String, namespace: String?) -> String {
        collectionPath(namespace: namespace) + "/" + Self.escape(name)
    }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}

/// An API object the client can read and write: a `Codable` value with metadata and a known place in the API.
public protocol KubernetesObject: Codable, Sendable {
    static var resource: ResourceType { get }
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }
}

/// `metadata` of every object; only the fields Euphrosyne reads or sets.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var creationTimestamp: String?
    /// Bumped by the server on every change of the spec (Deployments, Jobs); compare with `status.observedGeneration`.
    public var generation: Int?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?

    public init(name: String? = nil, generateName: String? = nil, namespace: String? = nil,
                labels: [String: String]? = nil, annotations: [String: String]? = nil,
                ownerReferences: [OwnerReference]? = nil) {
        self.name = name
        self.generateName = generateName
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
                blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    /// A reference to `object`, which must have been read back from the server (it needs the uid).
    public init?<Owner: KubernetesObject>(to object: Owner) {
        guard let name = object.metadata.name, let uid = object.metadata.uid else { return nil }
        self.init(apiVersion: Owner.resource.apiVersion, kind: Owner.resource.kind, name: name, uid: uid,
                  controller: false, blockOwnerDeletion: false)
    }
}

/// A page of a list: `items` plus where to continue.
public struct KubernetesList<Item: KubernetesObject>: Codable, Sendable {
    public struct Meta: Codable, Sendable {
        public var resourceVersion: String?
        public var `continue`: String?
    }

    public var metadata: Meta
    public var items: [Item]
}

/// One event of a watch stream.
public struct WatchEvent<Object: KubernetesObject>: Sendable {
    public enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        case bookmark = "BOOKMARK"
    }

    public var kind: Kind
    public var object: Object
}

// MARK: - ConfigMap

public struct ConfigMap: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var immutable: Bool?

    public init(metadata: ObjectMeta, data: [String: String]? = nil, immutable: Bool? = nil) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.data = data
        self.immutable = immutable
    }
}

// MARK: - Secret

/// A core/v1 `Secret`. The reconciler only creates them (the per-run result key beside each data ConfigMap) and
/// deletes them by label; it never reads one, so its Role needs no `get` on Secrets.
public struct Secret: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "secrets", kind: "Secret",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// `Opaque` for arbitrary data.
    public var type: String?
    /// Values base64-encoded, as the API carries them.
    public var data: [String: String]?

    public init(metadata: ObjectMeta, type: String? = "Opaque", data: [String: String]? = nil) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.type = type
        self.data = data
    }

    /// `data` from plain bytes, encoded as the API wants them.
    public init(metadata: ObjectMeta, type: String? = "Opaque", values: [String: [UInt8]]) {
        self.init(metadata: metadata, type: type, data: values.mapValues { Data($0).base64EncodedString() })
    }
}

// MARK: - Job

public struct Job: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "batch", version: "v1", plural: "jobs", kind: "Job",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var backoffLimit: Int?
        public var activeDeadlineSeconds: Int?
        public var ttlSecondsAfterFinished: Int?
        public var suspend: Bool?
        public var template: PodTemplateSpec

        public init(backoffLimit: Int? = nil, activeDeadlineSeconds: Int? = nil, ttlSecondsAfterFinished: Int? = nil,
                    template: PodTemplateSpec) {
            self.backoffLimit = backoffLimit
            self.activeDeadlineSeconds = activeDeadlineSeconds
            self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
            self.template = template
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var startTime: String?
        public var completionTime: String?
        public var active: Int?
        public var succeeded: Int?
        public var failed: Int?
        public var conditions: [Condition]?
    }

    public struct Condition: Codable, Sendable, Hashable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
    }

    /// Where the Job is, judged from its conditions as PROTOCOLS' decision logic says: `Complete`/`Failed` are
    /// final; `SuccessCriteriaMet`/`FailureTarget` (Kubernetes 1.31+) already decide the outcome.
    public enum Outcome: Sendable, Hashable {
        case running
        case succeeded
        /// `reason` is the condition's (`BackoffLimitExceeded`, `DeadlineExceeded`, …).
        case failed(reason: String, message: String)
    }

    public var outcome: Outcome {
        let conditions = (status?.conditions ?? []).filter { $0.status == "True" }
        if conditions.contains(where: { $0.type == "Complete" || $0.type == "SuccessCriteriaMet" }) { return .succeeded }
        if let failure = conditions.first(where: { $0.type == "Failed" }) ?? conditions.first(where: { $0.type == "FailureTarget" }) {
            return .failed(reason: failure.reason ?? "Failed", message: failure.message ?? "")
        }
        return .running
    }
}

// MARK: - SelfSubjectAccessReview

/// "May I?" for the identity the client runs as: the start-up permission check.
public struct SelfSubjectAccessReview: KubernetesObject {
    public static let resource = ResourceType(group: "authorization.k8s.io", version: "v1",
                                              plural: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview",
                                              namespaced: false)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable {
        public var resourceAttributes: ResourceAttributes
    }

    public struct Status: Codable, Sendable {
        public var allowed: Bool
        public var denied: Bool?
        public var reason: String?
        public var evaluationError: String?
    }

    public init(_ attributes: ResourceAttributes) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        metadata = ObjectMeta()
        spec = Spec(resourceAttributes: attributes)
    }
}

/// One permission: a verb on a resource (and subresource) of a group, in a namespace.
public struct ResourceAttributes: Codable, Sendable, Hashable, CustomStringConvertible {
    public var namespace: String?
    public var verb: String
    public var group: String
    public var resource: String
    public var subresource: String?

    public init(verb: String, group: String = "", resource: String, subresource: String? = nil, namespace: String?) {
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
    }

    /// `create jobs.batch`, `get pods/log`, as kubectl's RBAC messages write it.
    public var description: String {
        let name = resource + (subresource.map { "/\($0)" } ?? "") + (group.isEmpty ? "" : ".\(group)")
        return "\(verb) \(name)"
    }
}

// MARK: - Status

/// The error body of the API (`kind: Status`), kept whole so callers can act on `reason`.
public struct APIStatus: Codable, Sendable, Hashable {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: Details?

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }
}
