import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

extension BuiltinRecipes {
    /// `cordon-node` (action): marks the node unschedulable (`spec.unschedulable`, the strategic-merge patch
    /// `kubectl cordon` sends), unless the blast-radius guard refuses: fewer than `MIN_SCHEDULABLE_NODES` (default
    /// 2) nodes would stay schedulable, or more than `MAX_CORDONED_FRACTION` (default 0.3) would be cordoned. The
    /// node is the approver's `node`, else the alert's. Suggests `uncordon-node`, its way back. Needs get, list and
    /// patch on nodes.
    @Sendable public static func cordonNode(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await NodeActions(context: context).cordon()
    }

    /// `uncordon-node` (action): makes the node schedulable again. Needs get and patch on nodes.
    @Sendable public static func uncordonNode(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await NodeActions(context: context).uncordon()
    }

    /// `drain-node` (action): cordons the node (with the same guard) and evicts its pods through the Eviction API,
    /// so PodDisruptionBudgets hold: a `429` is asked again every `DRAIN_RETRY_SECONDS` (default 5) until the
    /// recipe's deadline, then reported with the budget that blocked it. DaemonSet and static pods stay; pods
    /// without a controller are refused unless the approver's data says `force: true`. Succeeds once every evicted
    /// pod is gone. See `DrainPlan` for the rules.
    @Sendable public static func drainNode(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await NodeActions(context: context).drain()
    }
}

/// The I/O of the node actions: read the node, check the guard, patch, evict, and say what changed (or, in a dry
/// run, what would have).
struct NodeActions {
    let context: RecipeContext
    let settings: ActionSettings

    init(context: RecipeContext) {
        self.context = context
        settings = ActionSettings(context)
    }

    static let cordonPatch = Data(#"{"spec":{"unschedulable":true}}"#.utf8)
    static let uncordonPatch = Data(#"{"spec":{"unschedulable":null}}"#.utf8)

    // MARK: cordon-node

    func cordon() async throws -> RecipeOutcome {
        let cordonGuard = try CordonGuard(context.environment)
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let name = try await NodeTargets(context.input, approverData: true).single(context.input, kubernetes)
            let node = try await readNode(name, kubernetes)
            switch try await cordonDecision(node, guard: cordonGuard, kubernetes) {
            case .alreadyCordoned:
                return outcome("Node \(name) was already cordoned; nothing changed. Way back: approve uncordon-node.",
                               node: name, fields: ["cordoned": .bool(true), "changed": .bool(false)], undo: true)
            case .refused(_, let reason):
                throw RecipeError.failed("refused to cordon node \(name): \(reason). Nothing changed. The limits are the recipe's MIN_SCHEDULABLE_NODES and MAX_CORDONED_FRACTION.")
            case .allowed(let counts):
                let patched = try await patchNode(name, Self.cordonPatch, doing: "cordon node \(name)", kubernetes)
                guard patched.isCordoned else {
                    throw RecipeError.failed("the API server accepted the cordon of node \(name) but the node it returned is not unschedulable")
                }
                if settings.dryRun {
                    return outcome("Dry run: cordoning node \(name) would set spec.unschedulable to true (the API server accepted the change in a dry run); \(counts.sentence()). Nothing changed.",
                                   node: name, fields: ["cordoned": .bool(false), "wouldCordon": .bool(true)], undo: false)
                }
                return outcome("Cordoned node \(name): it takes no new pods, and the pods on it keep running; \(counts.sentence(done: true)). Way back: approve uncordon-node.",
                               node: name, fields: ["cordoned": .bool(true), "changed": .bool(true)], undo: true)
            }
        }
    }

    // MARK: uncordon-node

    func uncordon() async throws -> RecipeOutcome {
        try await RecipeKubernetes.with(context.environment) { kubernetes in
            let name = try await NodeTargets(context.input, approverData: true).single(context.input, kubernetes)
            let node = try await readNode(name, kubernetes)
            guard node.isCordoned else {
                return outcome("Node \(name) is already schedulable; nothing changed.", node: name,
                               fields: ["cordoned": .bool(false), "changed": .bool(false)], undo: false)
            }
            let patched = try await patchNode(name, Self.uncordonPatch, doing: "uncordon node \(name)", kubernetes)
            guard !patched.isCordoned else {
                throw RecipeError.failed("the API server accepted the uncordon of node \(name) but the node it returned is still unschedulable")
            }
            if settings.dryRun {
                return outcome("Dry run: uncordoning node \(name) would make it schedulable again (the API server accepted the change in a dry run). Nothing changed.",
                               node: name, fields: ["cordoned": .bool(true), "wouldUncordon": .bool(true)], undo: false)
            }
            let readiness = node.isReady ? "" : " It is not Ready, so the scheduler still places nothing on it until it is."
            return outcome("Uncordoned node \(name): it takes new pods again.\(readiness)", node: name,
                           fields: ["cordoned": .bool(false), "changed": .bool(true)], undo: false)
        }
    }

    // MARK: drain-node

    func drain() async throws -> RecipeOutcome {
        let cordonGuard = try CordonGuard(context.environment)
        let timing = try ActionTiming(context.environment, prefix: "DRAIN", retryDefault: 5)
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let name = try await NodeTargets(context.input, approverData: true).single(context.input, kubernetes)
            let node = try await readNode(name, kubernetes)
            let decision = try await cordonDecision(node, guard: cordonGuard, kubernetes)
            if case .refused(_, let reason) = decision {
                throw RecipeError.failed("refused to drain node \(name): cordoning it first \(reason.replacingOccurrences(of: "it would", with: "would")). Nothing changed. The limits are the recipe's MIN_SCHEDULABLE_NODES and MAX_CORDONED_FRACTION.")
            }
            // The plan first, so a drain that would refuse a pod changes nothing at all.
            let before = try await NodeReads.drainPlan(name, force: settings.force, kubernetes)
            if let refusal = before.refusalSentence {
                throw RecipeError.failed("refused to drain node \(name). \(refusal) The node was not cordoned.")
            }
            if case .allowed = decision {
                _ = try await patchNode(name, Self.cordonPatch, doing: "cordon node \(name)", kubernetes)
            }
            if settings.dryRun {
                return try await drainDryRun(name, before, alreadyCordoned: decision == .alreadyCordoned, kubernetes)
            }
            // Pods may have landed on it between the plan and the cordon.
            let plan = try await NodeReads.drainPlan(name, force: settings.force, kubernetes)
            if let refusal = plan.refusalSentence {
                throw RecipeError.failed("drain of node \(name) stopped: a pod arrived before the cordon took effect. \(refusal) The node is cordoned now; approve uncordon-node to undo that.")
            }
            return try await evictAll(plan, cordonedNow: decision != .alreadyCordoned, timing: timing, kubernetes)
        }
    }

