/// The resources the emulator stores. Cluster-scoped ones (``isNamespaced`` false: Nodes) are kept under the
/// namespace `""`: seed and read them with `namespace: ""`.
public enum Resource: String, Sendable, CaseIterable, Hashable {
    case configMaps = "configmaps"
    case secrets
    case pods
    case jobs
    case leases
    /// core/v1 Events: stored and listed (field selectors on `involvedObject.*`, `reason`, `type`, `source`); nothing
    /// emits them on its own, tests seed them.
    case events
    /// apps/v1 Deployments: stored, validated and defaulted; a deployment controller (`DeploymentController.swift`)
    /// rolls them out through ReplicaSets and writes their status; `deployments/{name}/scale` is the Scale subresource.
    case deployments
    /// core/v1 Nodes, cluster-scoped: stored, validated; a node controller keeps the `unschedulable` taint in step
    /// with `spec.unschedulable`, and a scheduler binds pods to them once any exist. Tests seed them
    /// (`seed(.nodes, namespace: "", node)`), with the `status.conditions` they need.
    case nodes
    /// policy/v1 PodDisruptionBudgets: stored, validated; a disruption controller computes their `status` from the
    /// pods, and the `pods/eviction` subresource honours them.
    case podDisruptionBudgets = "poddisruptionbudgets"
    /// apps/v1 DaemonSets: stored and listed only (no controller); `kubectl drain` GETs a pod's DaemonSet.
    case daemonSets = "daemonsets"
    /// apps/v1 ReplicaSets: made by the deployment controller (or seeded); a replica-set controller
    /// (`ReplicaSets.swift`) makes and deletes their pods when a kubelet is configured, and writes their status.
    case replicaSets = "replicasets"
    /// apps/v1 StatefulSets: stored and listed only (no controller); recipes read their `status.readyReplicas`.
    case statefulSets = "statefulsets"
    /// core/v1 Services: stored with a `clusterIP` allocated from 10.96.0.0/12 and the server's defaults (`Networking.swift`).
    case services
    /// discovery.k8s.io/v1 EndpointSlices: an endpoint-slice controller (`EndpointSlices.swift`) keeps one set per
    /// Service with a selector, from the pods it selects; others can be seeded.
    case endpointSlices = "endpointslices"
    /// networking.k8s.io/v1 NetworkPolicies: stored, validated, `policyTypes` defaulted; nothing enforces them.
    case networkPolicies = "networkpolicies"

    /// The API group; `""` is the core group.
    public var group: String {
        switch self {
        case .configMaps, .secrets, .pods, .events, .nodes, .services: ""
        case .endpointSlices: "discovery.k8s.io"
        case .networkPolicies: "networking.k8s.io"
        case .jobs: "batch"
        case .leases: "coordination.k8s.io"
        case .deployments, .daemonSets, .replicaSets, .statefulSets: "apps"
        case .podDisruptionBudgets: "policy"
        }
    }

    public var version: String { "v1" }

    /// `v1`, `batch/v1`, ...
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    public var kind: String {
        switch self {
        case .configMaps: "ConfigMap"
        case .secrets: "Secret"
        case .pods: "Pod"
        case .jobs: "Job"
        case .leases: "Lease"
        case .events: "Event"
        case .deployments: "Deployment"
        case .nodes: "Node"
        case .podDisruptionBudgets: "PodDisruptionBudget"
        case .daemonSets: "DaemonSet"
        case .replicaSets: "ReplicaSet"
        case .statefulSets: "StatefulSet"
        case .services: "Service"
        case .endpointSlices: "EndpointSlice"
        case .networkPolicies: "NetworkPolicy"
        }
    }

    public var listKind: String { kind + "List" }

    var singular: String { kind.lowercased() }

    var shortNames: [String] {
        switch self {
        case .configMaps: ["cm"]
        case .pods: ["po"]
        case .events: ["ev"]
        case .deployments: ["deploy"]
        case .nodes: ["no"]
        case .podDisruptionBudgets: ["pdb"]
        case .daemonSets: ["ds"]
        case .replicaSets: ["rs"]
        case .statefulSets: ["sts"]
        case .services: ["svc"]
        case .networkPolicies: ["netpol"]
        default: []
        }
    }

    /// `configmaps`, `jobs.batch`: how error messages name the resource.
    var qualifiedName: String { group.isEmpty ? rawValue : "\(rawValue).\(group)" }

    /// The URL prefix of the group version: `/api/v1` or `/apis/batch/v1`.
    var groupVersionPath: String { group.isEmpty ? "/api/v1" : "/apis/\(group)/\(version)" }

    func collectionPath(namespace: String) -> String {
        isNamespaced ? "\(groupVersionPath)/namespaces/\(namespace)/\(rawValue)" : "\(groupVersionPath)/\(rawValue)"
    }

    /// Whether objects live in a namespace; cluster-scoped ones (Nodes) are stored under namespace `""`, answer
    /// 404 on namespaced URLs, and are authorised with namespace `""` (only rules with `namespaces == nil` grant them).
    public var isNamespaced: Bool { self != .nodes }

    /// Whether the resource has a `/status` subresource (updates of the main resource then keep the stored status).
    var hasStatusSubresource: Bool { [.pods, .jobs, .deployments, .nodes, .podDisruptionBudgets, .daemonSets, .replicaSets, .statefulSets, .services].contains(self) }

    /// Whether `metadata.generation` counts spec changes.
    var tracksGeneration: Bool { [.jobs, .deployments, .podDisruptionBudgets, .daemonSets, .replicaSets, .statefulSets, .networkPolicies].contains(self) }

    /// Whether a single DELETE answers with the deleted object (pods, jobs) or with a `Status` (the rest), as the
    /// generic registry's `ReturnDeletedObject` does.
    var returnsDeletedObject: Bool { self == .pods || self == .jobs || self == .services }

    /// Whether the resource has an autoscaling/v1 `/scale` subresource.
    var hasScaleSubresource: Bool { self == .deployments || self == .replicaSets }

    var verbs: [String] {
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    static func find(group: String, plural: String) -> Resource? {
        allCases.first { $0.group == group && $0.rawValue == plural }
    }
}
