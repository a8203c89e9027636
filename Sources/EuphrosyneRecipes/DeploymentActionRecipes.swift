import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

extension BuiltinRecipes {
    /// `rollout-restart` (action): restarts a Deployment's pods as `kubectl rollout restart` does (the pod template
    /// annotation `kubectl.kubernetes.io/restartedAt`), then waits until the rollout completes. A rollout that does not
    /// complete before the deadline is a failed result saying what is stuck, suggesting `rollout-undo`.
    @Sendable public static func rolloutRestart(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await DeploymentActions(context: context).restart()
    }

    /// `rollout-undo` (action): rolls a Deployment back to its previous revision (or the approver's `toRevision`)
    /// from its ReplicaSet history, as `kubectl rollout undo` does, then waits until the rollout completes.
    @Sendable public static func rolloutUndo(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await DeploymentActions(context: context).undo()
    }

    /// `scale-deployment` (action): sets a Deployment's replicas (the approver's `replicas`) through its scale
    /// subresource, within `MIN_REPLICAS` (default 1) and `MAX_REPLICAS` (default 10), then waits until they are all
    /// available.
    @Sendable public static func scaleDeployment(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await DeploymentActions(context: context).scale()
    }
}

/// The I/O of the Deployment actions: find the Deployment, change it (or dry-run the change), and follow the rollout
/// to its end, as `kubectl rollout status` judges it.
struct DeploymentActions {
    let context: RecipeContext
    let dryRun: Bool

    init(context: RecipeContext) {
        self.context = context
        dryRun = ActionSettings(context).dryRun
    }

    typealias Reference = WorkloadTargets.Reference

    // MARK: rollout-restart