    /// Every eviction of the plan as a dry run: the API server checks each (permissions, the pod, its budget) and
    /// evicts nothing.
    func drainDryRun(
        _ name: String, _ plan: DrainPlan, alreadyCordoned: Bool, _ kubernetes: RecipeKubernetes
    ) async throws -> RecipeOutcome {
        var blocked: [String] = []
        for entry in plan.toEvict {
            let answer: EvictionOutcome
            do throws(KubernetesError) {
                answer = try await kubernetes.client.evict(pod: entry.name, namespace: entry.namespace, dryRun: true)
            } catch {
                throw kubernetes.failure(error, doing: "evict pod \(entry.reference) (dry run)", verb: "create",
                                         resource: "pods/eviction", namespace: entry.namespace)
            }
            if case .blockedByBudget(let message) = answer { blocked.append("\(entry.reference): \(message)") }
        }
        var text = "Dry run: draining node \(name) would \(alreadyCordoned ? "(already cordoned) " : "cordon it and ")\(plan.summary())."
        if !blocked.isEmpty { text += " Blocked now by their disruption budgets: " + blocked.joined(separator: "; ") + "." }
        text += " Nothing changed."
        return outcome(text, node: name, fields: [
            "wouldEvict": .array(plan.toEvict.map { .string($0.reference) }),
            "blocked": .array(blocked.map { .string($0) }),
        ], undo: false)
    }

    /// Evicts until every pod of the plan is gone or the deadline passes; a budget's 429 is asked again.
    func evictAll(
        _ plan: DrainPlan, cordonedNow: Bool, timing: ActionTiming, _ kubernetes: RecipeKubernetes
    ) async throws -> RecipeOutcome {
        let name = plan.node
        var pending = plan.toEvict
        var leaving: [DrainPlan.Entry] = []
        var blockedBy: [String: String] = [:]
        while true {
            var stillBlocked: [DrainPlan.Entry] = []
            for entry in pending {
                let answer: EvictionOutcome
                do throws(KubernetesError) {
                    answer = try await kubernetes.client.evict(pod: entry.name, namespace: entry.namespace)
                } catch {
                    throw kubernetes.failure(error, doing: "evict pod \(entry.reference) from node \(name)", verb: "create",
                                             resource: "pods/eviction", namespace: entry.namespace)
                }
                switch answer {
                case .evicted, .alreadyGone:
                    leaving.append(entry)
                    blockedBy[entry.reference] = nil
                case .blockedByBudget(let message):
                    stillBlocked.append(entry)
                    blockedBy[entry.reference] = message
                }
            }
            pending = stillBlocked
            if pending.isEmpty || !timing.hasTime(for: timing.retryInterval) { break }
            try await Task.sleep(for: timing.retryInterval)
        }
        let lingering = try await waitUntilGone(leaving, timing: timing, kubernetes)

        var fields: [String: JSONValue] = [
            "evicted": .array(leaving.map { .string($0.reference) }),
            "left": .array(plan.skipped.map { .string($0.reference) }),
            "cordoned": .bool(true),
        ]
        guard pending.isEmpty, lingering.isEmpty else {
            var text = "Drain of node \(name) did not finish before the recipe's deadline."
            if !leaving.isEmpty { text += " Evicted \(leaving.count) pod\(leaving.count == 1 ? "" : "s")." }
            if !pending.isEmpty {
                text += " Not evicted, refused by their PodDisruptionBudget until the end: "
                    + pending.map { "\($0.reference) (\(blockedBy[$0.reference] ?? "429 Too Many Requests"))" }.joined(separator: "; ") + "."
            }
            if !lingering.isEmpty {
                text += " Evicted but still terminating: " + DrainPlan.list(lingering.map(\.reference)) + "."
            }
            text += " The node stays cordoned; approve uncordon-node to undo that."
            fields["blocked"] = .array(pending.map { .string("\($0.reference): \(blockedBy[$0.reference] ?? "")") })
            return RecipeOutcome(status: .failed, analysis: text, actions: ["uncordon-node"], json: Self.json(node: name, fields))
        }
        var text = "Drained node \(name): \(cordonedNow ? "cordoned it and " : "it was cordoned already; ")\(plan.summary(done: true))."
        text += " Way back: approve uncordon-node."
        return RecipeOutcome(status: .successful, analysis: text, actions: ["uncordon-node"], json: Self.json(node: name, fields))
    }

