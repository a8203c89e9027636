import Foundation

// What `network-diagnostics` reads to follow a request to a Service's pods: the Service, its EndpointSlices, the
// NetworkPolicies that select the pods, and the namespaces' labels the policies' selectors match (PROTOCOLS §10).

/// A core/v1 `Service` (named so beside swift-service-lifecycle's `Service`).
public struct KubernetesService: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var type: String?
        public var clusterIP: String?
        /// Equality only, ANDed; nil: the endpoints are someone else's to manage.
        public var selector: [String: String]?
        public var ports: [ServicePort]?
        public var publishNotReadyAddresses: Bool?
    }

    public struct ServicePort: Codable, Sendable, Hashable {
        public var name: String?
        public var `protocol`: String?
        public var port: Int
        /// A number, or the name of a container port (per pod); absent: `port`.
        public var targetPort: IntOrString?
    }
}

/// A discovery.k8s.io/v1 `EndpointSlice`: the addresses behind a Service (label `kubernetes.io/service-name`).
public struct EndpointSlice: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "discovery.k8s.io", version: "v1", plural: "endpointslices",
                                              kind: "EndpointSlice", namespaced: true)
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var addressType: String?
    public var endpoints: [Endpoint]?
    public var ports: [Port]?

    public struct Endpoint: Codable, Sendable, Hashable {
        public var addresses: [String]?
        public var conditions: Conditions?
        public var nodeName: String?
        public var targetRef: KubernetesEvent.ObjectReference?

        /// nil `ready` means true.
        public var isReady: Bool { conditions?.ready ?? true }
    }

    public struct Conditions: Codable, Sendable, Hashable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
    }
}

/// A networking.k8s.io/v1 `NetworkPolicy`.
public struct NetworkPolicy: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "networking.k8s.io", version: "v1", plural: "networkpolicies",
                                              kind: "NetworkPolicy", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var podSelector: LabelSelector?
        public var policyTypes: [String]?
        public var ingress: [Rule]?
        public var egress: [EgressRule]?
    }

    public struct Rule: Codable, Sendable, Hashable {
        public var from: [Peer]?
        public var ports: [Port]?
    }

    public struct EgressRule: Codable, Sendable, Hashable {
        public var to: [Peer]?
        public var ports: [Port]?
    }

    public struct Peer: Codable, Sendable, Hashable {
        public var podSelector: LabelSelector?
        public var namespaceSelector: LabelSelector?
        public var ipBlock: IPBlock?
    }

    public struct IPBlock: Codable, Sendable, Hashable {
        public var cidr: String
        public var except: [String]?
    }

    public struct Port: Codable, Sendable, Hashable {
        public var `protocol`: String?
        public var port: IntOrString?
        public var endPort: Int?
    }

    /// `policyTypes` as stored, or as the server defaults it: Ingress, plus Egress when there are egress rules.
    public var types: [String] {
        if let types = spec?.policyTypes, !types.isEmpty { return types }
        return ["Ingress"] + ((spec?.egress ?? []).isEmpty ? [] : ["Egress"])
    }
}

/// A core/v1 `Namespace`, read for its labels (a NetworkPolicy's `namespaceSelector` matches them).
public struct Namespace: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "", version: "v1", plural: "namespaces", kind: "Namespace",
                                              namespaced: false)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
}
