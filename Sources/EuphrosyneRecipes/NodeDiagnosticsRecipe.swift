import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit

extension BuiltinRecipes {
    /// `node-diagnostics` (debugging): for the nodes the alert names (a `node` label, or the node of the pod its
    /// `namespace` and `pod` labels name), reads each Node's conditions, taints and cordon, what its pods request
    /// against its allocatable, its recent events and its failing pods, and says what is wrong in one paragraph per
    /// node. Suggests `cordon-node` for an unwell node the blast-radius guard lets go, `drain-node` when pods fail
    /// on that node alone, and `uncordon-node` for a cordoned node that is healthy again, each with a preview of
    /// what the button would do, computed by the action's own rules from reads only (it changes nothing).
    ///
    /// Needs get and list on nodes, list on pods in every namespace, get on daemonsets, list on
    /// poddisruptionbudgets, and list on events in `default` (see docs/recipes.md). Settings:
    /// `NODE_DIAGNOSTICS_MAX_NODES` (default 5) and the guard's `MIN_SCHEDULABLE_NODES` and `MAX_CORDONED_FRACTION`
    /// (give both recipes the same values).
    @Sendable public static func nodeDiagnostics(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await NodeDiagnosticsRecipe(context: context).run()
    }
}

/// The I/O of `node-diagnostics`.
struct NodeDiagnosticsRecipe {
    let context: RecipeContext

    /// One node's part of the analysis and of the JSON.
    struct Report: Encodable {
        var node: String
        var inspected: Bool
        var problems: [String]
        var cordoned: Bool?
        var suggested: [String]
        var paragraph: String

        enum CodingKeys: String, CodingKey {
            case node, inspected, problems, cordoned, suggested
        }
    }

    func run() async throws -> RecipeOutcome {
        let targets = NodeTargets(context.input, approverData: false)
        guard !targets.nodes.isEmpty || !targets.pods.isEmpty else {
            throw NodeTargets.noNode(context.input, approverData: false)
        }
        let cordonGuard = try CordonGuard(context.environment)
        let maxNodes = min(max(context.environment.value("NODE_DIAGNOSTICS_MAX_NODES").flatMap { Int($0) } ?? 5, 1), 50)
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            let (names, notes) = try await targets.resolve(kubernetes)
            guard !names.isEmpty else { throw RecipeError.failed("no node to diagnose: " + notes.joined(separator: " ")) }
            var allNodes: [Node]?
            do throws(KubernetesError) {
                allNodes = try await kubernetes.client.list(Node.self, namespace: nil).items
            } catch {
                _ = try kubernetes.explain(error, verb: "list", resource: "nodes", namespace: nil)
            }
            var reports: [Report] = []
            for name in names.prefix(maxNodes) {
                reports.append(try await inspect(name, allNodes: allNodes, guard: cordonGuard, kubernetes))
            }
            var paragraphs = notes + reports.map(\.paragraph)
            if names.count > maxNodes {
                paragraphs.append("\(names.count - maxNodes) more nodes were not inspected (NODE_DIAGNOSTICS_MAX_NODES is \(maxNodes)).")
            }
            if let missing = kubernetes.missing.sentence(recipe: "node-diagnostics") { paragraphs.append(missing) }
            let analysis = paragraphs.joined(separator: "\n\n")
            guard reports.contains(where: \.inspected) else { throw RecipeError.failed(analysis) }
            var actions: [String] = []
            for action in reports.flatMap(\.suggested) where !actions.contains(action) { actions.append(action) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let json = (try? encoder.encode(["nodes": reports])).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return RecipeOutcome(status: .successful, analysis: analysis, actions: actions, json: json)
        }
    }

    func inspect(_ name: String, allNodes: [Node]?, guard cordonGuard: CordonGuard,
                 _ kubernetes: RecipeKubernetes) async throws -> Report {
        let node: Node
        do throws(KubernetesError) {
            node = try await kubernetes.client.get(Node.self, name: name, namespace: nil)
        } catch {
            let why = try kubernetes.explain(error, verb: "get", resource: "nodes", namespace: nil)
            let hint = error.isNotFound ? " It may have been removed from the cluster (scaled down or replaced)." : ""
            return Report(node: name, inspected: false, problems: [], suggested: [],
                          paragraph: "Node \(name): cannot read it: \(why).\(hint)")
        }
        var podsNote = ""
        var pods: [Pod] = []
        var healthyElsewhere: [String: Int] = [:]
        do {
            pods = try await NodeReads.pods(on: name, kubernetes)
            healthyElsewhere = try await NodeReads.healthySiblings(of: pods, awayFrom: name, kubernetes)
        } catch let error as RecipeError {
            podsNote = " Its pods could not be read: \(error.message)."
        }
        let diagnosis = NodeDiagnosis(node, pods: pods, healthyElsewhere: healthyElsewhere)
        var paragraph = diagnosis.paragraph + podsNote + (try await events(of: name, kubernetes))
        var suggested: [String] = []

        if diagnosis.isTroubled, !diagnosis.cordoned {
            if let allNodes {
                switch cordonGuard.check(cordoning: name, among: allNodes) {
                case .allowed(let counts):
                    suggested.append("cordon-node")
                    paragraph += "\nIf you approve cordon-node: node \(name) becomes unschedulable and its pods keep running; \(counts.sentence())."
                case .refused(_, let reason):
                    paragraph += "\ncordon-node is not suggested: its blast-radius guard would refuse, because \(reason)."
                case .alreadyCordoned:
                    break
                }
            } else {
                paragraph += "\ncordon-node is not suggested: the nodes could not be listed to check its blast-radius guard."
            }
        }
        if !diagnosis.failingHereAlone.isEmpty, suggested.contains("cordon-node") || diagnosis.cordoned {
            do {
                let plan = try await NodeReads.drainPlan(name, force: false, kubernetes)
                suggested.append("drain-node")
                paragraph += "\nIf you approve drain-node: it would \(diagnosis.cordoned ? "" : "cordon \(name) and ")\(plan.summary())."
            } catch let error as RecipeError {
                paragraph += "\ndrain-node is not suggested: its plan could not be made: \(error.message)."
            }
        }
        if !diagnosis.isTroubled, diagnosis.cordoned {
            suggested.append("uncordon-node")
            paragraph += "\nIt is healthy but still cordoned. If you approve uncordon-node, it takes new pods again."
        }
        return Report(node: name, inspected: true, problems: diagnosis.problems, cordoned: diagnosis.cordoned,
                      suggested: suggested, paragraph: paragraph)
    }

