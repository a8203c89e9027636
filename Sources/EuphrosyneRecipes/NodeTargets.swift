import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

/// Which nodes an incident is about: for an action, the approver's `node`; else the firing alerts' `node` labels;
/// else the nodes the pods the alerts name (`namespace` + `pod` labels) run on. Shared by `node-diagnostics` and
/// the node actions, so the button acts on the node the analysis talked about.
struct NodeTargets {
    var nodes: [String]
    /// Pods (namespace, name) whose node must be looked up.
    var pods: [(namespace: String, name: String)]

    /// What the input names, without asking the API. `approverData`: whether the data's `node` counts (actions).
    init(_ input: RecipeInput, approverData: Bool) {
        if approverData, let node = input.string("node")?.trimmingCharacters(in: .whitespaces), !node.isEmpty {
            nodes = [node]
            pods = []
            return
        }
        let notification = input.alert
        let alerts = notification.firingAlerts.isEmpty ? notification.alerts : notification.firingAlerts
        var nodes: [String] = []
        var pods: [(namespace: String, name: String)] = []
        for alert in alerts {
            let labels = notification.commonLabels.merging(alert.labels) { _, own in own }
            if let node = labels["node"], !node.isEmpty {
                if !nodes.contains(node) { nodes.append(node) }
            } else if let namespace = labels["namespace"], !namespace.isEmpty, let pod = labels["pod"], !pod.isEmpty,
                      !pods.contains(where: { $0 == (namespace, pod) }) {
                pods.append((namespace, pod))
            }
        }
        self.nodes = nodes
        self.pods = pods
    }

    /// Why the input names no node, for the recipe's error: which labels it had instead.
    static func noNode(_ input: RecipeInput, approverData: Bool) -> RecipeError {
        let has = input.alert.labelsSentence()
        let data = approverData ? "the approval data has no \"node\", and " : ""
        return .failed("no node to \(approverData ? "act on" : "diagnose"): \(data)no firing alert has a node label, or namespace and pod labels of a pod that runs on a node; \(has)")
    }

    /// The nodes, with the pods' nodes looked up (a pod that is gone or not yet scheduled adds none; why is
    /// returned as notes).
    func resolve(_ kubernetes: RecipeKubernetes) async throws -> (nodes: [String], notes: [String]) {
        var nodes = self.nodes
        var notes: [String] = []
        for (namespace, name) in pods {
            do throws(KubernetesError) {
                let pod = try await kubernetes.client.get(Pod.self, name: name, namespace: namespace)
                if let node = pod.spec?.nodeName, !node.isEmpty {
                    if !nodes.contains(node) { nodes.append(node) }
                } else {
                    notes.append("Pod \(namespace)/\(name) is not scheduled on any node yet.")
                }
            } catch {
                let why = try kubernetes.explain(error, verb: "get", resource: "pods", namespace: namespace)
                notes.append("Pod \(namespace)/\(name): cannot find its node: \(why).")
            }
        }
        return (nodes, notes)
    }

    /// The one node an action acts on; several are ambiguous and none is an error, both naming what to give.
    func single(_ input: RecipeInput, _ kubernetes: RecipeKubernetes) async throws -> String {
        let (nodes, notes) = try await resolve(kubernetes)
        guard let node = nodes.first else {
            if !notes.isEmpty { throw RecipeError.failed("no node to act on: " + notes.joined(separator: " ")) }
            throw Self.noNode(input, approverData: true)
        }
        guard nodes.count == 1 else {
            throw RecipeError.failed("the alert names \(nodes.count) nodes (\(nodes.joined(separator: ", "))); give the one to act on as \"node\" in the approval data")
        }
        return node
    }
}
