import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import Foundation

// The objects the launcher sends, as values: what a recipe run looks like in the cluster (the original system's
// shape, plus the hardening and the result key). Built here, sent and followed in KubernetesJobLauncher.swift;
// KubernetesJobShapeTests and DeploymentTests hold them to the contract and to Kubernetes' schemas.
extension KubernetesJobLauncher {
    static func phase(of run: RecipeRun) -> RunPhase {
        run.approvalID.map(RunPhase.approval) ?? .debugging
    }

    /// The labels of the original system, ours, and the phase and run they belong to.
    static func labels(for request: LaunchRequest) -> [String: String] {
        [
            "app": "euphrosyne",
            "recipe": request.recipe.name,
            "uuid": request.incidentID.uuidString.lowercased(),
            "app.kubernetes.io/name": "euphrosyne",
            "app.kubernetes.io/component": request.run.kind == .debugging ? "debugging-recipe" : "action-recipe",
            "app.kubernetes.io/managed-by": "euphrosyne",
            "euphrosyne.io/phase": phase(of: request.run).label ?? "debugging",
            "euphrosyne.io/run": String(request.run.id),
        ]
    }

    /// The first 12 hex digits of the incident's id (random: 48 bits), which every object name of the incident
    /// carries.
    static func incidentTag(_ id: UUID) -> String {
        String(id.uuidString.lowercased().filter { $0 != "-" }.prefix(12))
    }

    /// The Job of a run, named after its recipe, its incident and its run: the same name whichever replica creates
    /// it, so a creation repeated after a failover (or after an answer that never came) is refused with `409
    /// AlreadyExists` and the existing Job is followed instead of a second one started. At most 63 characters (the
    /// `job-name` label its pods get).
    static func jobName(for request: LaunchRequest) -> String {
        "\(request.recipe.name.prefix(44))-\(incidentTag(request.incidentID))-\(request.run.id)"
    }

    /// The data ConfigMap's name, derived the same way: one per diagnosis, one per action run.
    static func dataConfigMapName(for request: LaunchRequest) -> String {
        let tag = incidentTag(request.incidentID)
        return request.run.kind == .debugging ? "euphrosyne-data-\(tag)" : "euphrosyne-data-\(tag)-\(request.run.id)"
    }

    /// The data ConfigMap of a request's phase: one for the diagnosis, one per action run.
    static func dataConfigMap(for request: LaunchRequest) -> ConfigMap {
        var labels = labels(for: request)
        labels["recipe"] = nil
        if request.run.kind == .debugging { labels["euphrosyne.io/run"] = nil }
        return ConfigMap(
            metadata: ObjectMeta(name: dataConfigMapName(for: request), labels: labels,
                                 annotations: ["description": "data.json of incident \(request.incidentID.uuidString.lowercased())"]),
            data: ["data.json": String(decoding: request.dataFile, as: UTF8.self)]
        )
    }

    /// The Secret holding the run's result key, named like its data ConfigMap (as the server named it), labelled
    /// like it and owned by it, so deleting the ConfigMap deletes it. Nil when the request carries no key.
    static func resultKeySecret(for request: LaunchRequest, data: ConfigMap) -> Secret? {
        guard let key = request.resultKey, let name = data.metadata.name else { return nil }
        return Secret(
            metadata: ObjectMeta(name: name, labels: data.metadata.labels,
                                 annotations: ["description": "result key of incident \(request.incidentID.uuidString.lowercased())"],
                                 ownerReferences: OwnerReference(to: data).map { [$0] }),
            values: [resultKeyKey: Array(key.utf8)]
        )
    }

    /// The container's environment, each name once: the Secret-backed variables (the recipe's `secretEnv`, else the
    /// original Jira variables), the Redis credentials, the result key from the run's Secret, then the request's
    /// plain variables. A plain variable of the same name wins (a registry `env` that sets `JIRA_URL` or the Redis
    /// credentials keeps doing so, as when Kubernetes took the later of two entries); the result key never travels as
    /// a plain value.
    func environment(for request: LaunchRequest, data: ConfigMap) -> [EnvVar] {
        let plain = request.environment.filter { $0.key != Self.resultKeyVariable }
        var fromSecrets: [EnvVar]
        if let secretEnv = request.recipe.secretEnv {
            fromSecrets = secretEnv.sorted { $0.key < $1.key }.map { name, reference in
                EnvVar(name: name, secret: reference.secret, key: reference.key, optional: reference.optional)
            }
        } else {
            fromSecrets = [
                EnvVar(name: "JIRA_URL", secret: settings.keysSecret, key: "jira-url", optional: true),
                EnvVar(name: "JIRA_USER", secret: settings.keysSecret, key: "jira-user", optional: true),
                EnvVar(name: "JIRA_TOKEN", secret: settings.keysSecret, key: "jira-token", optional: true),
            ]
        }
        if let username = settings.redisUsername, !username.isEmpty {
            fromSecrets.append(EnvVar(name: "REDIS_USERNAME", value: username))
        }
        if let secret = settings.redisPasswordSecret, !secret.isEmpty {
            fromSecrets.append(EnvVar(name: "REDIS_PASSWORD", secret: secret, key: Self.redisPasswordKey, optional: true))
        }
        if request.resultKey != nil, let name = data.metadata.name {
            fromSecrets.append(EnvVar(name: Self.resultKeyVariable, secret: name, key: Self.resultKeyKey))
        }
        return fromSecrets.filter { plain[$0.name] == nil }
            + plain.sorted { $0.key < $1.key }.map { EnvVar(name: $0.key, value: $0.value) }
    }