    /// ` Recent events: …` for the node (the kubelet and controllers record them in `default`), warnings first.
    func events(of name: String, _ kubernetes: RecipeKubernetes) async throws -> String {
        var events: [KubernetesEvent]
        do throws(KubernetesError) {
            events = try await kubernetes.client.list(KubernetesEvent.self, namespace: "default",
                                                      fieldSelector: "involvedObject.kind=Node,involvedObject.name=\(name)").items
        } catch {
            let why = try kubernetes.explain(error, verb: "list", resource: "events", namespace: "default")
            return " (Its events could not be read: \(why).)"
        }
        events.sort { lhs, rhs in
            if lhs.isWarning != rhs.isWarning { return lhs.isWarning }
            return PodDiagnosticsRecipe.time(lhs.lastSeen) > PodDiagnosticsRecipe.time(rhs.lastSeen)
        }
        guard !events.isEmpty else { return "" }
        var text = " Recent events: " + events.prefix(5).map(\.summaryLine).joined(separator: " ")
        if events.count > 5 { text += " (\(events.count - 5) more.)" }
        return text
    }
}

/// The reads the node recipes share: the pods on a node, their siblings elsewhere, and a drain's plan.
enum NodeReads {
    /// Every pod bound to `node`, in all namespaces (`fieldSelector=spec.nodeName=…`, as kubectl drain lists them).
    static func pods(on node: String, _ kubernetes: RecipeKubernetes) async throws -> [Pod] {
        do throws(KubernetesError) {
            return try await kubernetes.client.list(Pod.self, namespace: nil, fieldSelector: "spec.nodeName=\(node)").items
        } catch {
            throw kubernetes.failure(error, doing: "list the pods on node \(node)", verb: "list", resource: "pods", namespace: nil)
        }
    }

    /// Per controller uid of the node's unhealthy pods: how many of its pods are Ready on other nodes.
    static func healthySiblings(of pods: [Pod], awayFrom node: String, _ kubernetes: RecipeKubernetes) async throws -> [String: Int] {
        let unhealthy = pods.filter { !$0.isTerminal && !PodDiagnosis($0).isHealthy && $0.controller?.kind != "DaemonSet" }
        let controllers = Set(unhealthy.compactMap { $0.controller?.uid })
        guard !controllers.isEmpty else { return [:] }
        var counts: [String: Int] = [:]
        for namespace in Set(unhealthy.compactMap(\.metadata.namespace)).sorted().prefix(10) {
            let siblings: [Pod]
            do throws(KubernetesError) {
                siblings = try await kubernetes.client.list(Pod.self, namespace: namespace).items
            } catch {
                throw kubernetes.failure(error, doing: "list the pods of \(namespace)", verb: "list", resource: "pods",
                                         namespace: namespace)
            }
            for pod in siblings where pod.spec?.nodeName != node && pod.isReady {
                if let uid = pod.controller?.uid, controllers.contains(uid) { counts[uid, default: 0] += 1 }
            }
        }
        return counts
    }

    /// What draining `node` would do now (see `DrainPlan`): its pods, the DaemonSets they name, their budgets.
    static func drainPlan(_ node: String, force: Bool, _ kubernetes: RecipeKubernetes) async throws -> DrainPlan {
        let pods = try await pods(on: node, kubernetes)
        var daemonSets = Set<String>()
        for pod in pods {
            guard let owner = pod.controller, owner.kind == "DaemonSet", let namespace = pod.metadata.namespace,
                  !daemonSets.contains("\(namespace)/\(owner.name)") else { continue }
            do throws(KubernetesError) {
                _ = try await kubernetes.client.get(DaemonSet.self, name: owner.name, namespace: namespace)
                daemonSets.insert("\(namespace)/\(owner.name)")
            } catch where error.isNotFound {
                continue
            } catch {
                throw kubernetes.failure(error, doing: "read the DaemonSet \(namespace)/\(owner.name)", verb: "get",
                                         resource: "daemonsets.apps", namespace: namespace)
            }
        }
        let namespaces = Set(pods.compactMap(\.metadata.namespace))
        var budgets: [PodDisruptionBudget] = []
        if !namespaces.isEmpty {
            do throws(KubernetesError) {
                budgets = try await kubernetes.client.list(PodDisruptionBudget.self, namespace: nil).items
                    .filter { namespaces.contains($0.metadata.namespace ?? "") }
            } catch {
                throw kubernetes.failure(error, doing: "list the PodDisruptionBudgets", verb: "list",
                                         resource: "poddisruptionbudgets.policy", namespace: nil)
            }
        }
        return DrainPlan(node: node, pods: pods, existingDaemonSets: daemonSets, budgets: budgets, force: force)
    }
}
