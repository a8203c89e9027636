import Foundation

/// policy/v1 PodDisruptionBudgets (PROTOCOLS §9.5): validation, and the disruption controller that computes their
/// `status` from the pods, which the eviction subresource then spends. Drain recipes read them and `kubectl drain`
/// is held back by them.
enum Disruption {
    /// The four counters, always serialized.
    static let emptyStatus: JSON = ["disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0]
    static let policies = ["IfHealthyBudget", "AlwaysAllow"]
    static let percentMessage = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"

    /// `ValidatePodDisruptionBudgetSpec`: exactly one of `minAvailable`/`maxUnavailable`, each a non-negative int or
    /// a percentage up to 100%, and a known `unhealthyPodEvictionPolicy`.
    static func validate(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let spec = object["spec"]
        let minAvailable = spec["minAvailable"]
        let maxUnavailable = spec["maxUnavailable"]
        if !minAvailable.isNull, !maxUnavailable.isNull {
            causes.append(.invalid("spec", spec.serialized(), "minAvailable and maxUnavailable cannot be both set"))
        } else if minAvailable.isNull, maxUnavailable.isNull {
            causes.append(.required("spec", "Required value: one of minAvailable or maxUnavailable must be set"))
        }
        for (field, value) in [("minAvailable", minAvailable), ("maxUnavailable", maxUnavailable)] where !value.isNull {
            causes += intOrPercentCauses(value, field: "spec.\(field)")
        }
        if let policy = spec["unhealthyPodEvictionPolicy"].string, !policies.contains(policy) {
            causes.append(.notSupported("spec.unhealthyPodEvictionPolicy", policy, policies))
        }
        causes += Rules.labelCauses(spec["selector"]["matchLabels"], field: "spec.selector.matchLabels")
        return causes
    }

    private static func intOrPercentCauses(_ value: JSON, field: String) -> [Cause] {
        if let number = value.int {
            return number < 0 ? [.invalid(field, String(number), "must be greater than or equal to 0")] : []
        }
        guard let text = value.string else { return [.invalid(field, value.serialized(), "must be an integer or percentage (e.g '5%')")] }
        guard text.hasSuffix("%"), text.count > 1, text.dropLast().allSatisfy(\.isASCII), Int(text.dropLast()) != nil,
              text.dropLast().allSatisfy(\.isNumber) else {
            return [.invalid(field, text, percentMessage)]
        }
        return Int(text.dropLast())! > 100 ? [.invalid(field, text, "must not be greater than 100%")] : []
    }

    /// An int, or a percentage of `total` rounded up (`intstr.GetScaledValueFromIntOrPercent(..., true)`).
    static func scaled(_ value: JSON, of total: Int) -> Int {
        if let number = value.int { return number }
        let percent = Int(value.string?.dropLast() ?? "") ?? 0
        return (percent * total + 99) / 100
    }

    /// Whether the budget's selector selects `pod`: a null selector selects nothing, `{}` everything.
    static func selects(_ budget: JSON, _ pod: JSON) -> Bool {
        let selector = budget["spec"]["selector"]
        guard !selector.isNull else { return false }
        return Objects.selectorMatches(selector, pod["metadata"]["labels"].stringMap)
    }

    static func isReady(_ pod: JSON) -> Bool {
        (pod["status"]["conditions"].array ?? []).contains { $0["type"].string == "Ready" && $0["status"].string == "True" }
    }
}

extension KubernetesEmulator {
    /// The disruption controller for one namespace: every budget's `status` from the pods it selects.
    /// `currentHealthy` counts Ready pods that are not terminating and not awaiting an eviction in `disruptedPods`
    /// (an entry goes once its pod is gone); `expectedPods` is the number of selected pods.
    func syncDisruptionBudgets(_ namespace: String) {
        let pods = allStored(.pods, namespace: namespace).map(\.1)
        for (_, var budget) in allStored(.podDisruptionBudgets, namespace: namespace) {
            let selected = pods.filter { Disruption.selects(budget, $0) }
            let names = Set(selected.compactMap { $0["metadata"]["name"].string })
            let disrupted = (budget["status"]["disruptedPods"].object ?? [:]).filter { names.contains($0.key) }
            let healthy = selected.filter {
                Disruption.isReady($0) && $0["metadata"]["deletionTimestamp"].isNull && disrupted[$0["metadata"]["name"].string ?? ""] == nil
            }.count
            let expected = selected.count
            let spec = budget["spec"]
            var desired = 0
            if !spec["maxUnavailable"].isNull {
                desired = max(0, expected - Disruption.scaled(spec["maxUnavailable"], of: expected))
            } else if !spec["minAvailable"].isNull {
                desired = Disruption.scaled(spec["minAvailable"], of: expected)
            }
            let allowed = expected <= 0 ? 0 : max(0, healthy - desired)
            var status = budget["status"]
            status["observedGeneration"] = budget["metadata"]["generation"]
            status["expectedPods"] = .int(Int64(expected))
            status["currentHealthy"] = .int(Int64(healthy))
            status["desiredHealthy"] = .int(Int64(desired))
            status["disruptionsAllowed"] = .int(Int64(allowed))
            if disrupted.isEmpty { status.removeValue(forKey: "disruptedPods") } else { status["disruptedPods"] = .object(disrupted) }
            status["conditions"] = Self.disruptionAllowedCondition(status["conditions"], allowed: allowed > 0,
                                                                   generation: budget["metadata"]["generation"])
            budget["status"] = status
            storeUpdate(.podDisruptionBudgets, namespace, budget)
        }
    }

    /// The `DisruptionAllowed` condition (`SufficientPods` / `InsufficientPods`), keeping `lastTransitionTime`
    /// while its status stays the same.
    static func disruptionAllowedCondition(_ conditions: JSON, allowed: Bool, generation: JSON) -> JSON {
        let old = (conditions.array ?? []).first { $0["type"].string == "DisruptionAllowed" }
        let status = allowed ? "True" : "False"
        let time = old?["status"].string == status ? old?["lastTransitionTime"] ?? .string(Timestamp.rfc3339()) : .string(Timestamp.rfc3339())
        var condition: JSON = ["type": "DisruptionAllowed", "status": .string(status), "reason": allowed ? "SufficientPods" : "InsufficientPods",
                               "message": "", "lastTransitionTime": time]
        if !generation.isNull { condition["observedGeneration"] = generation }
        return [condition]
    }

    /// The budgets in `namespace` whose selector selects `pod`.
    func disruptionBudgets(selecting pod: JSON, namespace: String) -> [JSON] {
        allStored(.podDisruptionBudgets, namespace: namespace).map(\.1).filter { Disruption.selects($0, pod) }
    }
}
