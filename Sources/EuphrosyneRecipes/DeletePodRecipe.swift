import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

extension BuiltinRecipes {
    /// `delete-pod` (action): deletes one pod that its controller (a ReplicaSet, StatefulSet or DaemonSet) will
    /// replace, refusing a pod without one and a pod whose controller has fewer than two ready replicas (deleting it
    /// would take the workload down). It waits until the pod is gone and its controller is back to as many ready
    /// replicas as before. The pod is the approver's `namespace` and `pod`, else the alert's.
    @Sendable public static func deletePod(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await DeletePodRecipe(context: context).run()
    }
}

/// The I/O of `delete-pod`.
struct DeletePodRecipe {
    let context: RecipeContext

    /// The controllers whose pods come back, and where they live (group, plural).
    static let replacingControllers: [String: (group: String, plural: String)] = [
        "ReplicaSet": ("apps", "replicasets"), "StatefulSet": ("apps", "statefulsets"), "DaemonSet": ("apps", "daemonsets"),
    ]

    func run() async throws -> RecipeOutcome {
        let dryRun = ActionSettings(context).dryRun
        let timing = try ActionTiming(context.environment, prefix: "DELETE_POD", retryDefault: 1)
        let targets = WorkloadTargets(context.input, approverData: true).pods
        guard let target = targets.first else {
            throw WorkloadTargets.nothingNamed(context.input, wanted: "pod", keys: "namespace and pod")
        }
        guard targets.count == 1 else {
            throw RecipeError.failed("the alert names \(targets.count) pods (\(targets.map(\.description).joined(separator: ", "))); give the one to delete as namespace and pod in the approval data")
        }
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let pod: Pod
            do throws(KubernetesError) {
                pod = try await kubernetes.client.get(Pod.self, name: target.name, namespace: target.namespace)
            } catch where error.isNotFound {
                throw RecipeError.failed("pod \(target) does not exist (404); nothing changed")
            } catch {
                throw kubernetes.failure(error, doing: "read pod \(target)", verb: "get", resource: "pods", namespace: target.namespace)
            }
            guard let owner = pod.controller else {
                throw RecipeError.failed("refused to delete pod \(target): it has no controller, so nothing would replace it. Nothing changed.")
            }
            guard let place = Self.replacingControllers[owner.kind] else {
                throw RecipeError.failed("refused to delete pod \(target): its controller is the \(owner.kind) \(owner.name), which does not keep a set number of pods running. Nothing changed.")
            }
            let readyBefore = try await ready(owner, place, target.namespace, kubernetes)
            guard readyBefore >= 2 else {
                throw RecipeError.failed("refused to delete pod \(target): its \(owner.kind) \(owner.name) has \(readyBefore) ready replica\(readyBefore == 1 ? "" : "s"), fewer than 2, so deleting it would leave none serving. Nothing changed.")
            }
            do throws(KubernetesError) {
                try await kubernetes.client.delete(Pod.self, name: target.name, namespace: target.namespace,
                                                   preconditionUID: pod.metadata.uid, dryRun: dryRun)
            } catch where error.isConflict {
                throw RecipeError.failed("pod \(target) was replaced since it was read (another pod has its name now); nothing was deleted")
            } catch where error.isNotFound {
                throw RecipeError.failed("pod \(target) was already gone; nothing was deleted")
            } catch {
                throw kubernetes.failure(error, doing: "delete pod \(target)" + (dryRun ? " (dry run)" : ""), verb: "delete",
                                         resource: "pods", namespace: target.namespace)
            }
            var fields: [String: JSONValue] = [
                "namespace": .string(target.namespace), "pod": .string(target.name), "controller": .string("\(owner.kind)/\(owner.name)"),
                "readyBefore": .number(Double(readyBefore)), "dryRun": .bool(dryRun),
            ]
            if dryRun {
                return RecipeOutcome(status: .successful,
                                     analysis: "Dry run: deleting pod \(target) was accepted by the API server in a dry run; its \(owner.kind) \(owner.name) has \(readyBefore) ready replicas and would replace it. Nothing changed.",
                                     json: Self.json(fields))
            }
            // Gone, and the controller back to as many ready replicas as before.
            var gone = false
            var readyNow = readyBefore - 1
            while true {
                if !gone {
                    do throws(KubernetesError) {
                        let current = try await kubernetes.client.get(Pod.self, name: target.name, namespace: target.namespace)
                        gone = current.metadata.uid != pod.metadata.uid
                    } catch where error.isNotFound {
                        gone = true
                    } catch {
                        throw kubernetes.failure(error, doing: "check that pod \(target) is gone", verb: "get", resource: "pods",
                                                 namespace: target.namespace)
                    }
                }
                if gone { readyNow = try await ready(owner, place, target.namespace, kubernetes) }
                if gone && readyNow >= readyBefore { break }
                guard timing.hasTime(for: timing.pollInterval) else {
                    fields["readyNow"] = .number(Double(readyNow))
                    let why = gone ? "its \(owner.kind) \(owner.name) has \(readyNow) of the \(readyBefore) ready replicas it had"
                        : "the pod is still terminating"
                    return RecipeOutcome(status: .failed,
                                         analysis: "Deleted pod \(target), but by the recipe's deadline \(why).",
                                         json: Self.json(fields))
                }
                try await Task.sleep(for: timing.pollInterval)
            }
            fields["readyNow"] = .number(Double(readyNow))
            return RecipeOutcome(status: .successful,
                                 analysis: "Deleted pod \(target); its \(owner.kind) \(owner.name) replaced it and has \(readyNow) ready replicas again.",
                                 json: Self.json(fields))
        }
    }

    /// The controller's ready replicas (`status.readyReplicas`, a DaemonSet's `status.numberReady`).
    func ready(
        _ owner: OwnerReference, _ place: (group: String, plural: String), _ namespace: String, _ kubernetes: RecipeKubernetes
    ) async throws -> Int {
        let type = ResourceType(group: place.group, version: "v1", plural: place.plural, kind: owner.kind, namespaced: true)
        let object: [String: JSONValue]
        do throws(KubernetesError) {
            object = try await kubernetes.client.getJSON(type.objectPath(name: owner.name, namespace: namespace))
        } catch {
            throw kubernetes.failure(error, doing: "read the \(owner.kind) \(namespace)/\(owner.name)", verb: "get",
                                     resource: "\(place.plural).\(place.group)", namespace: namespace)
        }
        let status = object["status"]
        let count = (owner.kind == "DaemonSet" ? status?["numberReady"] : status?["readyReplicas"])?.doubleValue ?? 0
        return Int(count)
    }

    static func json(_ fields: [String: JSONValue]) -> String {
        String(decoding: OutboundHTTP.encode(.object(fields)), as: UTF8.self)
    }
}
