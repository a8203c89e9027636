import Foundation

// A Pod and the parts of a pod spec Euphrosyne builds (the recipe Jobs' template) or reads (diagnoses).

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
