import Foundation

// What the rollout actions read and write besides the Deployment itself: its ReplicaSets (the revision history
// `rollout-undo` goes back to) and the scale subresource `scale-deployment` patches.

/// An apps/v1 `ReplicaSet`: one revision of a Deployment's pod template. Listed (never written) by `rollout-undo`.
public struct ReplicaSet: KubernetesObject, Hashable {
    public static let resource = ResourceType(group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet",
                                              namespaced: true)
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var selector: LabelSelector?
        public var template: PodTemplateSpec?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
    }

    /// `deployment.kubernetes.io/revision` as a number; nil when absent or not a number.
    public var revision: Int? {
        metadata.annotations?[Deployment.revisionAnnotation].flatMap { Int($0) }
    }
}

/// The autoscaling/v1 `Scale` of a Deployment (`deployments/{name}/scale`): its wanted and current replicas.
public struct Scale: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        public var replicas: Int?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var selector: String?
    }
}

/// A container port: what a Service's named `targetPort` resolves to, per pod.
public struct ContainerPort: Codable, Sendable, Hashable {
    public var name: String?
    public var containerPort: Int
    /// `TCP` when absent.
    public var `protocol`: String?

    public init(name: String? = nil, containerPort: Int, protocol: String? = nil) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = `protocol`
    }
}

extension Deployment {
    /// The revision annotation on a Deployment and its ReplicaSets.
    public static let revisionAnnotation = "deployment.kubernetes.io/revision"

    /// The annotation `kubectl rollout restart` sets on the pod template.
    public static let restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

    public func condition(_ type: String) -> Condition? {
        status?.conditions?.first { $0.type == type }
    }

    /// Where a rollout stands, as `kubectl rollout status` decides it (PROTOCOLS §9.7).
    public enum RolloutProgress: Sendable, Hashable {
        case complete
        /// Still going; the text says what it waits for.
        case waiting(String)
        /// `Progressing` is False with `ProgressDeadlineExceeded`: it will not finish on its own.
        case failed(String)
    }

    public var rolloutProgress: RolloutProgress {
        let name = metadata.name ?? "?"
        let wanted = spec?.replicas ?? 1
        let status = self.status
        if (metadata.generation ?? 0) > (status?.observedGeneration ?? 0) {
            return .waiting("the controller has not yet seen the change (generation \(metadata.generation ?? 0), observed \(status?.observedGeneration ?? 0))")
        }
        if let progressing = condition("Progressing"), progressing.reason == "ProgressDeadlineExceeded" {
            return .failed("deployment \"\(name)\" exceeded its progress deadline" + (progressing.message.map { ": \($0)" } ?? ""))
        }
        let updated = status?.updatedReplicas ?? 0
        let replicas = status?.replicas ?? 0
        let available = status?.availableReplicas ?? 0
        if updated < wanted {
            return .waiting("\(updated) of \(wanted) new replicas have been updated")
        }
        if replicas > updated {
            return .waiting("\(replicas - updated) old replicas are pending termination")
        }
        if available < updated {
            return .waiting("\(available) of \(updated) updated replicas are available")
        }
        return .complete
    }
}