    func restart() async throws -> RecipeOutcome {
        let timing = try ActionTiming(context.environment, prefix: "ROLLOUT", retryDefault: 2)
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let target = try await WorkloadTargets(context.input, approverData: true).singleDeployment(context.input, kubernetes)
            let deployment = try await read(target, kubernetes)
            if deployment.spec?.paused == true {
                throw RecipeError.failed("deployment \(target) is paused, so a restart would roll nothing out; resume it first (kubectl rollout resume)")
            }
            let now = RFC3339.format(Date())
            let patch = JSONValue.object(["spec": .object(["template": .object(["metadata": .object([
                "annotations": .object([Deployment.restartedAtAnnotation: .string(now)]),
            ])])])])
            let patched = try await patchDeployment(target, OutboundHTTP.encode(patch), as: .strategicMerge,
                                                    doing: "restart deployment \(target)", kubernetes)
            let replicas = deployment.spec?.replicas ?? 1
            if dryRun {
                return outcome("Dry run: restarting deployment \(target) would set its pod template's \(Deployment.restartedAtAnnotation) to \(now) (the API server accepted the change in a dry run), replacing its \(replicas) pod\(replicas == 1 ? "" : "s") as its rollout strategy allows. Nothing changed.",
                               target, ["wouldRestart": .bool(true)])
            }
            return try await follow(target, after: patched, timing: timing, kubernetes, done: { final in
                "Restarted deployment \(target): the rollout completed, \(Self.counts(final))."
            })
        }
    }

    // MARK: rollout-undo

    func undo() async throws -> RecipeOutcome {
        let timing = try ActionTiming(context.environment, prefix: "ROLLOUT", retryDefault: 2)
        let toRevision: Int
        switch context.input.data["toRevision"] {
        case nil, .null: toRevision = 0
        case .number(let number) where number >= 0 && number == number.rounded(): toRevision = Int(number)
        case .string(let text) where Int(text.trimmingCharacters(in: .whitespaces)).map({ $0 >= 0 }) == true:
            toRevision = Int(text.trimmingCharacters(in: .whitespaces))!
        default:
            throw RecipeError.failed("toRevision must be a revision number (0 or absent: the previous revision)")
        }
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let target = try await WorkloadTargets(context.input, approverData: true).singleDeployment(context.input, kubernetes)
            let raw: [String: JSONValue]
            do throws(KubernetesError) {
                raw = try await kubernetes.client.getJSON(Deployment.resource.objectPath(name: target.name, namespace: target.namespace))
            } catch {
                throw Self.readFailure(error, target, kubernetes)
            }
            if raw["spec"]?["paused"] == .bool(true) {
                throw RecipeError.failed("deployment \(target) is paused, so a rollback would roll nothing out; resume it first (kubectl rollout resume)")
            }
            let selector = (try? JSONDecoder().decode(LabelSelector.self, from: OutboundHTTP.encode(raw["spec"]?["selector"] ?? .null)))?.queryString
            guard let selector else {
                throw RecipeError.failed("deployment \(target) has a selector this recipe cannot list ReplicaSets by")
            }
            let replicaSets: [[String: JSONValue]]
            do throws(KubernetesError) {
                replicaSets = try await kubernetes.client.listJSON(ReplicaSet.self, namespace: target.namespace, labelSelector: selector)
            } catch {
                throw kubernetes.failure(error, doing: "list the ReplicaSets of deployment \(target)", verb: "list",
                                         resource: "replicasets.apps", namespace: target.namespace)
            }
            let plan = try RolloutUndoPlan(deployment: raw, replicaSets: replicaSets, toRevision: toRevision)
            guard let patch = plan.patch else {
                return outcome("Skipped the rollback of deployment \(target): it already runs the template of revision \(plan.revision) (ReplicaSet \(plan.replicaSet)). Nothing changed.",
                               target, ["revision": .number(Double(plan.revision)), "changed": .bool(false)])
            }
            let patched = try await patchDeployment(target, OutboundHTTP.encode(patch), as: .json,
                                                    doing: "roll back deployment \(target)", kubernetes)
            if dryRun {
                return outcome("Dry run: rolling back deployment \(target) would put back the pod template of revision \(plan.revision) (ReplicaSet \(plan.replicaSet)); the API server accepted the change in a dry run. Nothing changed.",
                               target, ["revision": .number(Double(plan.revision)), "wouldRollBack": .bool(true)])
            }
            return try await follow(target, after: patched, timing: timing, kubernetes, done: { final in
                "Rolled back deployment \(target) to the template of revision \(plan.revision) (ReplicaSet \(plan.replicaSet)): the rollout completed, \(Self.counts(final))."
            })
        }
    }

    // MARK: scale-deployment

    func scale() async throws -> RecipeOutcome {
        let timing = try ActionTiming(context.environment, prefix: "ROLLOUT", retryDefault: 2)
        let bounds = try Self.replicaBounds(context.environment)
        let wanted: Int
        switch context.input.data["replicas"] {
        case .number(let number) where number == number.rounded() && abs(number) < 1e6: wanted = Int(number)
        case .string(let text) where Int(text.trimmingCharacters(in: .whitespaces)) != nil:
            wanted = Int(text.trimmingCharacters(in: .whitespaces))!
        case nil, .null:
            throw RecipeError.failed("no replica count: give \"replicas\" (a whole number) in the approval data")
        default:
            throw RecipeError.failed("replicas must be a whole number; it is \(context.input.data["replicas"].map { "\($0)" } ?? "")")
        }
        guard bounds.contains(wanted) else {
            throw RecipeError.failed("refused to scale to \(wanted) replicas: outside MIN_REPLICAS..MAX_REPLICAS (\(bounds.lowerBound)...\(bounds.upperBound)). Nothing changed.")
        }
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let target = try await WorkloadTargets(context.input, approverData: true).singleDeployment(context.input, kubernetes)
            let deployment = try await read(target, kubernetes)
            let before = deployment.spec?.replicas ?? 1
            guard before != wanted else {
                return outcome("Deployment \(target) already wants \(wanted) replicas; nothing changed.", target,
                               ["replicas": .number(Double(wanted)), "changed": .bool(false)])
            }
            do throws(KubernetesError) {
                _ = try await kubernetes.client.scale(deployment: target.name, namespace: target.namespace, replicas: wanted,
                                                      dryRun: dryRun)
            } catch {
                throw kubernetes.failure(error, doing: "scale deployment \(target)" + (dryRun ? " (dry run)" : ""),
                                         verb: "patch", resource: "deployments.apps/scale", namespace: target.namespace)
            }
            let fields: [String: JSONValue] = ["from": .number(Double(before)), "replicas": .number(Double(wanted))]
            if dryRun {
                return outcome("Dry run: scaling deployment \(target) from \(before) to \(wanted) replicas was accepted by the API server in a dry run. Nothing changed.",
                               target, fields)
            }
            let patched = try await read(target, kubernetes)
            return try await follow(target, after: patched, timing: timing, kubernetes, fields: fields, done: { final in
                "Scaled deployment \(target) from \(before) to \(wanted) replicas: \(Self.counts(final)). Way back: approve scale-deployment with replicas \(before)."
            })
        }
    }

    /// `MIN_REPLICAS` (default 1) and `MAX_REPLICAS` (default 10).
    static func replicaBounds(_ environment: RecipeEnvironment) throws(RecipeError) -> ClosedRange<Int> {
        func number(_ name: String, _ fallback: Int) throws(RecipeError) -> Int {
            guard let text = environment.value(name) else { return fallback }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw .failed("\(name) must be a whole number, 0 or more; it is \"\(text)\"")
            }
            return value
        }
        let low = try number("MIN_REPLICAS", 1)
        let high = try number("MAX_REPLICAS", 10)
        guard low <= high else { throw .failed("MIN_REPLICAS (\(low)) is above MAX_REPLICAS (\(high))") }
        return low...high
    }

    // MARK: Following the rollout

    /// Waits until the rollout of `target` completes (its controller saw the change that made `patched`), fails (its
    /// progress deadline passed) or the recipe's deadline comes; a rollout that did not complete is a failed result
    /// suggesting `rollout-undo`.
    func follow(
        _ target: Reference, after patched: Deployment, timing: ActionTiming, _ kubernetes: RecipeKubernetes,
        fields: [String: JSONValue] = [:], done: (Deployment) -> String
    ) async throws -> RecipeOutcome {
        let generation = patched.metadata.generation ?? 0
        var current = patched
        while true {
            let seen = (current.status?.observedGeneration ?? 0) >= generation
            switch current.rolloutProgress {
            case .complete where seen:
                return outcome(done(current), target, fields.merging(["complete": .bool(true)]) { own, _ in own })
            case .failed(let why):
                return stuck(target, why, fields: fields)
            default:
                break
            }
            guard timing.hasTime(for: timing.pollInterval) else {
                let why: String
                if case .waiting(let waiting) = current.rolloutProgress { why = waiting } else { why = "the controller has not yet seen the change" }
                return stuck(target, "it did not complete before the recipe's deadline: \(why)", fields: fields)
            }
            try await Task.sleep(for: timing.pollInterval)
            current = try await read(target, kubernetes)
        }
    }

    func stuck(_ target: Reference, _ why: String, fields: [String: JSONValue]) -> RecipeOutcome {
        RecipeOutcome(status: .failed,
                      analysis: "The rollout of deployment \(target) did not complete: \(why). Approve rollout-undo to go back to the previous revision.",
                      actions: ["rollout-undo"],
                      json: Self.json(target, fields.merging(["complete": .bool(false), "dryRun": .bool(dryRun)]) { own, _ in own }))
    }

    static func counts(_ deployment: Deployment) -> String {
        let status = deployment.status
        let wanted = deployment.spec?.replicas ?? 1
        var text = "\(status?.updatedReplicas ?? 0) of \(wanted) replicas updated and \(status?.availableReplicas ?? 0) available"
        if let revision = deployment.metadata.annotations?[Deployment.revisionAnnotation] { text += ", revision \(revision)" }
        return text
    }

    // MARK: Shared steps

    func read(_ target: Reference, _ kubernetes: RecipeKubernetes) async throws -> Deployment {
        do throws(KubernetesError) {
            return try await kubernetes.client.get(Deployment.self, name: target.name, namespace: target.namespace)
        } catch {
            throw Self.readFailure(error, target, kubernetes)
        }
    }

    static func readFailure(_ error: KubernetesError, _ target: Reference, _ kubernetes: RecipeKubernetes) -> RecipeError {
        if error.isNotFound { return .failed("deployment \(target) does not exist (404); nothing changed") }
        return kubernetes.failure(error, doing: "read deployment \(target)", verb: "get", resource: "deployments.apps",
                                  namespace: target.namespace)
    }

    func patchDeployment(
        _ target: Reference, _ patch: Data, as type: PatchType, doing what: String, _ kubernetes: RecipeKubernetes
    ) async throws -> Deployment {
        do throws(KubernetesError) {
            return try await kubernetes.client.patch(Deployment.self, name: target.name, namespace: target.namespace, patch,
                                                     as: type, dryRun: dryRun)
        } catch {
            throw kubernetes.failure(error, doing: what + (dryRun ? " (dry run)" : ""), verb: "patch",
                                     resource: "deployments.apps", namespace: target.namespace)
        }
    }

    func outcome(_ text: String, _ target: Reference, _ fields: [String: JSONValue]) -> RecipeOutcome {
        RecipeOutcome(status: .successful, analysis: text,
                      json: Self.json(target, fields.merging(["dryRun": .bool(dryRun)]) { own, _ in own }))
    }

    static func json(_ target: Reference, _ fields: [String: JSONValue]) -> String {
        var object = fields
        object["namespace"] = .string(target.namespace)
        object["deployment"] = .string(target.name)
        return String(decoding: OutboundHTTP.encode(.object(object)), as: UTF8.self)
    }
}
