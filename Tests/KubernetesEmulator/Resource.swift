/// The namespaced resources the emulator stores.
public enum Resource: String, Sendable, CaseIterable, Hashable {
    case configMaps = "configmaps"
    case secrets
    case pods
    case jobs
    case leases
    /// core/v1 Events: stored and listed (field selectors on `involvedObject.*`, `reason`, `type`, `source`); nothing
    /// emits them on its own, tests seed them.
    case events
    /// apps/v1 Deployments: stored, validated and defaulted; no controller makes their ReplicaSets or pods, so tests
    /// seed the pods the selector matches.
    case deployments

    /// The API group; `""` is the core group.
    public var group: String {
        switch self {
        case .configMaps, .secrets, .pods, .events: ""
        case .jobs: "batch"
        case .leases: "coordination.k8s.io"
        case .deployments: "apps"
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
        default: []
        }
    }

    /// `configmaps`, `jobs.batch`: how error messages name the resource.
    var qualifiedName: String { group.isEmpty ? rawValue : "\(rawValue).\(group)" }

    /// The URL prefix of the group version: `/api/v1` or `/apis/batch/v1`.
    var groupVersionPath: String { group.isEmpty ? "/api/v1" : "/apis/\(group)/\(version)" }

    func collectionPath(namespace: String) -> String { "\(groupVersionPath)/namespaces/\(namespace)/\(rawValue)" }

    /// Whether the resource has a `/status` subresource (updates of the main resource then keep the stored status).
    var hasStatusSubresource: Bool { self == .pods || self == .jobs || self == .deployments }

    /// Whether a single DELETE answers with the deleted object (pods, jobs) or with a `Status` (the rest), as the
    /// generic registry's `ReturnDeletedObject` does.
    var returnsDeletedObject: Bool { self == .pods || self == .jobs }

    var verbs: [String] {
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    static func find(group: String, plural: String) -> Resource? {
        allCases.first { $0.group == group && $0.rawValue == plural }
    }
}
