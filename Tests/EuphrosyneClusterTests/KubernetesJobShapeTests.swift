import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import Foundation
import Testing

@testable import EuphrosyneCluster

/// The Job and data ConfigMap the launcher sends, field for field (the original system's contract plus the production
/// additions), built as values.
@Suite struct KubernetesJobShapeTests {
    static let incident = UUID(uuidString: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab")!

    static let resultKey = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f"

    static func request(_ recipe: Recipe, run: Int = 1, approval: Int? = nil, resultKey: String? = nil) -> LaunchRequest {
        let recipeRun = RecipeRun(id: run, recipe: recipe.name, kind: recipe.kind, description: recipe.description,
                                  name: "\(recipe.name)-abcde", timeoutSeconds: recipe.timeoutSeconds ?? 300,
                                  createdAt: Date(), approvalID: approval)
        return LaunchRequest(
            incidentID: incident, run: recipeRun, recipe: recipe, dataFile: Data(#"{"uuid":"x"}"#.utf8),
            aggregatorAddress: "aggregator:8000", redisAddress: "redis:6379",
            environment: ["EUPHROSYNE_INCIDENT": incident.uuidString.lowercased(), "EUPHROSYNE_RECIPE": recipe.name],
            resultKey: resultKey
        )
    }

    /// The Job the launcher would send for `request`; the launcher never contacts the (absent) API server.
    static func job(for request: LaunchRequest, settings: KubernetesJobLauncher.Settings = .init(namespace: "recipes"))
        async throws -> Job
    {
        let client = try KubernetesClient(configuration: KubernetesConfiguration(server: "https://127.0.0.1:1"))
        let job = KubernetesJobLauncher(client: client, settings: settings)
            .job(for: request, data: storedData)
        try await client.shutdown()
        return job
    }

    static var storedData: ConfigMap {
        var data = KubernetesJobLauncher.dataConfigMap(for: request(try! Recipe(
            name: "http-errors", kind: .debugging, enabled: true, entrypoint: "x")))
        data.metadata.name = "euphrosyne-data-x7k2p"
        data.metadata.uid = "5c1b3c8e-6a0e-4f58-9d2f-0e6d3b1f7a21"
        return data
    }

    @Test func aDebuggingJobHasTheOriginalShapeAndTheProductionAdditions() async throws {
        let recipe = try Recipe(name: "http-errors", kind: .debugging, enabled: true, image: "example/recipes:1.0",
                                entrypoint: "http-errors --verbose", description: "Looks for HTTP error patterns",
                                timeoutSeconds: 120)
        let job = try await Self.job(for: Self.request(recipe))

        // Named after the recipe, the incident and the run, the same on every replica (exactly one Job per run).
        #expect(job.metadata.name == "http-errors-6f1c1e2a1111-1")
        #expect(job.metadata.generateName == nil)
        let labels = try #require(job.metadata.labels)
        #expect(labels["app"] == "euphrosyne")
        #expect(labels["recipe"] == "http-errors")
        #expect(labels["uuid"] == Self.incident.uuidString.lowercased())
        #expect(labels["app.kubernetes.io/managed-by"] == "euphrosyne")
        #expect(labels["euphrosyne.io/phase"] == "debugging")
        #expect(job.metadata.annotations == ["description": "Looks for HTTP error patterns"])
        #expect(job.metadata.ownerReferences == [OwnerReference(
            apiVersion: "v1", kind: "ConfigMap", name: "euphrosyne-data-x7k2p",
            uid: "5c1b3c8e-6a0e-4f58-9d2f-0e6d3b1f7a21", controller: false, blockOwnerDeletion: false)])

