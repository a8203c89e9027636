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

public struct PodTemplateSpec: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec

    public init(metadata: ObjectMeta? = nil, spec: PodSpec) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct PodSpec: Codable, Sendable, Hashable {
    public var restartPolicy: String?
    public var serviceAccountName: String?
    public var automountServiceAccountToken: Bool?
    public var enableServiceLinks: Bool?
    public var securityContext: PodSecurityContext?
    public var containers: [Container]
    public var volumes: [Volume]?
    /// The node the scheduler bound the pod to (read by the node recipes; never set by Euphrosyne).
    public var nodeName: String?

    public init(restartPolicy: String? = nil, serviceAccountName: String? = nil,
                automountServiceAccountToken: Bool? = nil, enableServiceLinks: Bool? = nil,
                securityContext: PodSecurityContext? = nil, containers: [Container], volumes: [Volume]? = nil) {
        self.enableServiceLinks = enableServiceLinks
        self.restartPolicy = restartPolicy
        self.serviceAccountName = serviceAccountName
        self.automountServiceAccountToken = automountServiceAccountToken
        self.securityContext = securityContext
        self.containers = containers
        self.volumes = volumes
    }
}

public struct PodSecurityContext: Codable, Sendable, Hashable {
    public var runAsNonRoot: Bool?
    public var runAsUser: Int?
    public var runAsGroup: Int?
    public var seccompProfile: SeccompProfile?

    public init(runAsNonRoot: Bool? = nil, runAsUser: Int? = nil, runAsGroup: Int? = nil,
                seccompProfile: SeccompProfile? = nil) {
        self.runAsNonRoot = runAsNonRoot
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.seccompProfile = seccompProfile
    }
}

public struct SeccompProfile: Codable, Sendable, Hashable {
    public var type: String
    public init(type: String) { self.type = type }
}

public struct Container: Codable, Sendable, Hashable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var env: [EnvVar]?
    public var volumeMounts: [VolumeMount]?
    public var resources: ResourceRequirements?
    public var securityContext: SecurityContext?
    /// The ports it listens on (read by `network-diagnostics`: a Service's named `targetPort` resolves to these).
    public var ports: [ContainerPort]?

    public init(name: String, image: String?, command: [String]? = nil, args: [String]? = nil, env: [EnvVar]? = nil,
                volumeMounts: [VolumeMount]? = nil, resources: ResourceRequirements? = nil,
                securityContext: SecurityContext? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.volumeMounts = volumeMounts
        self.resources = resources
        self.securityContext = securityContext
    }
}

public struct EnvVar: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: Source?

    public struct Source: Codable, Sendable, Hashable {
        public var secretKeyRef: SecretKeySelector?
    }

    public struct SecretKeySelector: Codable, Sendable, Hashable {
        public var name: String
        public var key: String
        public var optional: Bool?
    }

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(name: String, secret: String, key: String, optional: Bool? = nil) {
        self.name = name
        valueFrom = Source(secretKeyRef: SecretKeySelector(name: secret, key: key, optional: optional))
    }
}

public struct VolumeMount: Codable, Sendable, Hashable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?

    public init(name: String, mountPath: String, readOnly: Bool? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
    }
}

public struct Volume: Codable, Sendable, Hashable {
    public var name: String
    public var configMap: ConfigMapSource?
    public var emptyDir: EmptyDirSource?

    public struct ConfigMapSource: Codable, Sendable, Hashable {
        public var name: String
        public var optional: Bool?
    }

    /// Scratch space that lives as long as the pod: a writable `/tmp` under a read-only root filesystem.
    public struct EmptyDirSource: Codable, Sendable, Hashable {
        /// `Memory` for a tmpfs; nil: the node's disk.
        public var medium: String?
        /// A quantity (`64Mi`); the pod is evicted when it writes more.
        public var sizeLimit: String?

        public init(medium: String? = nil, sizeLimit: String? = nil) {
            self.medium = medium
            self.sizeLimit = sizeLimit
        }
    }

    public init(name: String, configMap: String) {
        self.name = name
        self.configMap = ConfigMapSource(name: configMap)
    }

    public init(name: String, emptyDir: EmptyDirSource) {
        self.name = name
        self.emptyDir = emptyDir
    }
}

/// `resources` of a container: quantities as Kubernetes writes them (`100m`, `128Mi`).
public struct ResourceRequirements: Codable, Sendable, Hashable {
    public var requests: [String: String]?
    public var limits: [String: String]?

    public init(requests: [String: String]? = nil, limits: [String: String]? = nil) {
        self.requests = requests
        self.limits = limits
    }
}

