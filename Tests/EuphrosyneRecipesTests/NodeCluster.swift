import EuphrosyneCore
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// A cluster in the Kubernetes API emulator for the cluster recipes (worker nodes; with `images`, a kubelet that runs
/// the pods of Deployments): each recipe runs with a kubeconfig of its own ServiceAccount, holding exactly what
/// `deploy/components/node-recipes/rbac.yaml` or `deploy/components/workload-recipes/rbac.yaml` grants it.
struct NodeCluster {
    let emulator: KubernetesEmulator
    let directory: String

    /// The repository root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// What the shipped manifests grant the ServiceAccount `account`.
    static func shippedPermissions(_ account: String) throws -> Permissions {
        let yaml = try ["node-recipes", "workload-recipes"].map {
            try String(contentsOf: root.appendingPathComponent("deploy/components/\($0)/rbac.yaml"), encoding: .utf8)
        }.joined(separator: "\n---\n")
        return try Permissions.granted(to: account, byManifests: yaml)
    }

    /// Runs `body` with an emulator serving `shop`, `kube-system` and `default`, and the nodes `worker-1` … `worker-<nodes>`
    /// (Ready, schedulable); stops it after, on every path.
    static func with<T: Sendable>(
        nodes: Int = 5, images: [String: Kubelet.Image]? = nil, _ body: (NodeCluster) async throws -> T
    ) async throws -> T {
        let emulator = try await KubernetesEmulator.start(
            namespaces: ["shop", "kube-system", "default", "euphrosyne"],
            kubelet: images.map { Kubelet.Configuration(images: $0, environment: ["PATH": "/usr/bin:/bin"]) })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-recipes-\(UUID().uuidString.prefix(8))").path
        let cluster = NodeCluster(emulator: emulator, directory: directory)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for index in 1...max(nodes, 1) where nodes > 0 {
                try await cluster.seedNode("worker-\(index)")
            }
            let result = try await body(cluster)
            await emulator.stop()
            try? FileManager.default.removeItem(atPath: directory)
            return result
        } catch {
            await emulator.stop()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// A kubeconfig for the ServiceAccount `euphrosyne/<account>`, registered with `permissions` (default: what the
    /// shipped manifests grant it).
    func kubeconfig(for account: String, permissions: Permissions? = nil) async throws -> String {
        let granted = try permissions ?? Self.shippedPermissions(account)
        let token = await emulator.addServiceAccount(namespace: "euphrosyne", name: account, permissions: granted)
        let path = directory + "/\(account)-\(UUID().uuidString.prefix(4)).kubeconfig"
        let text = """
            apiVersion: v1
            kind: Config
            clusters: [{name: emulator, cluster: {server: "\(emulator.baseURL)", certificate-authority-data: \(Data(emulator.caPEM.utf8).base64EncodedString())}}]
            users: [{name: \(account), user: {token: "\(token)"}}]
            contexts: [{name: emulator, context: {cluster: emulator, user: \(account), namespace: euphrosyne}}]
            current-context: emulator

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @discardableResult
    func seedNode(_ name: String, ready: String = "True", cordoned: Bool = false, conditions: [JSON] = [],
                  allocatable: JSON = ["cpu": "4", "memory": "16Gi", "pods": "110"]) async throws -> JSON {
        var spec: JSON = [:]
        if cordoned {
            spec["unschedulable"] = true
            spec["taints"] = [["key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"]]
        }
        let readyCondition: JSON = [
            "type": "Ready", "status": .string(ready), "reason": .string(ready == "True" ? "KubeletReady" : "KubeletNotReady"),
            "message": .string(ready == "True" ? "kubelet is posting ready status" : "container runtime network not ready: NetworkReady=false"),
            "lastHeartbeatTime": "2026-12-05T08:59:00Z", "lastTransitionTime": "2026-12-05T08:00:00Z",
        ]
        return try await emulator.seed(.nodes, namespace: "", [
            "metadata": ["name": .string(name), "labels": ["kubernetes.io/hostname": .string(name)]],
            "spec": spec,
            "status": ["conditions": .array([readyCondition] + conditions), "allocatable": allocatable, "capacity": allocatable,
                       "nodeInfo": ["kubeletVersion": "v1.37.0"]],
        ])
    }

    /// An object that owns pods: a DaemonSet (`kind` DaemonSet) or, standing in for a ReplicaSet, a Deployment.
    /// Returns its uid, for the pods' ownerReferences.
    func seedOwner(_ kind: String, _ name: String, namespace: String = "shop") async throws -> String {
        let selector: JSON = ["matchLabels": ["app": .string(name)]]
        let template: JSON = ["metadata": ["labels": ["app": .string(name)]],
                              "spec": ["containers": [["name": "app", "image": "shop/app:1"]]]]
        let object = try await emulator.seed(kind == "DaemonSet" ? .daemonSets : .deployments, namespace: namespace, [
            "metadata": ["name": .string(name)], "spec": ["selector": selector, "template": template],
        ])
        return object["metadata"]["uid"].string ?? ""
    }

    /// A running pod bound to `node`, owned (as controller) by `owner` (kind, name, uid) unless nil; Ready unless
    /// `ready` is false (then crash-looping).
    func seedPod(_ name: String, namespace: String = "shop", node: String, owner: (kind: String, name: String, uid: String)?,
                 labels: JSON = ["app": "web"], ready: Bool = true, requests: JSON = [:]) async throws {
        var metadata: JSON = ["name": .string(name), "labels": labels]
        if let owner {
            metadata["ownerReferences"] = [["apiVersion": "apps/v1", "kind": .string(owner.kind), "name": .string(owner.name),
                                            "uid": .string(owner.uid), "controller": true, "blockOwnerDeletion": true]]
        }
        _ = try await emulator.seed(.pods, namespace: namespace, [
            "metadata": metadata,
            "spec": ["nodeName": .string(node), "containers": [["name": "app", "image": "shop/app:1", "resources": ["requests": requests]]]],
        ])
        let state: JSON = ready ? ["running": ["startedAt": "2026-12-05T08:00:00Z"]]
            : ["waiting": ["reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"]]
        try await emulator.setPodStatus(namespace: namespace, name: name, status: [
            "phase": "Running",
            "conditions": [["type": "PodScheduled", "status": "True"], ["type": "Ready", "status": .string(ready ? "True" : "False")]],
            "containerStatuses": [["name": "app", "image": "shop/app:1", "ready": .bool(ready), "restartCount": .int(ready ? 0 : 9),
                                   "state": state]],
        ])
    }

    func node(_ name: String) async -> JSON? {
        await emulator.object(.nodes, namespace: "", name: name)
    }

    /// The recipe's context: an Alertmanager notification whose one firing alert has `labels`; for an action, the
    /// approver's `data` beside it (as the reconciler writes an action's data file).
    static func context(
        _ recipe: String, labels: [String: String], data: [String: JSONValue] = [:], kubeconfig: String,
        environment: [String: String] = [:]
    ) throws -> RecipeContext {
        let alert: JSON = ["status": "firing", "labels": .object(labels.mapValues { .string($0) }),
                           "annotations": ["summary": "node trouble"], "startsAt": "2026-12-05T08:01:00Z",
                           "endsAt": "0001-01-01T00:00:00Z"]
        let notification: JSON = ["version": "4", "status": "firing", "receiver": "reconciler", "alerts": [alert],
                                   "groupLabels": [:], "commonLabels": [:]]
        var file = try JSONValue.parseObject(notification.serializedData())
        if !data.isEmpty || recipe != "node-diagnostics" {
            file = data.merging(["alert": .object(file)]) { own, _ in own }
        }
        file["uuid"] = .string("incident-1")
        return RecipeContext(
            name: recipe, arguments: RecipeArguments(dataFilePath: "unused"),
            environment: RecipeEnvironment(["KUBECONFIG": kubeconfig].merging(environment) { $1 }),
            input: RecipeInput(incident: "incident-1", data: file)
        )
    }

    /// The failure message `work` throws, which must be a `RecipeError.failed`.
    static func failure(_ work: () async throws -> RecipeOutcome) async -> String? {
        do {
            let outcome = try await work()
            Issue.record("expected a failure, got \(outcome)")
            return nil
        } catch let error as RecipeError {
            #expect(error.kind == .failed)
            return error.message
        } catch {
            Issue.record("expected a RecipeError, got \(error)")
            return nil
        }
    }
}
