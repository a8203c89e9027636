import Foundation

// The objects the node recipes read and change: Nodes, the PodDisruptionBudgets that guard evictions, the
// DaemonSets whose pods a drain leaves alone, and the Eviction a drain sends. Only the fields those recipes use.

// MARK: - Node

/// A core/v1 `Node` (cluster-scoped, `/api/v1/nodes/{name}`): read by `node-diagnostics`, patched (never replaced)
/// by `cordon-node`, `uncordon-node` and `drain-node`.
public struct Node: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Codable, Sendable, Hashable {
        /// True once cordoned; the API omits it when false.
        public var unschedulable: Bool?
        public var taints: [Taint]?

        public init(unschedulable: Bool? = nil, taints: [Taint]? = nil) {
            self.unschedulable = unschedulable
            self.taints = taints
        }
    }

    /// `key[=value]:effect`, effect `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    public struct Taint: Codable, Sendable, Hashable, CustomStringConvertible {
        public var key: String
        public var value: String?
        public var effect: String
        public var timeAdded: String?

        public init(key: String, value: String? = nil, effect: String, timeAdded: String? = nil) {
            self.key = key
            self.value = value
            self.effect = effect
            self.timeAdded = timeAdded
        }

        public var description: String { key + (value.map { "=\($0)" } ?? "") + ":" + effect }
    }

    public struct Status: Codable, Sendable, Hashable {
        /// `cpu`, `memory`, `pods`… as quantities: what the pods may request (capacity minus reservations).
        public var allocatable: [String: String]?
        public var capacity: [String: String]?
        /// `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, `NetworkUnavailable`.
        public var conditions: [Condition]?
        public var nodeInfo: NodeInfo?

        public init(allocatable: [String: String]? = nil, capacity: [String: String]? = nil,
                    conditions: [Condition]? = nil, nodeInfo: NodeInfo? = nil) {
            self.allocatable = allocatable
            self.capacity = capacity
            self.conditions = conditions
            self.nodeInfo = nodeInfo
        }
    }

    public struct Condition: Codable, Sendable, Hashable {
        public var type: String
        /// `True`, `False` or `Unknown`.
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastHeartbeatTime: String?
        public var lastTransitionTime: String?

        public init(type: String, status: String, reason: String? = nil, message: String? = nil,
                    lastHeartbeatTime: String? = nil, lastTransitionTime: String? = nil) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
            self.lastHeartbeatTime = lastHeartbeatTime
            self.lastTransitionTime = lastTransitionTime
        }
    }

    public struct NodeInfo: Codable, Sendable, Hashable {
        public var kubeletVersion: String?
    }

    /// `spec.unschedulable`, absent meaning false.
    public var isCordoned: Bool { spec?.unschedulable ?? false }

    public func condition(_ type: String) -> Condition? {
        status?.conditions?.first { $0.type == type }
    }

    /// `Ready` is `True`. A node without that condition has never reported and is not ready.
    public var isReady: Bool { condition("Ready")?.status == "True" }
}

// MARK: - PodDisruptionBudget

/// A policy/v1 `PodDisruptionBudget`: how many of a set of pods may be disrupted at once. Evictions honour it;
/// `drain-node` names the one that blocked it.
public struct PodDisruptionBudget: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "policy", version: "v1", plural: "poddisruptionbudgets",
                                              kind: "PodDisruptionBudget", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        /// An int or a percentage string.
        public var minAvailable: IntOrString?
        public var maxUnavailable: IntOrString?
        public var selector: LabelSelector?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var disruptionsAllowed: Int?
        public var currentHealthy: Int?
        public var desiredHealthy: Int?
        public var expectedPods: Int?
        public var observedGeneration: Int?
    }
}

/// A field that is an int or a string (`maxUnavailable: 1` or `"25%"`).
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): value
        }
    }
}

// MARK: - DaemonSet

/// An apps/v1 `DaemonSet`, only read: `drain-node` leaves its pods on the node (they tolerate the cordon and would
/// come straight back), after checking that the DaemonSet the pod names exists.
public struct DaemonSet: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "apps", version: "v1", plural: "daemonsets", kind: "DaemonSet",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
}

// MARK: - Eviction

/// A policy/v1 `Eviction`, POSTed to `pods/{name}/eviction`: a pod deletion that the API server refuses (429)
/// while it would break a PodDisruptionBudget.
public struct Eviction: Codable, Sendable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var deleteOptions: DeleteOptions?

    public struct DeleteOptions: Codable, Sendable {
        public var gracePeriodSeconds: Int?
        public var dryRun: [String]?
    }

    public init(pod: String, namespace: String, gracePeriodSeconds: Int? = nil, dryRun: Bool = false) {
        apiVersion = "policy/v1"
        kind = "Eviction"
        metadata = ObjectMeta(name: pod, namespace: namespace)
        if gracePeriodSeconds != nil || dryRun {
            deleteOptions = DeleteOptions(gracePeriodSeconds: gracePeriodSeconds, dryRun: dryRun ? ["All"] : nil)
        }
    }
}

extension Pod {
    /// The `controller: true` owner: a ReplicaSet, a StatefulSet, a DaemonSet, a Job… nil for a bare pod.
    public var controller: OwnerReference? {
        metadata.ownerReferences?.first { $0.controller == true }
    }

    /// `Succeeded` or `Failed`: its containers will not run again.
    public var isTerminal: Bool { status?.phase == "Succeeded" || status?.phase == "Failed" }

    /// The `Ready` condition is `True`.
    public var isReady: Bool { status?.conditions?.first { $0.type == "Ready" }?.status == "True" }
}
