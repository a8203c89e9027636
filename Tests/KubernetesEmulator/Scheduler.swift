import Foundation

/// The scheduler's filters, as far as drain and cordon recipes can observe them: a node fits a pod when it is
/// schedulable (not cordoned, unless the pod tolerates `node.kubernetes.io/unschedulable`), Ready, and has no
/// `NoSchedule`/`NoExecute` taint the pod does not tolerate.
enum Scheduling {
    /// Why `node` does not fit `pod`, worded as the scheduler's FitError histogram words it; nil when it fits.
    /// The first failing filter wins, in the scheduler's order (NodeUnschedulable, then TaintToleration).
    static func unfit(_ pod: JSON, _ node: JSON) -> String? {
        let tolerations = tolerations(of: pod)
        if node["spec"]["unschedulable"].bool == true,
           !tolerates(tolerations, key: Nodes.unschedulableTaint, value: "", effect: "NoSchedule") {
            return "node(s) were unschedulable"
        }
        var taints = node["spec"]["taints"].array ?? []
        // The node lifecycle controller taints a node that is not Ready (False: not-ready, Unknown: unreachable).
        let ready = (node["status"]["conditions"].array ?? []).first { $0["type"].string == "Ready" }?["status"].string
        if ready != "True" {
            let key = ready == "False" ? "node.kubernetes.io/not-ready" : "node.kubernetes.io/unreachable"
            if !taints.contains(where: { $0["key"].string == key }) { taints.insert(["key": .string(key), "effect": "NoSchedule"], at: 0) }
        }
        for taint in taints {
            let effect = taint["effect"].string ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            let key = taint["key"].string ?? ""
            let value = taint["value"].string ?? ""
            if !tolerates(tolerations, key: key, value: value, effect: effect) {
                return "node(s) had untolerated taint {\(key): \(value)}"
            }
        }
        return nil
    }

    /// The pod's tolerations, plus the one the DaemonSet controller gives its pods for cordoned nodes.
    static func tolerations(of pod: JSON) -> [JSON] {
        var tolerations = pod["spec"]["tolerations"].array ?? []
        let ownedByDaemonSet = (pod["metadata"]["ownerReferences"].array ?? []).contains {
            $0["kind"].string == "DaemonSet" && $0["controller"].bool == true
        }
        if ownedByDaemonSet {
            tolerations.append(["key": .string(Nodes.unschedulableTaint), "operator": "Exists", "effect": "NoSchedule"])
        }
        return tolerations
    }

    /// `Toleration.ToleratesTaint`: the effect matches (or is empty), and the key and value match (`Exists` with
    /// an empty key tolerates every taint).
    static func tolerates(_ tolerations: [JSON], key: String, value: String, effect: String) -> Bool {
        tolerations.contains { toleration in
            let tolerationEffect = toleration["effect"].string ?? ""
            guard tolerationEffect.isEmpty || tolerationEffect == effect else { return false }
            let tolerationKey = toleration["key"].string ?? ""
            switch toleration["operator"].string ?? "Equal" {
            case "Exists": return tolerationKey.isEmpty || tolerationKey == key
            case "Equal": return tolerationKey == key && (toleration["value"].string ?? "") == value
            default: return false
            }
        }
    }

    /// `0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had untolerated taint {…}. preemption: …`
    static func failureMessage(nodes: Int, reasons: [String: Int]) -> String {
        let histogram = reasons.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
        return "0/\(nodes) nodes are available: \(histogram). preemption: 0/\(nodes) nodes are available: \(nodes) Preemption is not helpful for scheduling."
    }
}

extension KubernetesEmulator {
    /// Binds every unbound, live pod to a node once Node objects exist: the fitting node with the fewest pods, then
    /// by name. A pod that fits nowhere stays `Pending` with `PodScheduled=False` (`Unschedulable`) until a node
    /// fits. Without any Node object nothing is bound here, and the kubelet runs pods on `emulator-node`.
    func schedulePods() {
        let nodes = allStored(.nodes, namespace: "").map(\.1)
        guard !nodes.isEmpty else { return }
        let pods = allStored(.pods, namespace: nil)
        var load: [String: Int] = [:]
        for (_, pod) in pods where !Self.isTerminal(pod) {
            if let node = pod["spec"]["nodeName"].string, !node.isEmpty { load[node, default: 0] += 1 }
        }
        let now = Timestamp.rfc3339()
        for (namespace, var pod) in pods where (pod["spec"]["nodeName"].string ?? "").isEmpty
            && pod["metadata"]["deletionTimestamp"].isNull && !Self.isTerminal(pod)
        {
            var reasons: [String: Int] = [:]
            var fitting: [String] = []
            for node in nodes {
                let name = node["metadata"]["name"].string ?? ""
                if let reason = Scheduling.unfit(pod, node) { reasons[reason, default: 0] += 1 } else { fitting.append(name) }
            }
            let condition: JSON
            if let best = fitting.min(by: { (load[$0] ?? 0, $0) < (load[$1] ?? 0, $1) }) {
                load[best, default: 0] += 1
                pod["spec"]["nodeName"] = .string(best)
                // The pod's address on that node's pod network (for EndpointSlices), unless it has one.
                if pod["status"]["podIP"].isNull {
                    let address = allocatePodIP(node: best)
                    pod["status"]["podIP"] = .string(address)
                    pod["status"]["podIPs"] = [["ip": .string(address)]]
                }
                condition = ["type": "PodScheduled", "status": "True", "lastProbeTime": .null, "lastTransitionTime": .string(now)]
            } else {
                condition = ["type": "PodScheduled", "status": "False", "lastProbeTime": .null, "lastTransitionTime": .string(now),
                             "reason": "Unschedulable", "message": .string(Scheduling.failureMessage(nodes: nodes.count, reasons: reasons))]
            }
            var conditions = pod["status"]["conditions"].array ?? []
            if let index = conditions.firstIndex(where: { $0["type"].string == "PodScheduled" }) {
                let old = conditions[index]
                if old["status"] != condition["status"] || old["reason"] != condition["reason"] || old["message"] != condition["message"] {
                    conditions[index] = condition
                }
            } else {
                conditions.append(condition)
            }
            pod["status"]["conditions"] = .array(conditions)
            storeUpdate(.pods, namespace, pod)
        }
    }

    /// Whether the kubelet may run the pod: bound to a node, or no Node objects exist (then it runs on `emulator-node`).
    func isSchedulingSettled(_ pod: JSON) -> Bool {
        !(pod["spec"]["nodeName"].string ?? "").isEmpty || (store[.nodes]?[""] ?? [:]).isEmpty
    }
}
