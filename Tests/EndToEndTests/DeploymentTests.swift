import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneCluster

/// The deployment as Kubernetes 1.37 would take it: every manifest `kubectl kustomize deploy/...` renders, and every
/// Job and ConfigMap the launcher builds, checked by kubernetes-validate (strict) through the project's scripts.
@Suite struct DeploymentTests {
    /// The repository root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs a script of `scripts/` (no shell, off the cooperative pool) with `input` on stdin; returns its status and
    /// its output and errors together.
    static func script(_ name: String, _ arguments: [String] = [], input: Data? = nil) async throws -> (status: Int32, output: String) {
        let run = try await runProgram(root.appendingPathComponent("scripts/\(name)").path, arguments, directory: root, input: input)
        return (run.status, run.output + run.errors)
    }

    /// Runs `validate-manifests` on an overlay of our own (`kustomization`), written inside the repository (kustomize
    /// takes no absolute resource paths) under .build (not in git), and removed after.
    static func validateOverlay(_ kustomization: String) async throws -> (status: Int32, output: String) {
        let directory = Self.root.appendingPathComponent(".build/manifest-checks/\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(kustomization.utf8).write(to: directory.appendingPathComponent("kustomization.yaml"))
        return try await Self.script("validate-manifests", [directory.path])
    }

    @Test func everyRenderedManifestIsValidForKubernetes137() async throws {
        let (status, output) = try await Self.script("validate-manifests")
        #expect(status == 0, "\(output)")
        #expect(output.contains("validated against Kubernetes 1.37.0: all valid"), "\(output)")
        // The separate-namespace overlay really moves the recipe Role and points it at the reconciler's account.
        #expect(output.contains("RoleBinding euphrosyne-recipes/euphrosyne-recipe-runner binds ServiceAccount euphrosyne/euphrosyne"))
        #expect(output.contains("RECIPE_NAMESPACE resolves to euphrosyne-recipes"))
        #expect(output.contains("separate-recipe-namespace check: start-up check permissions in namespace euphrosyne-recipes: all granted"))
        // The lock-down (see deploy/README.md, "What is locked down").
        #expect(output.contains("deploy/base check: reconciler Pod reads only the Secrets it needs: euphrosyne-redis (reconciler-password)\n"))
        #expect(output.contains("deploy/base check: reconciler's ServiceAccount cannot read Secrets (no get, list or watch)"))
        #expect(output.contains("deploy/base check: reconciler logs in to Redis as euphrosyne with REDIS_PASSWORD from Secret euphrosyne-redis/reconciler-password"))
        #expect(output.contains("deploy/base check: Redis euphrosyne/redis needs credentials: default user off"))
        #expect(output.contains("deploy/base check: Deployment euphrosyne/redis Pod runs non-root with a read-only root filesystem and no privilege escalation (write-acl, redis)"))
        #expect(output.contains("deploy/base check: NetworkPolicy redis-clients isolates the Redis Pods (euphrosyne/redis): port 6379"))
        #expect(output.contains("deploy/base check: NetworkPolicy euphrosyne-listeners isolates the reconciler Pods (euphrosyne/euphrosyne): port 8080, 8081"))
        #expect(output.contains("NetworkPolicies let the reconciler and recipe Pods in euphrosyne-recipes reach Redis on 6379"))
        #expect(output.contains("deploy/base check: no Ingress routes to the API"))
        // One replica, or several with a leader election (deploy/components/high-availability).
        #expect(output.contains("deploy/base check: one reconciler replica at a time (Recreate)"))
        #expect(output.contains("deploy/overlays/high-availability check: 3 reconciler replicas elect a leader: LEADER_ELECTION=1, POD_NAME and POD_IP from the downward API, Leases granted"))
        #expect(output.contains("deploy/overlays/ingress check: Ingress euphrosyne/euphrosyne-api routes to the API (port 8081) with authentication on: API_TOKENS_FILE=/etc/euphrosyne/api/tokens from Secret euphrosyne-api-tokens, read-only"))
        #expect(output.contains("deploy/overlays/ingress check: reconciler Pod reads only the Secrets it needs: euphrosyne-redis (reconciler-password), euphrosyne-api-tokens"))
        // The cluster recipes run with accounts of their own; the reconciler gains no write on nodes or workloads.
        #expect(output.contains("deploy/overlays/cluster-recipes check: recipe ServiceAccounts exist in euphrosyne: network-diagnostics runs as network-diagnostics, node-diagnostics runs as node-diagnostics, cordon-node runs as cordon-node, delete-pod runs as delete-pod, drain-node runs as drain-node, rollout-restart runs as rollout-restart, rollout-undo runs as rollout-undo, scale-deployment runs as scale-deployment, uncordon-node runs as uncordon-node"))
        #expect(output.contains("deploy/overlays/cluster-recipes check: reconciler's ServiceAccount cannot change nodes or workloads, nor evict pods"))
        #expect(output.contains("ClusterRoleBinding euphrosyne-cordon-node binds ServiceAccount euphrosyne/cordon-node"))
    }

    /// A registry entry whose ServiceAccount is missing, and a reconciler that may patch nodes, are both refused.
    @Test func aRecipeAccountThatIsMissingAndAReconcilerThatMayPatchNodesAreRefused() async throws {
        let (status, output) = try await Self.validateOverlay("""
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - ../../../deploy/overlays/cluster-recipes
            patches:
              - target: {kind: ServiceAccount, name: drain-node}
                patch: |-
                  $patch: delete
                  apiVersion: v1
                  kind: ServiceAccount
                  metadata: {name: drain-node}
              - target: {kind: Role, name: euphrosyne}
                patch: |-
                  - op: add
                    path: /rules/-
                    value: {apiGroups: [""], resources: ["nodes"], verbs: ["patch"]}
            """)
        #expect(status == 1, "\(output)")
        #expect(output.contains("check: recipe ServiceAccounts exist in euphrosyne: missing for drain-node (drain-node)"), "\(output)")
        #expect(output.contains("check: reconciler's ServiceAccount cannot change nodes or workloads, nor evict pods: Role euphrosyne grants patch on nodes"),
                "\(output)")
    }

