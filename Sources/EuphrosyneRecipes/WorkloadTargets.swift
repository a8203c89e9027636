import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

/// Which Deployment or pod an incident is about, for the workload actions and `network-diagnostics`:
/// the approver's data first (`namespace` with `deployment` or `pod`), then the firing alerts' labels.
struct WorkloadTargets {
    struct Reference: Hashable, Sendable, CustomStringConvertible {
        var namespace: String
        var name: String
        var description: String { "\(namespace)/\(name)" }
    }

    var deployments: [Reference] = []
    var pods: [Reference] = []
    var services: [Reference] = []

    /// What the input names. `approverData`: whether the data's keys count (actions).
    init(_ input: RecipeInput, approverData: Bool) {
        if approverData {
            let namespace = Self.text(input, "namespace")
            let labels = Self.labelSets(input.alert)
            // A name in the data with no namespace in it takes the alert's namespace, when the alert has one.
            let fallbackNamespace = namespace ?? labels.compactMap { $0["namespace"] }.first { !$0.isEmpty }
            if let space = fallbackNamespace {
                if let deployment = Self.text(input, "deployment") { deployments = [Reference(namespace: space, name: deployment)] }
                if let pod = Self.text(input, "pod") { pods = [Reference(namespace: space, name: pod)] }
                if let service = Self.text(input, "service") { services = [Reference(namespace: space, name: service)] }
                if !deployments.isEmpty || !pods.isEmpty || !services.isEmpty { return }
            }
        }
        for labels in Self.labelSets(input.alert) {
            guard let namespace = labels["namespace"], !namespace.isEmpty else { continue }
            func add(_ key: String, to list: inout [Reference]) {
                if let name = labels[key], !name.isEmpty, !list.contains(Reference(namespace: namespace, name: name)) {
                    list.append(Reference(namespace: namespace, name: name))
                }
            }
            add("deployment", to: &deployments)
            add("pod", to: &pods)
            add("service", to: &services)
        }
    }

    static func text(_ input: RecipeInput, _ key: String) -> String? {
        input.string(key).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Each firing alert's labels merged over the common labels (all alerts when none fires).
    static func labelSets(_ notification: AlertNotification) -> [[String: String]] {
        let alerts = notification.firingAlerts.isEmpty ? notification.alerts : notification.firingAlerts
        return alerts.map { notification.commonLabels.merging($0.labels) { _, own in own } }
    }

    /// Why nothing is named, for an error: what to give and the labels the alert had.
    static func nothingNamed(_ input: RecipeInput, wanted: String, keys: String) -> RecipeError {
        .failed("no \(wanted) to act on: give \(keys) in the approval data, or alert with those labels; \(input.alert.labelsSentence())")
    }

    /// The one Deployment an action acts on: named, or the owner of the named pod's ReplicaSet.
    func singleDeployment(_ input: RecipeInput, _ kubernetes: RecipeKubernetes) async throws -> Reference {
        var found = deployments
        if found.isEmpty {
            for pod in pods.prefix(5) {
                if let owner = try await Self.deployment(owning: pod, kubernetes), !found.contains(owner) { found.append(owner) }
            }
        }
        guard let first = found.first else {
            throw Self.nothingNamed(input, wanted: "Deployment", keys: "namespace and deployment (or a pod of it)")
        }
        guard found.count == 1 else {
            throw RecipeError.failed("the alert names \(found.count) Deployments (\(found.map(\.description).joined(separator: ", "))); give the one to act on as namespace and deployment in the approval data")
        }
        return first
    }

    /// The Deployment that owns a pod through its ReplicaSet, or nil for a pod that a Deployment does not own.
    static func deployment(owning pod: Reference, _ kubernetes: RecipeKubernetes) async throws -> Reference? {
        let object: Pod
        do throws(KubernetesError) {
            object = try await kubernetes.client.get(Pod.self, name: pod.name, namespace: pod.namespace)
        } catch {
            throw kubernetes.failure(error, doing: "read pod \(pod) to find its Deployment", verb: "get", resource: "pods",
                                     namespace: pod.namespace)
        }
        guard let owner = object.controller, owner.kind == "ReplicaSet" else { return nil }
        let replicaSet: ReplicaSet
        do throws(KubernetesError) {
            replicaSet = try await kubernetes.client.get(ReplicaSet.self, name: owner.name, namespace: pod.namespace)
        } catch {
            throw kubernetes.failure(error, doing: "read the ReplicaSet \(pod.namespace)/\(owner.name) of pod \(pod)", verb: "get",
                                     resource: "replicasets.apps", namespace: pod.namespace)
        }
        guard let deployment = replicaSet.metadata.ownerReferences?.first(where: { $0.controller == true && $0.kind == "Deployment" })
        else { return nil }
        return Reference(namespace: pod.namespace, name: deployment.name)
    }
}
