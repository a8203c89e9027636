/// The namespaced resources the emulator stores.
public enum Resource: String, Sendable, CaseIterable, Hashable {
    case configMaps = "configmaps"
    case secrets
    case pods
    case jobs
    case leases

    /// The API group; `""` is the core group.
    public var group: String {
        switch self {
        case .configMaps, .secrets, .pods: ""
        case .jobs: "batch"
        case .leases: "coordination.k8s.io"
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
        }
    }

    public var listKind: String { kind + "List" }

    var singular: String { kind.lowercased() }

    var shortNames: [String] {
        switch self {
        case .configMaps: ["cm"]
        case .pods: ["po"]
        default: []
        }
    }

    /// `configmaps`, `jobs.batch`: how error messages name the resource.
    var qualifiedName: String { group.isEmpty ? rawValue : "\(rawValue).\(group)" }

    /// The URL prefix of the group version: `/api/v1` or `/apis/batch/v1`.
    var groupVersionPath: String { group.isEmpty ? "/api/v1" : "/apis/\(group)/\(version)" }

    func collectionPath(namespace: String) -> String { "\(groupVersionPath)/namespaces/\(namespace)/\(rawValue)" }

    /// Whether the resource has a `/status` subresource (updates of the main resource then keep the stored status).
    var hasStatusSubresource: Bool { self == .pods || self == .jobs }

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
