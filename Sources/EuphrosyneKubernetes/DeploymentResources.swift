import Foundation

// MARK: - Deployment

/// An apps/v1 `Deployment`: read by `pod-diagnostics` (its pods through `spec.selector`, how many replicas are
/// available) and patched, never replaced, by the rollout actions, which follow its status to the rollout's end.
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
