import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import Testing

@testable import EuphrosyneEngine

/// The Job and data ConfigMap the launcher sends, field for field (DESIGN.md's contract plus the production
/// additions), built as values.
@Suite struct KubernetesJobShapeTests {
    static let incident = UUID(uuidString: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab")!

    static func request(_ recipe: Recipe, run: Int = 1, approval: Int? = nil) -> LaunchRequest {
        let recipeRun = RecipeRun(id: run, recipe: recipe.name, kind: recipe.kind, description: recipe.description,
                                  name: "\(recipe.name)-abcde", timeoutSeconds: recipe.timeoutSeconds ?? 300,
                                  createdAt: Date(), approvalID: approval)
        return LaunchRequest(
            incidentID: incident, run: recipeRun, recipe: recipe, dataFile: Data(#"{"uuid":"x"}"#.utf8),
            aggregatorAddress: "aggregator:8000", redisAddress: "redis:6379",
            environment: ["EUPHROSYNE_INCIDENT": incident.uuidString.lowercased(), "EUPHROSYNE_RECIPE": recipe.name]
        )
    }

    /// The Job the launcher would send for `request`; the launcher never contacts the (absent) API server.
    static func job(for request: LaunchRequest) async throws -> Job {
        let client = try KubernetesClient(configuration: KubernetesConfiguration(server: "https://127.0.0.1:1"))
        let job = KubernetesJobLauncher(client: client, settings: .init(namespace: "recipes"))
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

        #expect(job.metadata.generateName == "http-errors-")
        #expect(job.metadata.name == nil)
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
        #expect(pod.volumes == [Volume(name: "data", configMap: "euphrosyne-data-x7k2p")])

        let container = try #require(pod.containers.first)
        #expect(pod.containers.count == 1)
        #expect(container.image == "example/recipes:1.0")
        // The entrypoint split into argv, then exactly the three original flags.
        #expect((container.command ?? []) + (container.args ?? []) == [
            "http-errors", "--verbose", "--data-file-path", "/app/data.json",
            "--aggregator-address", "aggregator:8000", "--redis-address", "redis:6379",
        ])
        #expect(container.volumeMounts == [VolumeMount(name: "data", mountPath: "/app", readOnly: true)])
        let env = container.env ?? []
        for (name, key) in [("JIRA_URL", "jira-url"), ("JIRA_USER", "jira-user"), ("JIRA_TOKEN", "jira-token")] {
            let variable = try #require(env.first { $0.name == name })
            #expect(variable.valueFrom?.secretKeyRef?.name == "euphrosyne-keys")
            #expect(variable.valueFrom?.secretKeyRef?.key == key)
        }
        #expect(env.first { $0.name == "EUPHROSYNE_RECIPE" }?.value == "http-errors")
        #expect(container.securityContext == SecurityContext(
            allowPrivilegeEscalation: false, dropCapabilities: ["ALL"], seccompProfile: SeccompProfile(type: "RuntimeDefault")))
        #expect(container.resources == nil)
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
        #expect(pod.containers.first?.resources == ResourceRequirements(requests: ["cpu": "100m"], limits: ["memory": "128Mi"]))
        #expect(pod.containers.first?.env?.contains(EnvVar(name: "MODE", value: "fast")) == true)
        #expect(job.spec?.activeDeadlineSeconds == 300)
    }

    @Test func theDataConfigMapHoldsDataJsonAndIsLabelledForItsPhase() throws {
        let recipe = try Recipe(name: "jira", kind: .action, enabled: true, image: "x", entrypoint: "jira")
        let data = KubernetesJobLauncher.dataConfigMap(for: Self.request(recipe, run: 3, approval: 2))
        #expect(data.metadata.generateName == "euphrosyne-data-")
        #expect(data.data == ["data.json": #"{"uuid":"x"}"#])
        #expect(data.metadata.labels?["app"] == "euphrosyne")
        #expect(data.metadata.labels?["uuid"] == Self.incident.uuidString.lowercased())
        #expect(data.metadata.labels?["euphrosyne.io/phase"] == "approval-2")
        #expect(data.metadata.labels?["euphrosyne.io/run"] == "3")
        #expect(data.metadata.labels?["recipe"] == nil)
    }
}
