import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

/// What `kubectl rollout undo` would send for a Deployment (PROTOCOLS §9.7), decided from the Deployment and its
/// ReplicaSets as the API returned them (whole JSON: the template goes back field for field). Pure.
struct RolloutUndoPlan: Sendable, Equatable {
    /// The revision rolled back to, and its ReplicaSet.
    var revision: Int
    var replicaSet: String
    /// The JSON patch (`application/json-patch+json`), or nil when the Deployment already runs that template.
    var patch: JSONValue?

    /// The annotations the Deployment keeps through a rollback; the ReplicaSet's others replace the rest.
    static let keptAnnotations: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", Deployment.revisionAnnotation,
        "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
    ]

    /// - Parameter toRevision: 0 for the previous revision (the second highest), else that revision.
    init(deployment: [String: JSONValue], replicaSets: [[String: JSONValue]], toRevision: Int) throws(RecipeError) {
        let uid = deployment["metadata"]?["uid"]?.stringValue
        let name = deployment["metadata"]?["name"]?.stringValue ?? "?"
        // Only the ReplicaSets this Deployment controls, by revision.
        let owned: [(revision: Int, object: [String: JSONValue])] = replicaSets.compactMap { replicaSet in
            let controlled = (replicaSet["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains {
                $0["controller"] == .bool(true) && $0["uid"]?.stringValue == uid
            }
            guard controlled, let text = replicaSet["metadata"]?["annotations"]?[Deployment.revisionAnnotation]?.stringValue,
                  let revision = Int(text) else { return nil }
            return (revision, replicaSet)
        }.sorted { $0.revision > $1.revision }
        let target: (revision: Int, object: [String: JSONValue])
        if toRevision == 0 {
            guard owned.count >= 2 else {
                throw .failed("no rollout history found for deployment \(name): it has \(owned.count) revision\(owned.count == 1 ? "" : "s"), so there is nothing to go back to")
            }
            target = owned[1]
        } else {
            guard let found = owned.first(where: { $0.revision == toRevision }) else {
                throw .failed("unable to find revision \(toRevision) of deployment \(name); it has \(owned.map { String($0.revision) }.reversed().joined(separator: ", "))")
            }
            target = found
        }
        revision = target.revision
        replicaSet = target.object["metadata"]?["name"]?.stringValue ?? "?"

        let template = Self.withoutHash(target.object["spec"]?["template"] ?? .object([:]))
        guard template != Self.withoutHash(deployment["spec"]?["template"] ?? .object([:])) else {
            patch = nil
            return
        }
        var annotations: [String: JSONValue] = (deployment["metadata"]?["annotations"]?.objectValue ?? [:])
            .filter { Self.keptAnnotations.contains($0.key) }
        for (key, value) in target.object["metadata"]?["annotations"]?.objectValue ?? [:] where !Self.keptAnnotations.contains(key) {
            annotations[key] = value
        }
        patch = .array([
            .object(["op": .string("replace"), "path": .string("/spec/template"), "value": template]),
            // `add` replaces the member when it exists and creates it when the Deployment has no annotations yet.
            .object(["op": .string("add"), "path": .string("/metadata/annotations"), "value": .object(annotations)]),
        ])
    }

    /// A template without the `pod-template-hash` label the controller adds to a ReplicaSet's.
    static func withoutHash(_ template: JSONValue) -> JSONValue {
        guard var object = template.objectValue else { return template }
        if var metadata = object["metadata"]?.objectValue, var labels = metadata["labels"]?.objectValue {
            labels["pod-template-hash"] = nil
            metadata["labels"] = labels.isEmpty ? nil : .object(labels)
            object["metadata"] = .object(metadata)
        }
        return .object(object)
    }
}
