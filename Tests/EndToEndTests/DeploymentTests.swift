import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import Testing

@testable import EuphrosyneEngine

/// The deployment as Kubernetes 1.37 would take it: every manifest `kubectl kustomize deploy/...` renders, and every
/// Job and ConfigMap the launcher builds, checked by kubernetes-validate (strict) through the project's scripts.
@Suite struct DeploymentTests {
    /// The repository root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs a script of `scripts/` (no shell) with `input` on stdin; returns its status and output.
    static func script(_ name: String, _ arguments: [String] = [], input: Data? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = root.appendingPathComponent("scripts/\(name)")
        process.arguments = arguments
        process.currentDirectoryURL = root
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func everyRenderedManifestIsValidForKubernetes137() throws {
        let (status, output) = try Self.script("validate-manifests")
        #expect(status == 0, "\(output)")
        #expect(output.contains("validated against Kubernetes 1.37.0: all valid"), "\(output)")
        // The separate-namespace overlay really moves the recipe Role and points it at the reconciler's account.
        #expect(output.contains("RoleBinding euphrosyne-recipes/euphrosyne-recipe-runner binds ServiceAccount euphrosyne/euphrosyne"))
        #expect(output.contains("RECIPE_NAMESPACE resolves to euphrosyne-recipes"))
    }

    @Test func theJobsAndConfigMapsTheLauncherBuildsAreValid() async throws {
        var plain = try Recipe(name: "http-errors", kind: .debugging, enabled: true, image: "example/recipes:1.0",
                               entrypoint: "http-errors", description: "Looks for HTTP error patterns")
        plain.timeoutSeconds = 90
        var extended = try Recipe(name: "pod-diagnostics", kind: .debugging, enabled: true,
                                  image: "euphrosyne/recipes:latest", entrypoint: "euphrosyne-recipes pod-diagnostics",
                                  env: ["LOG_LINES": "50"])
        extended.resources = RecipeResources(requests: ["cpu": "100m", "memory": "64Mi"], limits: ["memory": "256Mi"])
        extended.serviceAccountName = "pod-reader"
        extended.runAsUser = 1000
        var action = try Recipe(name: "jira", kind: .action, enabled: true, image: "example/recipes:1.0",
                                entrypoint: "jira", description: "Opens a Jira issue")
        action.secretEnv = ["JIRA_TOKEN": SecretKeyReference(secret: "jira-credentials", key: "token"),
                            "JIRA_URL": SecretKeyReference(secret: "jira-credentials", key: "url", optional: true)]

        let client = try KubernetesClient(configuration: KubernetesConfiguration(server: "https://127.0.0.1:1"))
        let launcher = KubernetesJobLauncher(client: client, settings: .init(namespace: "recipes"))
        var objects: [any Encodable] = []
        for (index, recipe) in [plain, extended, action].enumerated() {
            let request = KubernetesJobShapeRequests.request(recipe, run: index + 1, approval: recipe.kind == .action ? 1 : nil)
            var data = KubernetesJobLauncher.dataConfigMap(for: request)
            objects.append(data)
            // As the server returns it, so the Job can own it.
            data.metadata.name = "euphrosyne-data-x7k2p"
            data.metadata.uid = UUID().uuidString.lowercased()
            objects.append(launcher.job(for: request, data: data))
            objects.append(try #require(KubernetesJobLauncher.resultKeySecret(for: request, data: data)))
        }
        try await client.shutdown()

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let array = "[" + (try objects.map { String(decoding: try encoder.encode($0), as: UTF8.self) }).joined(separator: ",") + "]"
        let (status, output) = try Self.script("validate-k8s-object.py", ["--label", "launcher", "-"], input: Data(array.utf8))
        #expect(status == 0, "\(output)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 9, "\(output)")
    }
}

/// Launch requests for the launcher's objects.
enum KubernetesJobShapeRequests {
    static let incident = UUID(uuidString: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab")!

    static func request(_ recipe: Recipe, run: Int, approval: Int?) -> LaunchRequest {
        let recipeRun = RecipeRun(id: run, recipe: recipe.name, kind: recipe.kind, description: recipe.description,
                                  name: "\(recipe.name)-abcde", timeoutSeconds: recipe.timeoutSeconds ?? 300,
                                  createdAt: Date(), approvalID: approval)
        return LaunchRequest(
            incidentID: incident, run: recipeRun, recipe: recipe,
            dataFile: Data(#"{"version":"4","alerts":[],"uuid":"6f1c1e2a-1111-4c5d-9e8f-0123456789ab"}"#.utf8),
            aggregatorAddress: "aggregator:8000", redisAddress: "redis.euphrosyne.svc:6379",
            environment: recipe.env.merging([
                "EUPHROSYNE_INCIDENT": incident.uuidString.lowercased(), "EUPHROSYNE_RECIPE": recipe.name,
                "EUPHROSYNE_RUN": recipeRun.name, "EUPHROSYNE_DEADLINE": "1800000000",
            ]) { $1 },
            resultKey: "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f"
        )
    }
}
