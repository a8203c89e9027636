import Foundation

/// core/v1 Nodes (PROTOCOLS §9.1): the validation and defaults the API server applies, the node controller's
/// `unschedulable` taint, and how `kubectl get nodes` shows them. Cordon/uncordon recipes and `kubectl drain`
/// read and patch these.
enum Nodes {
    static let unschedulableTaint = "node.kubernetes.io/unschedulable"
    static let taintEffects = ["NoSchedule", "PreferNoSchedule", "NoExecute"]

    /// `spec.unschedulable` is `omitempty`: false is not stored.
    static func applyDefaults(_ object: inout JSON) {
        if object["spec"]["unschedulable"] == .bool(false) { object["spec"].removeValue(forKey: "unschedulable") }
        if object["spec"].isNull { object["spec"] = [:] }
    }

    /// Just enough of `ValidateNode`: a bool `spec.unschedulable`, taints with a key and a known effect.
    static func validate(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let spec = object["spec"]
        let unschedulable = spec["unschedulable"]
        if !unschedulable.isNull, unschedulable.bool == nil {
            causes.append(.invalid("spec.unschedulable", unschedulable.serialized(), "must be a boolean"))
        }
        for (index, taint) in (spec["taints"].array ?? []).enumerated() {
            let key = taint["key"].string ?? ""
            if key.isEmpty {
                causes.append(.required("spec.taints[\(index)].key"))
            } else {
                for message in Rules.qualifiedNameErrors(key) { causes.append(.invalid("spec.taints[\(index)].key", key, message)) }
            }
            let effect = taint["effect"].string ?? ""
            if effect.isEmpty {
                causes.append(.required("spec.taints[\(index)].effect"))
            } else if !taintEffects.contains(effect) {
                causes.append(.notSupported("spec.taints[\(index)].effect", effect, taintEffects))
            }
        }
        return causes
    }

    /// `Ready`, `NotReady`, `Unknown` (no Ready condition, or status Unknown), with `,SchedulingDisabled` when
    /// cordoned: the STATUS column of `kubectl get nodes`.
    static func statusText(_ node: JSON) -> String {
        let ready = (node["status"]["conditions"].array ?? []).first { $0["type"].string == "Ready" }?["status"].string
        var text = ready == "True" ? "Ready" : ready == "False" ? "NotReady" : "Unknown"
        if node["spec"]["unschedulable"].bool == true { text += ",SchedulingDisabled" }
        return text
    }

    /// The ROLES column: the `node-role.kubernetes.io/<role>` labels (and the older `kubernetes.io/role`), or `<none>`.
    static func roles(_ node: JSON) -> String {
        var roles: Set<String> = []
        for (key, value) in node["metadata"]["labels"].stringMap {
            if key.hasPrefix("node-role.kubernetes.io/") {
                let role = String(key.dropFirst("node-role.kubernetes.io/".count))
                if !role.isEmpty { roles.insert(role) }
            } else if key == "kubernetes.io/role", !value.isEmpty {
                roles.insert(value)
            }
        }
        return roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")
    }
}

extension KubernetesEmulator {
    /// The node controller's part that the scheduler depends on: a node with `spec.unschedulable` carries the
    /// taint `node.kubernetes.io/unschedulable:NoSchedule` (with `timeAdded`), and loses it when schedulable again.
    func syncNode(_ name: String) {
        guard var node = stored(.nodes, "", name) else { return }
        var taints = node["spec"]["taints"].array ?? []
        let tainted = taints.contains { $0["key"].string == Nodes.unschedulableTaint && $0["effect"].string == "NoSchedule" }
        let unschedulable = node["spec"]["unschedulable"].bool == true
        switch (unschedulable, tainted) {
        case (true, false):
            taints.append(["key": .string(Nodes.unschedulableTaint), "effect": "NoSchedule", "timeAdded": .string(Timestamp.rfc3339())])
        case (false, true):
            taints.removeAll { $0["key"].string == Nodes.unschedulableTaint && $0["effect"].string == "NoSchedule" }
        default:
            return
        }
        if taints.isEmpty { node["spec"].removeValue(forKey: "taints") } else { node["spec"]["taints"] = .array(taints) }
        storeUpdate(.nodes, "", node)
    }
}