    /// The container's requests and limits: the defaults, with the registry's `resources` replacing them key by key.
    /// A default that would contradict what the registry set is moved out of the way (Kubernetes refuses a request
    /// above its limit): a larger request raises the default limit to it, a smaller limit lowers the default
    /// request to it.
    static func resources(for recipe: Recipe) -> ResourceRequirements {
        let own = recipe.resources ?? RecipeResources()
        var requests = defaultResources.requests.merging(own.requests) { $1 }
        var limits = defaultResources.limits.merging(own.limits) { $1 }
        for (resource, request) in own.requests where own.limits[resource] == nil {
            if let limit = limits[resource], let wanted = RecipeResources.value(of: request),
               let ceiling = RecipeResources.value(of: limit), wanted > ceiling {
                limits[resource] = request
            }
        }
        for (resource, limit) in own.limits where own.requests[resource] == nil {
            if let request = requests[resource], let ceiling = RecipeResources.value(of: limit),
               let wanted = RecipeResources.value(of: request), wanted > ceiling {
                requests[resource] = limit
            }
        }
        return ResourceRequirements(requests: requests, limits: limits)
    }

    /// The Job of one run, owned by its data ConfigMap.
    func job(for request: LaunchRequest, data: ConfigMap) -> Job {
        let labels = Self.labels(for: request)
        let recipe = request.recipe
        let arguments = request.arguments(dataFilePath: Self.dataFilePath)
        let container = Container(
            name: "recipe", image: recipe.image, command: Array(arguments.prefix(recipe.arguments.count)),
            args: Array(arguments.dropFirst(recipe.arguments.count)), env: environment(for: request, data: data),
            volumeMounts: [
                VolumeMount(name: "data", mountPath: Self.mountPath, readOnly: true),
                // The one writable place under the read-only root filesystem (TMPDIR's default).
                VolumeMount(name: "tmp", mountPath: "/tmp"),
            ],
            resources: Self.resources(for: recipe),
            securityContext: SecurityContext(allowPrivilegeEscalation: false, dropCapabilities: ["ALL"],
                                             seccompProfile: SeccompProfile(type: "RuntimeDefault"),
                                             readOnlyRootFilesystem: true)
        )
        return Job(
            metadata: ObjectMeta(
                name: Self.jobName(for: request), labels: labels,
                annotations: ["description": recipe.description],
                ownerReferences: OwnerReference(to: data).map { [$0] }
            ),
            spec: Job.Spec(
                backoffLimit: 0, activeDeadlineSeconds: request.run.timeoutSeconds,
                ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
                template: PodTemplateSpec(
                    metadata: ObjectMeta(labels: labels, annotations: ["description": recipe.description]),
                    // No service-link variables: a Service named like `euphrosyne-api` would inject
                    // EUPHROSYNE_API_* variables, which collide with the EUPHROSYNE_ prefix recipes read.
                    // No API token in the pod unless the recipe asked for an account (then it is mounted as that
                    // account says): a recipe that needs no API access must not hold the namespace's default token.
                    spec: PodSpec(restartPolicy: "Never", serviceAccountName: recipe.serviceAccountName,
                                  automountServiceAccountToken: recipe.serviceAccountName == nil ? false : nil,
                                  enableServiceLinks: false,
                                  securityContext: PodSecurityContext(
                                      runAsNonRoot: true, runAsUser: recipe.runAsUser ?? Self.defaultUserID,
                                      runAsGroup: Self.defaultUserID, seccompProfile: SeccompProfile(type: "RuntimeDefault")),
                                  containers: [container],
                                  volumes: [Volume(name: "data", configMap: data.metadata.name ?? ""),
                                            Volume(name: "tmp", emptyDir: .init(sizeLimit: "64Mi"))])
                )
            )
        )
    }
}