        let spec = try #require(job.spec)
        #expect(spec.backoffLimit == 0)
        #expect(spec.activeDeadlineSeconds == 120)
        #expect(spec.ttlSecondsAfterFinished == 3_600)
        let pod = spec.template.spec
        #expect(pod.restartPolicy == "Never")
        #expect(pod.serviceAccountName == nil)
        #expect(pod.enableServiceLinks == false)
        #expect(spec.template.metadata?.labels == labels)
        #expect(pod.volumes == [Volume(name: "data", configMap: "euphrosyne-data-x7k2p"),
                                Volume(name: "tmp", emptyDir: .init(sizeLimit: "64Mi"))])

        let container = try #require(pod.containers.first)
        #expect(pod.containers.count == 1)
        #expect(container.image == "example/recipes:1.0")
        // The entrypoint split into argv, then exactly the three original flags.
        #expect((container.command ?? []) + (container.args ?? []) == [
            "http-errors", "--verbose", "--data-file-path", "/app/data.json",
            "--aggregator-address", "aggregator:8000", "--redis-address", "redis:6379",
        ])
        #expect(container.volumeMounts == [VolumeMount(name: "data", mountPath: "/app", readOnly: true),
                                           VolumeMount(name: "tmp", mountPath: "/tmp")])
        let env = container.env ?? []
        for (name, key) in [("JIRA_URL", "jira-url"), ("JIRA_USER", "jira-user"), ("JIRA_TOKEN", "jira-token")] {
            let variable = try #require(env.first { $0.name == name })
            #expect(variable.valueFrom?.secretKeyRef?.name == "euphrosyne-keys")
            #expect(variable.valueFrom?.secretKeyRef?.key == key)
        }
        #expect(env.first { $0.name == "EUPHROSYNE_RECIPE" }?.value == "http-errors")
        #expect(container.securityContext == SecurityContext(
            allowPrivilegeEscalation: false, dropCapabilities: ["ALL"], seccompProfile: SeccompProfile(type: "RuntimeDefault"),
            readOnlyRootFilesystem: true))
        #expect(pod.securityContext == PodSecurityContext(
            runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: SeccompProfile(type: "RuntimeDefault")))
        #expect(pod.automountServiceAccountToken == false)
        #expect(container.resources == ResourceRequirements(requests: ["cpu": "50m", "memory": "64Mi"],
                                                            limits: ["cpu": "500m", "memory": "256Mi"]))
    }

    @Test func registryExtensionsReachTheJob() async throws {
        var recipe = try Recipe(name: "pods", kind: .debugging, enabled: true, image: "example/recipes:1.0",
                                entrypoint: "pods", env: ["MODE": "fast"])
        recipe.resources = RecipeResources(requests: ["cpu": "100m"], limits: ["memory": "128Mi"])
        recipe.serviceAccountName = "pod-reader"
        var request = Self.request(recipe)
        request.environment.merge(recipe.env) { $1 }
        let job = try await Self.job(for: request)
        let pod = try #require(job.spec?.template.spec)
        #expect(pod.serviceAccountName == "pod-reader")
        // A named account's token is mounted as the account says (the field is left unset).
        #expect(pod.automountServiceAccountToken == nil)
        // Key by key over the defaults.
        #expect(pod.containers.first?.resources == ResourceRequirements(requests: ["cpu": "100m", "memory": "64Mi"],
                                                                        limits: ["cpu": "500m", "memory": "128Mi"]))
        #expect(pod.containers.first?.env?.contains(EnvVar(name: "MODE", value: "fast")) == true)
        #expect(job.spec?.activeDeadlineSeconds == 300)
    }

    @Test func jobNamesStayWithinWhatAPodLabelTakes() throws {
        let long = String(repeating: "a", count: 63)
        let recipe = try Recipe(name: long, kind: .debugging, enabled: true, image: "x", entrypoint: "x")
        let name = KubernetesJobLauncher.jobName(for: Self.request(recipe, run: 99_999))
        #expect(name.count <= 63, "\(name.count)")
        #expect(name == String(repeating: "a", count: 44) + "-6f1c1e2a1111-99999")
    }

    @Test func theDataConfigMapHoldsDataJsonAndIsLabelledForItsPhase() throws {
        let recipe = try Recipe(name: "jira", kind: .action, enabled: true, image: "x", entrypoint: "jira")
        let data = KubernetesJobLauncher.dataConfigMap(for: Self.request(recipe, run: 3, approval: 2))
        #expect(data.metadata.name == "euphrosyne-data-6f1c1e2a1111-3", "one per action run")
        #expect(data.metadata.generateName == nil)
        let diagnosis = try Recipe(name: "dummy", kind: .debugging, enabled: true, image: "x", entrypoint: "dummy")
        #expect(KubernetesJobLauncher.dataConfigMap(for: Self.request(diagnosis, run: 5)).metadata.name
            == "euphrosyne-data-6f1c1e2a1111", "one for the whole diagnosis")
        #expect(data.data == ["data.json": #"{"uuid":"x"}"#])
        #expect(data.metadata.labels?["app"] == "euphrosyne")
        #expect(data.metadata.labels?["uuid"] == Self.incident.uuidString.lowercased())
        #expect(data.metadata.labels?["euphrosyne.io/phase"] == "approval-2")
        #expect(data.metadata.labels?["euphrosyne.io/run"] == "3")
        #expect(data.metadata.labels?["recipe"] == nil)
    }

    // MARK: - Hardening, secrets and the result key

    @Test func theRegistryOverridesTheDefaultsKeyByKeyWithoutContradictingThem() throws {
        func resources(_ own: RecipeResources?) throws -> ResourceRequirements {
            var recipe = try Recipe(name: "r", kind: .debugging, enabled: true, image: "x", entrypoint: "r")
            recipe.resources = own
            return KubernetesJobLauncher.resources(for: recipe)
        }
        #expect(try resources(nil) == ResourceRequirements(requests: ["cpu": "50m", "memory": "64Mi"],
                                                           limits: ["cpu": "500m", "memory": "256Mi"]))
        #expect(try resources(RecipeResources(limits: ["memory": "1Gi"])) == ResourceRequirements(
            requests: ["cpu": "50m", "memory": "64Mi"], limits: ["cpu": "500m", "memory": "1Gi"]))
        #expect(try resources(RecipeResources(requests: ["ephemeral-storage": "1Gi"])) == ResourceRequirements(
            requests: ["cpu": "50m", "memory": "64Mi", "ephemeral-storage": "1Gi"], limits: ["cpu": "500m", "memory": "256Mi"]))
        // A request above a default limit raises that limit (Kubernetes refuses request > limit) ...
        #expect(try resources(RecipeResources(requests: ["memory": "512Mi", "cpu": "2"])) == ResourceRequirements(
            requests: ["cpu": "2", "memory": "512Mi"], limits: ["cpu": "2", "memory": "512Mi"]))
        // ... a limit below a default request lowers that request ...
        #expect(try resources(RecipeResources(limits: ["cpu": "20m", "memory": "0.5Gi"])) == ResourceRequirements(
            requests: ["cpu": "20m", "memory": "64Mi"], limits: ["cpu": "20m", "memory": "0.5Gi"]))
        // ... and what the registry set itself is taken as written.
        #expect(try resources(RecipeResources(requests: ["cpu": "1"], limits: ["cpu": "100m"])) == ResourceRequirements(
            requests: ["cpu": "1", "memory": "64Mi"], limits: ["cpu": "100m", "memory": "256Mi"]))
        #expect(RecipeResources.value(of: "64Mi") == 67_108_864 && RecipeResources.value(of: "50m") == 0.05
            && RecipeResources.value(of: "2G") == 2e9 && RecipeResources.value(of: "1e3") == 1000
            && RecipeResources.value(of: "lots") == nil)
    }

    @Test func runAsUserReplacesTheDefaultUid() async throws {
        var recipe = try Recipe(name: "legacy", kind: .debugging, enabled: true, image: "x", entrypoint: "legacy")
        recipe.runAsUser = 1000
        let pod = try #require(try await Self.job(for: Self.request(recipe)).spec?.template.spec)
        #expect(pod.securityContext?.runAsUser == 1000)
        #expect(pod.securityContext?.runAsNonRoot == true)
        #expect(pod.securityContext?.runAsGroup == 65532)
    }

    @Test func everyJobGetsTheRecipeRedisCredentialsFromTheLauncherSettings() async throws {
        let recipe = try Recipe(name: "probe", kind: .debugging, enabled: true, image: "x", entrypoint: "probe")
        let env = try await Self.job(for: Self.request(recipe)).spec?.template.spec.containers.first?.env ?? []
        #expect(env.filter { $0.name == "REDIS_USERNAME" } == [EnvVar(name: "REDIS_USERNAME", value: "euphrosyne-recipe")])
        #expect(env.filter { $0.name == "REDIS_PASSWORD" } == [EnvVar(name: "REDIS_PASSWORD", secret: "euphrosyne-redis",
                                                                       key: "recipe-password", optional: true)])

        var settings = KubernetesJobLauncher.Settings(namespace: "recipes")
        settings.redisUsername = "reporter"
        settings.redisPasswordSecret = "redis-acl"
        let custom = try await Self.job(for: Self.request(recipe), settings: settings).spec?.template.spec.containers.first?.env ?? []
        #expect(custom.first { $0.name == "REDIS_USERNAME" }?.value == "reporter")
        #expect(custom.first { $0.name == "REDIS_PASSWORD" }?.valueFrom?.secretKeyRef?.name == "redis-acl")

        settings.redisUsername = nil
        settings.redisPasswordSecret = nil
        let none = try await Self.job(for: Self.request(recipe), settings: settings).spec?.template.spec.containers.first?.env ?? []
        #expect(!none.contains { $0.name.hasPrefix("REDIS_") })

        // A registry that sets them in the recipe's own env keeps its values, each name once.
        var own = Self.request(recipe)
        own.environment["REDIS_PASSWORD"] = "from-registry"
        let kept = try await Self.job(for: own).spec?.template.spec.containers.first?.env ?? []
        #expect(kept.filter { $0.name == "REDIS_PASSWORD" } == [EnvVar(name: "REDIS_PASSWORD", value: "from-registry")])
    }

    @Test func secretEnvReplacesTheJiraVariables() async throws {
        var recipe = try Recipe(name: "jira", kind: .action, enabled: true, image: "x", entrypoint: "jira")
        recipe.secretEnv = [
            "JIRA_URL": SecretKeyReference(secret: "jira-credentials", key: "url", optional: true),
            "JIRA_TOKEN": SecretKeyReference(secret: "jira-credentials", key: "token"),
        ]
        let env = try await Self.job(for: Self.request(recipe, approval: 1)).spec?.template.spec.containers.first?.env ?? []
        #expect(env.filter { $0.name.hasPrefix("JIRA_") } == [
            EnvVar(name: "JIRA_TOKEN", secret: "jira-credentials", key: "token", optional: false),
            EnvVar(name: "JIRA_URL", secret: "jira-credentials", key: "url", optional: true),
        ])
        #expect(!env.contains { $0.valueFrom?.secretKeyRef?.name == "euphrosyne-keys" })

        // Declared empty: no Jira variables at all.
        recipe.secretEnv = [:]
        let empty = try await Self.job(for: Self.request(recipe, approval: 1)).spec?.template.spec.containers.first?.env ?? []
        #expect(!empty.contains { $0.name.hasPrefix("JIRA_") })

        // Not declared: the original three, from euphrosyne-keys.
        recipe.secretEnv = nil
        let original = try await Self.job(for: Self.request(recipe, approval: 1)).spec?.template.spec.containers.first?.env ?? []
        #expect(original.filter { $0.name.hasPrefix("JIRA_") }.map(\.valueFrom?.secretKeyRef?.name)
            == ["euphrosyne-keys", "euphrosyne-keys", "euphrosyne-keys"])

        // A registry env that sets one of them keeps its value, once (it used to come later and win).
        var overridden = Self.request(recipe, approval: 1)
        overridden.environment["JIRA_URL"] = "https://jira.internal"
        let kept = try await Self.job(for: overridden).spec?.template.spec.containers.first?.env ?? []
        #expect(kept.filter { $0.name == "JIRA_URL" } == [EnvVar(name: "JIRA_URL", value: "https://jira.internal")])
        #expect(kept.filter { $0.name.hasPrefix("JIRA_") }.count == 3)
    }

    @Test func theResultKeyComesFromTheRunsSecretAndNeverAsAValue() async throws {
        let recipe = try Recipe(name: "probe", kind: .debugging, enabled: true, image: "x", entrypoint: "probe")
        var request = Self.request(recipe, resultKey: Self.resultKey)
        // Even if something put it among the plain variables, it does not reach the spec as one.
        request.environment["EUPHROSYNE_RESULT_KEY"] = Self.resultKey
        let job = try await Self.job(for: request)
        let env = job.spec?.template.spec.containers.first?.env ?? []
        #expect(env.filter { $0.name == "EUPHROSYNE_RESULT_KEY" } == [
            EnvVar(name: "EUPHROSYNE_RESULT_KEY", secret: "euphrosyne-data-x7k2p", key: "result-key"),
        ])
        let encoded = String(decoding: try JSONEncoder().encode(job), as: UTF8.self)
        #expect(!encoded.contains(Self.resultKey))
        #expect(!encoded.contains(Data(Self.resultKey.utf8).base64EncodedString()))

        // Without a key (a launch request made by hand), nothing refers to a Secret that was not made.
        let unkeyed = try await Self.job(for: Self.request(recipe)).spec?.template.spec.containers.first?.env ?? []
        #expect(!unkeyed.contains { $0.name == "EUPHROSYNE_RESULT_KEY" })
    }

    @Test func theResultKeySecretIsNamedLabelledAndOwnedLikeItsDataConfigMap() throws {
        let recipe = try Recipe(name: "probe", kind: .debugging, enabled: true, image: "x", entrypoint: "probe")
        let data = Self.storedData
        let secret = try #require(KubernetesJobLauncher.resultKeySecret(
            for: Self.request(recipe, resultKey: Self.resultKey), data: data))
        #expect(secret.apiVersion == "v1" && secret.kind == "Secret")
        #expect(secret.type == "Opaque")
        #expect(secret.metadata.name == "euphrosyne-data-x7k2p")
        #expect(secret.metadata.generateName == nil)
        #expect(secret.metadata.labels == data.metadata.labels)
        #expect(secret.metadata.labels?["uuid"] == Self.incident.uuidString.lowercased())
        #expect(secret.metadata.ownerReferences == [OwnerReference(
            apiVersion: "v1", kind: "ConfigMap", name: "euphrosyne-data-x7k2p",
            uid: "5c1b3c8e-6a0e-4f58-9d2f-0e6d3b1f7a21", controller: false, blockOwnerDeletion: false)])
        #expect(secret.data == ["result-key": Data(Self.resultKey.utf8).base64EncodedString()])
        #expect(KubernetesJobLauncher.resultKeySecret(for: Self.request(recipe), data: data) == nil)
    }
}
