import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOHTTP1
import Testing

/// ServiceAccount identities: each token is authorised by its own account's rules, and the kubelet gives a pod
/// the credentials of its ServiceAccount.
@Suite struct IdentityTests {
    static let readConfigMaps = Permissions(rules: [.init(verbs: ["get", "list"], resources: ["configmaps"], namespaces: ["recipes"])])

    @Test func serviceAccountTokenIsAuthorisedByItsOwnRules() async throws {
        try await withEmulator(namespaces: ["default", "recipes"], permissions: .reconciler()) { emulator, client in
            let token = await emulator.addServiceAccount(namespace: "recipes", name: "reader", permissions: Self.readConfigMaps)
            let adminToken = await emulator.validToken()
            #expect(token != adminToken)

            let allowed = try await client.send(.GET, "/api/v1/namespaces/recipes/configmaps", token: token)
            #expect(allowed.status == 200 && allowed.body["kind"] == "ConfigMapList")
            let log = await emulator.requestLog
            #expect(log.last?.user == "system:serviceaccount:recipes:reader")

            // Secrets are not in its rules (the admin's reconciler role may create them; that does not matter).
            let secrets = try await client.send(.POST, "/api/v1/namespaces/recipes/secrets", ["metadata": ["name": "x"]], token: token)
            #expect(secrets.status == 403 && secrets.body["reason"] == "Forbidden")
            #expect(secrets.body["message"] == "secrets is forbidden: User \"system:serviceaccount:recipes:reader\" cannot create resource \"secrets\" in API group \"\" in the namespace \"recipes\"")
            // Its rules are bound in `recipes` only.
            let elsewhere = try await client.send(.GET, "/api/v1/namespaces/default/configmaps/a", token: token)
            #expect(elsewhere.status == 403)
            #expect(elsewhere.body["message"].string?.contains("User \"system:serviceaccount:recipes:reader\" cannot get resource \"configmaps\"") == true)
            let everywhere = try await client.send(.GET, "/api/v1/configmaps", token: token)
            #expect(everywhere.status == 403 && everywhere.body["message"].string?.hasSuffix("at the cluster scope") == true)

            // The admin keeps its own permissions and name.
            let admin = try await client.send(.POST, "/api/v1/namespaces/recipes/secrets", ["metadata": ["name": "x"]])
            #expect(admin.status == 201)
            #expect(await emulator.requestLog.last?.user == "system:serviceaccount:default:emulator")
            let adminDenied = try await client.send(.GET, "/api/v1/namespaces/recipes/secrets/x")
            #expect(adminDenied.body["message"].string?.contains("User \"system:serviceaccount:default:emulator\" cannot get") == true)

            // Unknown tokens: 401, logged without a user.
            let unknown = try await client.send(.GET, "/api/v1/namespaces/recipes/configmaps", token: "nope")
            #expect(unknown.status == 401)
            #expect(await emulator.requestLog.last?.user == "")

            // Registering again replaces the permissions and keeps the token.
            let again = await emulator.addServiceAccount(namespace: "recipes", name: "reader", permissions: .none)
            #expect(again == token)
            #expect(try await client.send(.GET, "/api/v1/namespaces/recipes/configmaps", token: token).status == 403)
            await emulator.setServiceAccountPermissions(namespace: "recipes", name: "reader", Self.readConfigMaps)
            #expect(try await client.send(.GET, "/api/v1/namespaces/recipes/configmaps", token: token).status == 200)
            #expect(await emulator.serviceAccountToken(namespace: "recipes", name: "reader") == token)
        }
    }