public struct SecurityContext: Codable, Sendable, Hashable {
    public var allowPrivilegeEscalation: Bool?
    public var capabilities: Capabilities?
    public var seccompProfile: SeccompProfile?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?

    public struct Capabilities: Codable, Sendable, Hashable {
        public var drop: [String]?
    }

    public init(allowPrivilegeEscalation: Bool? = nil, dropCapabilities: [String]? = nil,
                seccompProfile: SeccompProfile? = nil, runAsNonRoot: Bool? = nil, readOnlyRootFilesystem: Bool? = nil) {
        self.allowPrivilegeEscalation = allowPrivilegeEscalation
        self.capabilities = dropCapabilities.map { Capabilities(drop: $0) }
        self.seccompProfile = seccompProfile
        self.runAsNonRoot = runAsNonRoot
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
    }
}

// MARK: - Pod

public struct Pod: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: Status?

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
        public var reason: String?
        public var message: String?
        public var startTime: String?
        public var podIP: String?
        /// `PodScheduled`, `Initialized`, `ContainersReady`, `Ready`…: why a pod is Pending or not ready.
        public var conditions: [Condition]?
        public var initContainerStatuses: [ContainerStatus]?
        public var containerStatuses: [ContainerStatus]?
    }

    /// One entry of `status.conditions`, e.g. `PodScheduled` `False` with reason `Unschedulable`.
    public struct Condition: Codable, Sendable, Hashable {
        public var type: String
        /// `True`, `False` or `Unknown`.
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastTransitionTime: String?
    }

    public struct ContainerStatus: Codable, Sendable, Hashable {
        public var name: String
        public var image: String?
        public var ready: Bool?
        public var restartCount: Int?
        public var state: ContainerState?
        public var lastState: ContainerState?
    }

    public struct ContainerState: Codable, Sendable, Hashable {
        public var waiting: Waiting?
        public var running: Running?
        public var terminated: Terminated?

        public struct Waiting: Codable, Sendable, Hashable {
            public var reason: String?
            public var message: String?
        }

        public struct Running: Codable, Sendable, Hashable {
            public var startedAt: String?
        }

        public struct Terminated: Codable, Sendable, Hashable {
            public var exitCode: Int
            public var signal: Int?
            public var reason: String?
            public var message: String?
            public var startedAt: String?
            public var finishedAt: String?
        }
    }
}

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

// MARK: - Deployment

/// An apps/v1 `Deployment`, read (never written) by the `pod-diagnostics` recipe to find its pods through
/// `spec.selector`, and to say how many replicas are available.
public struct Deployment: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "apps", version: "v1", plural: "deployments", kind: "Deployment",
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
        public var replicas: Int?
        public var selector: LabelSelector?
        public var template: PodTemplateSpec?
        /// A paused Deployment rolls nothing out: `kubectl rollout restart` and `undo` refuse it.
        public var paused: Bool?
        public var progressDeadlineSeconds: Int?

        public init(replicas: Int? = nil, selector: LabelSelector?, template: PodTemplateSpec?) {
            self.replicas = replicas
            self.selector = selector
            self.template = template
        }
    }

    /// Every counter is omitted when 0 (PROTOCOLS §9.6).
    public struct Status: Codable, Sendable, Hashable {
        public var observedGeneration: Int?
        public var replicas: Int?
        public var updatedReplicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
        public var unavailableReplicas: Int?
        /// `Available`, `Progressing`, `ReplicaFailure`.
        public var conditions: [Condition]?
    }

    public struct Condition: Codable, Sendable, Hashable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
    }
}

/// A `metav1.LabelSelector` (`matchLabels` and `matchExpressions`), as Deployments and Jobs carry it.
public struct LabelSelector: Codable, Sendable, Hashable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public struct Requirement: Codable, Sendable, Hashable {
        public var key: String
        /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
        public var `operator`: String
        public var values: [String]?

        public init(key: String, operator: String, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// The selector as a `labelSelector` query parameter (`app=api,tier in (a,b),!legacy`); nil when it selects
    /// nothing usable: empty (which would select every object) or with an operator this client does not know.
    public var queryString: String? {
        var terms = (matchLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        for requirement in matchExpressions ?? [] {
            let values = (requirement.values ?? []).sorted().joined(separator: ",")
            switch requirement.operator {
            case "In": terms.append("\(requirement.key) in (\(values))")
            case "NotIn": terms.append("\(requirement.key) notin (\(values))")
            case "Exists": terms.append(requirement.key)
            case "DoesNotExist": terms.append("!\(requirement.key)")
            default: return nil
            }
        }
        return terms.isEmpty ? nil : terms.joined(separator: ",")
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