    /// Waits until each evicted pod is gone (404, or a new pod with another uid under its name); returns those
    /// still there at the deadline.
    func waitUntilGone(
        _ entries: [DrainPlan.Entry], timing: ActionTiming, _ kubernetes: RecipeKubernetes
    ) async throws -> [DrainPlan.Entry] {
        var remaining = entries
        while !remaining.isEmpty {
            var still: [DrainPlan.Entry] = []
            for entry in remaining {
                do throws(KubernetesError) {
                    let pod = try await kubernetes.client.get(Pod.self, name: entry.name, namespace: entry.namespace)
                    if pod.metadata.uid == entry.uid { still.append(entry) }
                } catch where error.isNotFound {
                    continue
                } catch {
                    throw kubernetes.failure(error, doing: "check that pod \(entry.reference) is gone", verb: "get",
                                             resource: "pods", namespace: entry.namespace)
                }
            }
            remaining = still
            if remaining.isEmpty || !timing.hasTime(for: timing.pollInterval) { break }
            try await Task.sleep(for: timing.pollInterval)
        }
        return remaining
    }

    // MARK: Shared steps

    func readNode(_ name: String, _ kubernetes: RecipeKubernetes) async throws -> Node {
        do throws(KubernetesError) {
            return try await kubernetes.client.get(Node.self, name: name, namespace: nil)
        } catch where error.isNotFound {
            throw RecipeError.failed("node \(name) does not exist (404); nothing changed")
        } catch {
            throw kubernetes.failure(error, doing: "read node \(name)", verb: "get", resource: "nodes", namespace: nil)
        }
    }

    /// The guard's answer for cordoning `node`, from every node of the cluster.
    func cordonDecision(_ node: Node, guard cordonGuard: CordonGuard, _ kubernetes: RecipeKubernetes) async throws -> CordonGuard.Decision {
        if node.isCordoned { return .alreadyCordoned }
        let nodes: [Node]
        do throws(KubernetesError) {
            nodes = try await kubernetes.client.list(Node.self, namespace: nil).items
        } catch {
            throw kubernetes.failure(error, doing: "list the nodes for the blast-radius guard", verb: "list",
                                     resource: "nodes", namespace: nil)
        }
        return cordonGuard.check(cordoning: node.metadata.name ?? "", among: nodes)
    }

    func patchNode(_ name: String, _ patch: Data, doing what: String, _ kubernetes: RecipeKubernetes) async throws -> Node {
        do throws(KubernetesError) {
            return try await kubernetes.client.patch(Node.self, name: name, namespace: nil, patch, as: .strategicMerge,
                                                     dryRun: settings.dryRun)
        } catch {
            throw kubernetes.failure(error, doing: what + (settings.dryRun ? " (dry run)" : ""), verb: "patch",
                                     resource: "nodes", namespace: nil)
        }
    }

    func outcome(_ text: String, node: String, fields: [String: JSONValue], undo: Bool) -> RecipeOutcome {
        RecipeOutcome(status: .successful, analysis: text, actions: undo ? ["uncordon-node"] : [],
                      json: Self.json(node: node, fields.merging(["dryRun": .bool(settings.dryRun)]) { own, _ in own }))
    }

    static func json(node: String, _ fields: [String: JSONValue]) -> String {
        var object = fields
        object["node"] = .string(node)
        if object["dryRun"] == nil, object["cordoned"] == .bool(true) { object["undo"] = .string("uncordon-node") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(JSONValue.object(object))).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
