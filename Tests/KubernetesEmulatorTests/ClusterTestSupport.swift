import Foundation
import KubernetesEmulator

/// Manifests for the node, scheduling, disruption and drain tests.
enum Cluster {
    /// A Node with a `Ready` condition of `ready` (`True`, `False`, `Unknown`; nil: no conditions) and a kubelet version.
    static func node(_ name: String, ready: String? = "True", labels: [String: String] = [:], unschedulable: Bool? = nil,
                     taints: [JSON] = []) -> JSON {
        var spec: JSON = [:]
        if let unschedulable { spec["unschedulable"] = .bool(unschedulable) }
        if !taints.isEmpty { spec["taints"] = .array(taints) }
        var status: JSON = ["nodeInfo": ["kubeletVersion": "v1.32.4"], "capacity": ["cpu": "4", "memory": "8Gi", "pods": "110"]]
        if let ready {
            status["conditions"] = [["type": "Ready", "status": .string(ready), "reason": ready == "True" ? "KubeletReady" : "KubeletNotReady",
                                     "message": "", "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"]]
        }
        return ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name), "labels": .object(labels.mapValues { .string($0) })],
                "spec": spec, "status": status]
    }

    /// A pod (image `test/recipes:1`, `command`) optionally bound to `node` and controlled by `owner`.
    static func pod(_ name: String, node: String? = nil, labels: [String: String] = ["app": "web"], owner: JSON? = nil,
                    tolerations: [JSON] = [], command: [String] = ["sleep", "30"], restartPolicy: String = "Always") -> JSON {
        var spec: JSON = ["restartPolicy": .string(restartPolicy),
                          "containers": [["name": "main", "image": "test/recipes:1", "command": .array(command.map { .string($0) })]]]
        if let node { spec["nodeName"] = .string(node) }
        if !tolerations.isEmpty { spec["tolerations"] = .array(tolerations) }
        var metadata: JSON = ["name": .string(name), "labels": .object(labels.mapValues { .string($0) })]
        if let owner {
            metadata["ownerReferences"] = [["apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
                                            "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true]]
        }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
    }

    /// A running pod's status, Ready or not.
    static func running(ready: Bool = true) -> JSON {
        let value: JSON = ready ? "True" : "False"
        return ["phase": "Running", "conditions": [
            ["type": "Ready", "status": value, "lastProbeTime": .null, "lastTransitionTime": "2026-01-01T00:00:00Z"],
            ["type": "PodScheduled", "status": "True", "lastProbeTime": .null, "lastTransitionTime": "2026-01-01T00:00:00Z"],
        ]]
    }

    /// A PodDisruptionBudget selecting `app=<app>` (or with `selector` as given).
    static func budget(_ name: String, app: String = "web", minAvailable: JSON? = nil, maxUnavailable: JSON? = nil,
                       selector: JSON? = nil, policy: String? = nil) -> JSON {
        var spec: JSON = ["selector": selector ?? ["matchLabels": ["app": .string(app)]]]
        if let minAvailable { spec["minAvailable"] = minAvailable }
        if let maxUnavailable { spec["maxUnavailable"] = maxUnavailable }
        if let policy { spec["unhealthyPodEvictionPolicy"] = .string(policy) }
        return ["apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": ["name": .string(name)], "spec": spec]
    }

    /// A DaemonSet (stored only: nothing makes its pods).
    static func daemonSet(_ name: String) -> JSON {
        ["apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": ["name": .string(name)],
         "spec": ["selector": ["matchLabels": ["app": .string(name)]],
                  "template": ["metadata": ["labels": ["app": .string(name)]],
                               "spec": ["containers": [["name": "agent", "image": "test/recipes:1"]]]]]]
    }

    /// A Deployment to own pods (without a kubelet its ReplicaSet gets no pods; tests seed them with it as their controller).
    static func deployment(_ name: String) -> JSON {
        ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
         "spec": ["selector": ["matchLabels": ["app": .string(name)]],
                  "template": ["metadata": ["labels": ["app": .string(name)]],
                               "spec": ["containers": [["name": "main", "image": "test/recipes:1"]]]]]]
    }

    static func eviction(_ name: String, namespace: String = "default", deleteOptions: JSON? = nil) -> JSON {
        var body: JSON = ["apiVersion": "policy/v1", "kind": "Eviction", "metadata": ["name": .string(name), "namespace": .string(namespace)]]
        if let deleteOptions { body["deleteOptions"] = deleteOptions }
        return body
    }
}