    /// Two replicas without a leader election would both run every recipe: the check refuses an overlay that
    /// scales the reconciler without one.
    @Test func moreThanOneReplicaWithoutALeaderElectionIsRefused() async throws {
        let (status, output) = try await Self.validateOverlay("""
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - ../../../deploy/base
            patches:
              - target: {kind: Deployment, name: euphrosyne}
                patch: |-
                  - op: replace
                    path: /spec/replicas
                    value: 2
            """)
        #expect(status == 1, "\(output)")
        #expect(output.contains("check: 2 reconciler replicas elect a leader: needs LEADER_ELECTION=1, POD_NAME and POD_IP from the downward API and get, create, update on leases"),
                "\(output)")
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
        var jobs: [any Encodable] = []
        for (index, recipe) in [plain, extended, action].enumerated() {
            let request = KubernetesJobShapeRequests.request(recipe, run: index + 1, approval: recipe.kind == .action ? 1 : nil)
            var data = KubernetesJobLauncher.dataConfigMap(for: request)
            objects.append(data)
            // As the server returns it, so the Job can own it.
            data.metadata.name = "euphrosyne-data-x7k2p"
            data.metadata.uid = UUID().uuidString.lowercased()
            let job = launcher.job(for: request, data: data)
            objects.append(job)
            jobs.append(job)
            objects.append(try #require(KubernetesJobLauncher.resultKeySecret(for: request, data: data)))
        }
        try await client.shutdown()

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func array(_ objects: [any Encodable]) throws -> Data {
            Data(("[" + (try objects.map { String(decoding: try encoder.encode($0), as: UTF8.self) }).joined(separator: ",") + "]").utf8)
        }
        let (status, output) = try await Self.script("validate-k8s-object.py", ["--label", "launcher", "-"], input: try array(objects))
        #expect(status == 0, "\(output)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 9, "\(output)")

        // And every Job carries the recipe Pod hardening (non-root, read-only root, /tmp emptyDir, no token,
        // resources).
        let (hardened, report) = try await Self.script("validate-manifests", ["--jobs", "-"], input: try array(jobs))
        #expect(hardened == 0, "\(report)")
        #expect(report.contains("3 Job(s) and 0 other object(s) validated against Kubernetes 1.37.0 and checked for the recipe Pod hardening: all valid"), "\(report)")
    }

