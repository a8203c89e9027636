import EuphrosyneKubernetes
import Foundation

/// What draining a node would do to each of its pods, decided as `kubectl drain --ignore-daemonsets
/// --delete-emptydir-data` decides it (PROTOCOLS §9.4), from what the API says. Pure: `drain-node` acts on it and
/// `node-diagnostics` shows it as the preview of the button.
///
/// - A DaemonSet's pods stay (they tolerate the cordon and would come back at once); a pod naming a DaemonSet that
///   no longer exists is refused unless forced, as kubectl does.
/// - Mirror pods (static pods the kubelet runs from files) stay: the API cannot remove them.
/// - A pod without a controller would not come back anywhere: refused unless the approver says `force: true`.
/// - `Succeeded` and `Failed` pods are evicted whatever they are: they no longer run.
/// - `emptyDir` data is lost with the pod; the plan says so but does not refuse (our own recipe pods keep `/tmp`
///   there).
/// - When any pod is refused, nothing is evicted.
struct DrainPlan: Sendable {
    enum Disposition: Sendable, Hashable {
        /// Evicted through the Eviction API; `budget` is the PodDisruptionBudget that guards it, if one does.
        case evict(budget: String?)
        case skipDaemonSet(String)
        case skipMirror
        case refuseUnmanaged
        case refuseMissingDaemonSet(String)
    }

    struct Entry: Sendable, Hashable {
        var namespace: String
        var name: String
        var uid: String?
        var disposition: Disposition
        var losesEmptyDirData: Bool

        var reference: String { "\(namespace)/\(name)" }
    }

    var node: String
    var entries: [Entry]
    /// Per budget name (`shop/web-pdb`): how many disruptions it allows now, from its status.
    var budgetsAllowing: [String: Int]

    var toEvict: [Entry] {
        entries.filter { if case .evict = $0.disposition { true } else { false } }
    }

    var refused: [Entry] {
        entries.filter {
            switch $0.disposition {
            case .refuseUnmanaged, .refuseMissingDaemonSet: true
            default: false
            }
        }
    }

    var skipped: [Entry] {
        entries.filter {
            switch $0.disposition {
            case .skipDaemonSet, .skipMirror: true
            default: false
            }
        }
    }

    /// - Parameters:
    ///   - existingDaemonSets: `namespace/name` of the DaemonSets the pods name that exist.
    ///   - budgets: the PodDisruptionBudgets of the pods' namespaces.
    ///   - force: the approver's `force: true`: pods without a controller (or whose DaemonSet is gone) are evicted.
    init(node: String, pods: [Pod], existingDaemonSets: Set<String>, budgets: [PodDisruptionBudget], force: Bool) {
        self.node = node
        var allowing: [String: Int] = [:]
        for budget in budgets {
            allowing["\(budget.metadata.namespace ?? "")/\(budget.metadata.name ?? "")"] = budget.status?.disruptionsAllowed ?? 0
        }
        budgetsAllowing = allowing
        entries = pods.sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
            .map { pod in
                let namespace = pod.metadata.namespace ?? ""
                let budget = budgets.first { budget in
                    budget.metadata.namespace == namespace && (budget.spec?.selector.map { $0.matches(pod.metadata.labels ?? [:]) } ?? false)
                }.map { "\(namespace)/\($0.metadata.name ?? "")" }
                return Entry(namespace: namespace, name: pod.metadata.name ?? "", uid: pod.metadata.uid,
                             disposition: Self.disposition(of: pod, existingDaemonSets: existingDaemonSets, budget: budget,
                                                           force: force),
                             losesEmptyDirData: pod.spec?.volumes?.contains { $0.emptyDir != nil } ?? false)
            }
    }

    static func disposition(of pod: Pod, existingDaemonSets: Set<String>, budget: String?, force: Bool) -> Disposition {
        if pod.metadata.annotations?["kubernetes.io/config.mirror"] != nil { return .skipMirror }
        if pod.isTerminal { return .evict(budget: nil) }
        guard let controller = pod.controller else { return force ? .evict(budget: budget) : .refuseUnmanaged }
        if controller.kind == "DaemonSet" {
            let name = "\(pod.metadata.namespace ?? "")/\(controller.name)"
            if existingDaemonSets.contains(name) { return .skipDaemonSet(name) }
            return force ? .evict(budget: budget) : .refuseMissingDaemonSet(name)
        }
        return .evict(budget: budget)
    }

    /// The budgets that allow fewer disruptions than this drain needs of them: budget → (allowed, pods to evict).
    var shortBudgets: [(budget: String, allowed: Int, needed: Int)] {
        var needed: [String: Int] = [:]
        for entry in toEvict {
            if case .evict(let budget?) = entry.disposition { needed[budget, default: 0] += 1 }
        }
        return needed.keys.sorted().compactMap { budget in
            let allowed = budgetsAllowing[budget] ?? 0
            return allowed < needed[budget]! ? (budget, allowed, needed[budget]!) : nil
        }
    }

    /// Why nothing would be evicted, for people: every refused pod and how to get past it.
    var refusalSentence: String? {
        guard !refused.isEmpty else { return nil }
        let reasons = refused.map { entry -> String in
            switch entry.disposition {
            case .refuseMissingDaemonSet(let daemonSet):
                "\(entry.reference) names the DaemonSet \(daemonSet), which does not exist"
            default:
                "\(entry.reference) has no controller, so nothing would recreate it"
            }
        }
        return "Nothing was evicted: " + reasons.joined(separator: "; ")
            + ". Approve again with \"force\": true in the data to evict \(refused.count == 1 ? "it" : "them") anyway."
    }

    /// The plan for people, as what the drain would do (`evict 3 pods (…), leave 1 DaemonSet pod (…)`) or, with
    /// `done`, as what it did; plus lost emptyDir data, the budgets it would wait for, and what it refuses.
    func summary(done: Bool = false) -> String {
        var parts: [String] = []
        let evicted = toEvict
        if evicted.isEmpty {
            parts.append(done ? "found no pod to evict" : "find no pod to evict")
        } else {
            parts.append((done ? "evicted " : "evict ") + Self.count(evicted.count, "pod") + " (" + Self.list(evicted.map(\.reference)) + ")")
        }
        let daemonPods = skipped.filter { if case .skipDaemonSet = $0.disposition { true } else { false } }
        if !daemonPods.isEmpty {
            parts.append((done ? "left " : "leave ") + Self.count(daemonPods.count, "DaemonSet pod") + " (" + Self.list(daemonPods.map(\.reference)) + ")")
        }
        let mirrors = skipped.count - daemonPods.count
        if mirrors > 0 { parts.append((done ? "left " : "leave ") + Self.count(mirrors, "static pod")) }
        var text = parts.joined(separator: ", ")
        let lost = evicted.filter(\.losesEmptyDirData)
        if !lost.isEmpty {
            text += "; the emptyDir data of " + Self.list(lost.map(\.reference)) + (done ? " was lost" : " would be lost")
        }
        if !done {
            for short in shortBudgets {
                text += "; the PodDisruptionBudget \(short.budget) allows \(Self.count(short.allowed, "disruption")) now and \(short.needed) of its pods are on the node, so the drain would wait for replacements to become ready"
            }
        }
        if let refusal = refusalSentence { text += ". " + refusal }
        return text
    }

    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    /// At most eight names, then how many more.
    static func list(_ names: [String]) -> String {
        names.count <= 8 ? names.joined(separator: ", ") : names.prefix(8).joined(separator: ", ") + " and \(names.count - 8) more"
    }
}
