import EuphrosyneCore
import Foundation

/// A coordination.k8s.io/v1 `Lease`: who holds a lock, since when, and for how long each renewal counts. The
/// cluster-mode leader election keeps one, so that of several replicas exactly one acts.
public struct Lease: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases",
                                              kind: "Lease", namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    /// `spec`. Times are `MicroTime`s (RFC 3339 with six fractional digits, see `RFC3339.formatWithMicroseconds`).
    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?

        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil,
                    renewTime: String? = nil, leaseTransitions: Int? = nil) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        apiVersion = Self.resource.apiVersion
        kind = Self.resource.kind
        self.metadata = metadata
        self.spec = spec
    }
}