    /// `validate-manifests --jobs` on hand-written Jobs: one shaped as the hardened launcher builds them passes, and
    /// each departure from the hardening fails its own check, and only that one.
    /// The whole objects the cluster recipes send (the rest of their writes are patches): drain-node's Eviction,
    /// with and without a grace period and as a dry run, and delete-pod's DeleteOptions.
    @Test func theObjectsTheClusterRecipesSendAreValid() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let objects: [Data] = [
            try encoder.encode(Eviction(pod: "web-7d4b9c6f5-x2x8q", namespace: "shop")),
            try encoder.encode(Eviction(pod: "web-7d4b9c6f5-x2x8q", namespace: "shop", gracePeriodSeconds: 30, dryRun: true)),
            // DeleteOptions is no kind of its own to the schemas; it is validated as the field type it is, an
            // Eviction's deleteOptions (io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions).
            try encoder.encode(JSONValue.object([
                "apiVersion": .string("policy/v1"), "kind": .string("Eviction"),
                "metadata": .object(["name": .string("api-0"), "namespace": .string("shop")]),
                "deleteOptions": KubernetesClient.deleteOptions(preconditionUID: "5f0c0a51-3f1e-4b7a-9c61-0d6c2d1e8a11", dryRun: true),
            ])),
        ]
        let input = Data("[".utf8) + objects.joined(separator: Data(",".utf8)) + Data("]".utf8)
        let (status, output) = try await Self.script("validate-k8s-object.py", ["--label", "recipes", "-"], input: input)
        #expect(status == 0, "\(output)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 3, "\(output)")
    }

    @Test func theJobsCheckHoldsEachJobToTheRecipePodHardening() async throws {
        typealias Edit = (inout [String: Any], inout [String: Any], inout [String: Any]) -> Void  // pod, container, tmp volume
        let cases: [(name: String, failing: String?, edit: Edit)] = [
            ("hardened", nil, { _, _, _ in }),
            ("with-account", nil, { pod, _, _ in
                pod["serviceAccountName"] = "pod-reader"
                pod["automountServiceAccountToken"] = nil
            }),
            ("root", "Pod runs as non-root", { pod, _, _ in pod["securityContext"] = Self.merged(pod["securityContext"], ["runAsUser": 0]) }),
            ("no-non-root", "Pod runs as non-root", { pod, _, _ in
                pod["securityContext"] = Self.merged(pod["securityContext"], ["runAsNonRoot": false])
            }),
            ("container-root", "Pod runs as non-root", { _, container, _ in
                container["securityContext"] = Self.merged(container["securityContext"], ["runAsUser": 0])
            }),
            ("writable-root", "every container", { _, container, _ in
                container["securityContext"] = Self.merged(container["securityContext"], ["readOnlyRootFilesystem": false])
            }),
            ("escalating", "every container", { _, container, _ in
                container["securityContext"] = Self.merged(container["securityContext"], ["allowPrivilegeEscalation": true])
            }),
            ("capable", "every container", { _, container, _ in
                container["securityContext"] = Self.merged(container["securityContext"], ["capabilities": ["drop": ["NET_RAW"]]])
            }),
            ("no-tmp", "a writable emptyDir at /tmp", { _, container, _ in
                container["volumeMounts"] = [["name": "data", "mountPath": "/app", "readOnly": true]]
            }),
            ("read-only-tmp", "a writable emptyDir at /tmp", { _, container, _ in
                container["volumeMounts"] = [["name": "data", "mountPath": "/app", "readOnly": true],
                                             ["name": "tmp", "mountPath": "/tmp", "readOnly": true]]
            }),
            ("tmp-from-configmap", "a writable emptyDir at /tmp", { _, _, tmp in
                tmp = ["name": "tmp", "configMap": ["name": "euphrosyne-data-x7k2p"]]
            }),
            ("token", "no service account token", { pod, _, _ in pod["automountServiceAccountToken"] = nil }),
            ("unbounded", "cpu and memory requests and limits", { _, container, _ in
                container["resources"] = ["requests": ["cpu": "50m", "memory": "64Mi"], "limits": ["memory": "256Mi"]]
            }),
        ]
        let jobs = cases.map { Self.hardenedJob(named: $0.name, edit: $0.edit) }
        let input = try JSONSerialization.data(withJSONObject: jobs, options: [.sortedKeys])
        let (status, output) = try await Self.script("validate-manifests", ["--jobs", "-"], input: input)
        #expect(status == 1, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        for (name, failing, _) in cases {
            // The object itself is valid for Kubernetes whatever its hardening.
            #expect(lines.contains("ok   jobs Job recipes/\(name)-*"), "\(name): \(output)")
            let checks = lines.filter { $0.contains(" Job recipes/\(name)-* check: ") }
            #expect(checks.count == 5, "\(name): \(checks)")
            let failed = checks.filter { $0.hasPrefix("FAIL") }.map { $0.components(separatedBy: " check: ")[1] }
            if let failing {
                #expect(failed.count == 1 && failed[0].hasPrefix(failing), "\(name): \(checks)")
            } else {
                #expect(failed.isEmpty, "\(name): \(checks)")
            }
        }
    }

    /// A recipe Job as the hardened launcher builds it (the contract of that change), changed by `edit`.
    static func hardenedJob(
        named name: String, edit: (inout [String: Any], inout [String: Any], inout [String: Any]) -> Void
    ) -> [String: Any] {
        let secretRef = { (secret: String, key: String, optional: Bool) -> [String: Any] in
            ["valueFrom": ["secretKeyRef": ["name": secret, "key": key, "optional": optional]]]
        }
        var container: [String: Any] = [
            "name": "recipe",
            "image": "euphrosyne/recipes:latest",
            "command": ["euphrosyne-recipes", "dummy"],
            "args": ["--data-file-path", "/app/data.json", "--aggregator-address", "", "--redis-address",
                     "redis.euphrosyne.svc:6379"],
            "env": [
                ["name": "JIRA_URL"].merging(secretRef("euphrosyne-keys", "jira-url", true)) { $1 },
                ["name": "REDIS_USERNAME", "value": "euphrosyne-recipe"],
                ["name": "REDIS_PASSWORD"].merging(secretRef("euphrosyne-redis", "recipe-password", true)) { $1 },
                ["name": "EUPHROSYNE_RESULT_KEY"].merging(secretRef("euphrosyne-data-x7k2p", "result-key", false)) { $1 },
            ],
            "securityContext": [
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": ["drop": ["ALL"]], "seccompProfile": ["type": "RuntimeDefault"],
            ],
            "resources": ["requests": ["cpu": "50m", "memory": "64Mi"], "limits": ["cpu": "500m", "memory": "256Mi"]],
            "volumeMounts": [["name": "data", "mountPath": "/app", "readOnly": true], ["name": "tmp", "mountPath": "/tmp"]],
        ]
        var tmp: [String: Any] = ["name": "tmp", "emptyDir": ["sizeLimit": "64Mi"]]
        var pod: [String: Any] = [
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "securityContext": [
                "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "seccompProfile": ["type": "RuntimeDefault"],
            ],
        ]
        edit(&pod, &container, &tmp)
        pod["containers"] = [container]
        pod["volumes"] = [["name": "data", "configMap": ["name": "euphrosyne-data-x7k2p"]], tmp]
        let labels = ["app": "euphrosyne", "recipe": "dummy", "uuid": KubernetesJobShapeRequests.incident.uuidString.lowercased()]
        return [
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["generateName": "\(name)-", "namespace": "recipes", "labels": labels],
            "spec": [
                "backoffLimit": 0, "activeDeadlineSeconds": 300, "ttlSecondsAfterFinished": 3600,
                "template": ["metadata": ["labels": labels], "spec": pod],
            ],
        ]
    }

    static func merged(_ value: Any?, _ changes: [String: Any]) -> [String: Any] {
        ((value as? [String: Any]) ?? [:]).merging(changes) { $1 }
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