    @Test func selfSubjectAccessReviewAnswersForTheCaller() async throws {
        try await withEmulator(namespaces: ["default", "recipes"], permissions: .all) { emulator, client in
            let token = await emulator.addServiceAccount(namespace: "recipes", name: "reader", permissions: Self.readConfigMaps)
            func review(_ verb: String, _ resource: String, token: String?) async throws -> Bool? {
                let reply = try await client.send(.POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", [
                    "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                    "spec": ["resourceAttributes": ["namespace": "recipes", "verb": .string(verb), "resource": .string(resource)]],
                ], token: token.map { .some($0) } ?? .none)
                #expect(reply.status == 201)
                return reply.body["status"]["allowed"].bool
            }
            let answers = [try await review("list", "configmaps", token: token), try await review("delete", "configmaps", token: token),
                           try await review("delete", "configmaps", token: nil)]
            #expect(answers == [true, false, true])
        }
    }

    @Test func kubeletGivesAPodItsServiceAccountsKubeconfig() async throws {
        try await withTemporaryDirectory { directory in
            try writeExecutableScript(at: "\(directory)/whoami.sh", """
            #!/bin/sh
            echo "KUBECONFIG=$KUBECONFIG"
            if [ -f "$KUBECONFIG" ]; then cat "$KUBECONFIG"; fi
            exit 0
            """)
            let configuration = Kubelet.Configuration(images: ["test/recipes:1": .init(directory: directory)])
            try await withEmulator(namespaces: ["default", "recipes"], kubelet: configuration) { emulator, client in
                let token = await emulator.addServiceAccount(namespace: "recipes", name: "cordon-node", permissions: Self.readConfigMaps)
                func pod(_ name: String, account: String?, automount: Bool? = nil, env: [JSON] = [], tmp: Bool = false) -> JSON {
                    var container: JSON = ["name": "main", "image": "test/recipes:1", "command": ["whoami.sh"]]
                    if !env.isEmpty { container["env"] = .array(env) }
                    // A recipe pod mounts an emptyDir at /tmp: the credentials' path (this machine's) is not the
                    // container's /tmp, even when the scratch directory lies under /tmp.
                    if tmp { container["volumeMounts"] = [["name": "tmp", "mountPath": "/tmp"]] }
                    var spec: JSON = ["restartPolicy": "Never", "containers": [container]]
                    if tmp { spec["volumes"] = [["name": "tmp", "emptyDir": [:]]] }
                    if let account { spec["serviceAccountName"] = .string(account) }
                    if let automount { spec["automountServiceAccountToken"] = .bool(automount) }
                    return ["metadata": ["name": .string(name)], "spec": spec]
                }
                for manifest in [pod("registered", account: "cordon-node"), pod("unregistered", account: "nobody"),
                                 pod("with-tmp", account: "cordon-node", tmp: true),
                                 pod("opted-out", account: "cordon-node", automount: false),
                                 pod("own-env", account: "cordon-node", env: [["name": "KUBECONFIG", "value": "/mine"]])] {
                    #expect(try await client.send(.POST, "/api/v1/namespaces/recipes/pods", manifest).status == 201)
                }
                func log(_ name: String) async throws -> String {
                    try await waitUntil("pod \(name) to finish") {
                        await emulator.object(.pods, namespace: "recipes", name: name)?["status"]["phase"] == "Succeeded"
                    }
                    return try await client.send(.GET, "/api/v1/namespaces/recipes/pods/\(name)/log").text
                }
                let registered = try await log("registered")
                #expect(registered.contains("KUBECONFIG=/") && registered.contains("serviceaccount/kubeconfig"))
                #expect(registered.contains("token: \"\(token)\""))
                #expect(registered.contains("namespace: \"recipes\"") && registered.contains("server: \(emulator.baseURL)"))
                #expect(registered.contains("certificate-authority-data: \(Data(emulator.caPEM.utf8).base64EncodedString())"))
                #expect(try await log("with-tmp").contains("token: \"\(token)\""))
                #expect(try await log("unregistered").hasPrefix("KUBECONFIG=\n"))
                #expect(try await log("opted-out").hasPrefix("KUBECONFIG=\n"))
                #expect(try await log("own-env").hasPrefix("KUBECONFIG=/mine\n"))
            }
        }
    }

    /// A Job's pod, running the real kubectl with nothing but what the kubelet gave it, acts as the Job's account.
    @Test func jobPodUsesItsServiceAccountWithKubectl() async throws {
        let kubectl = "/usr/bin/kubectl"
        try #require(FileManager.default.isExecutableFile(atPath: kubectl), "kubectl is not installed")
        try await withTemporaryDirectory { directory in
            let configuration = Kubelet.Configuration(images: ["test/recipes:1": .init(directory: directory)])
            try await withEmulator(namespaces: ["default", "recipes"], kubelet: configuration) { emulator, client in
                await emulator.addServiceAccount(namespace: "recipes", name: "reader", permissions: Self.readConfigMaps)
                try await emulator.seed(.configMaps, namespace: "recipes", ["metadata": ["name": "visible"]])
                var job = jobManifest(command: ["kubectl", "--cache-dir", "\(directory)/cache", "get", "configmaps", "-o", "name"],
                                      env: [["name": "HOME", "value": .string(directory)]])
                job["spec"]["template"]["spec"]["serviceAccountName"] = "reader"
                let created = try await client.send(.POST, "/apis/batch/v1/namespaces/recipes/jobs", job)
                let name = try #require(created.body["metadata"]["name"].string)
                try await waitUntil("the job to finish") {
                    let job = await emulator.object(.jobs, namespace: "recipes", name: name)
                    return job.flatMap { condition($0, "Complete") ?? condition($0, "Failed") } != nil
                }
                let pod = try #require(await emulator.objects(.pods, namespace: "recipes").first)
                let log = try await client.send(.GET, "/api/v1/namespaces/recipes/pods/\(pod["metadata"]["name"].string ?? "")/log").text
                #expect(log.contains("configmap/visible"), "\(log)")
                #expect(await emulator.requestLog.contains {
                    $0.path == "/api/v1/namespaces/recipes/configmaps" && $0.user == "system:serviceaccount:recipes:reader" && $0.status == 200
                })
            }
        }
    }
}
