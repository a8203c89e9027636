import Foundation

extension KubernetesEmulator {
    /// The most evictions a budget may have waiting for the disruption controller (`MaxDisruptedPodSize`).
    static let maxDisruptedPods = 2000

    /// `POST /api/v1/namespaces/{ns}/pods/{name}/eviction` (policy/v1 Eviction, PROTOCOLS §9.3), as the API
    /// server's eviction REST does it: pods that are Pending, finished or already terminating go without a budget
    /// check; otherwise the one budget that selects the pod must allow a disruption (429 when it does not, 500 when
    /// several select it). A granted eviction marks the pod `DisruptionTarget`, deletes it gracefully and records
    /// it in the budget's `disruptedPods`. `dryRun=All` (query or `deleteOptions.dryRun`) checks all that and
    /// changes nothing, the budget included. Drain recipes and `kubectl drain` use it.
    func evict(namespace: String, name: String, request: APIRequest) -> APIResponse {
        var eviction: JSON
        switch parseBody(request.body) {
        case .failure(let response): return response
        case .success(let parsed): eviction = parsed
        }
        if let kind = eviction["kind"].string, !kind.isEmpty, kind != "Eviction" {
            return .status(400, "BadRequest", "the API version in the data (\(eviction["apiVersion"].string ?? "")) does not match the expected API version (policy/v1)")
        }
        if let bodyNamespace = eviction["metadata"]["namespace"].string, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            return .status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        }
        guard eviction["metadata"]["name"].string == name else {
            return .status(400, "BadRequest", "name in URL does not match name in Eviction object")
        }
        // The Eviction's deleteOptions, read as a DELETE's body (with the request's query: dryRun).
        var deleteRequest = request
        deleteRequest.body = eviction["deleteOptions"].isNull ? [] : Array(eviction["deleteOptions"].serializedData())
        let options: DeleteOptions
        switch deleteOptions(deleteRequest) {
        case .failure(let response): return response
        case .success(let parsed): options = parsed
        }
        guard let pod = stored(.pods, namespace, name) else { return .notFound(.pods, name) }
        if let uid = options.preconditionUID, uid != pod["metadata"]["uid"].string {
            return .status(409, "Conflict", "Operation cannot be fulfilled on pods \(quoted(name)): Precondition failed: UID in precondition: \(uid), UID in object meta: \(pod["metadata"]["uid"].string ?? "")",
                           details: APIResponse.details(.pods, name))
        }
        let granted = { () -> APIResponse in
            if !options.dryRun { self.deleteEvicted(namespace: namespace, name: name, grace: options.grace) }
            return .json(201, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "code": 201], [:])
        }
        let phase = pod["status"]["phase"].string ?? "Pending"
        if ["Pending", "Succeeded", "Failed"].contains(phase) || !pod["metadata"]["deletionTimestamp"].isNull { return granted() }
        let budgets = disruptionBudgets(selecting: pod, namespace: namespace)
        guard budgets.count <= 1 else {
            return .status(500, "", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        }
        guard var budget = budgets.first else { return granted() }
        let budgetName = budget["metadata"]["name"].string ?? ""
        let status = budget["status"]
        let healthy = status["currentHealthy"].int ?? 0
        let desired = status["desiredHealthy"].int ?? 0
        if !Disruption.isReady(pod) {
            // An unhealthy pod may go without spending budget: always, or while the budget is met.
            if budget["spec"]["unhealthyPodEvictionPolicy"].string == "AlwaysAllow" || (healthy >= desired && desired > 0) {
                return granted()
            }
        }
        if (status["observedGeneration"].int ?? 0) < (budget["metadata"]["generation"].int ?? 0) {
            return .status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", details: [
                "causes": [["reason": "DisruptionBudget", "message": .string("The disruption budget \(budgetName) is still being processed by the server.")]],
                "retryAfterSeconds": 10,
            ], headers: ["Retry-After": "10"])
        }
        let allowed = status["disruptionsAllowed"].int ?? 0
        let disrupted = status["disruptedPods"].object ?? [:]
        if allowed < 0 || disrupted.count >= Self.maxDisruptedPods {
            let reason = allowed < 0 ? "pdb disruptions allowed is negative"
                : "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
            return .status(403, "Forbidden", "poddisruptionbudgets.policy \(quoted(budgetName)) is forbidden: \(reason)",
                           details: ["name": .string(budgetName), "group": "policy", "kind": "poddisruptionbudgets"])
        }
        if allowed == 0 {
            return .status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", details: [
                "causes": [["reason": "DisruptionBudget", "message": .string("The disruption budget \(budgetName) needs \(desired) healthy pods and has \(healthy) currently")]],
            ])
        }
        if !options.dryRun {
            var updated = disrupted
            updated[name] = .string(Timestamp.rfc3339())
            budget["status"]["disruptionsAllowed"] = .int(Int64(allowed - 1))
            budget["status"]["disruptedPods"] = .object(updated)
            if allowed - 1 == 0 {
                budget["status"]["conditions"] = Self.disruptionAllowedCondition(status["conditions"], allowed: false,
                                                                                generation: budget["metadata"]["generation"])
            }
            storeUpdate(.podDisruptionBudgets, namespace, budget)
        }
        return granted()
    }

    /// Marks the pod `DisruptionTarget=True` (`EvictionByEvictionAPI`) and deletes it as a DELETE would.
    private func deleteEvicted(namespace: String, name: String, grace: Int?) {
        guard var pod = stored(.pods, namespace, name) else { return }
        var conditions = pod["status"]["conditions"].array ?? []
        conditions.removeAll { $0["type"].string == "DisruptionTarget" }
        conditions.append(["type": "DisruptionTarget", "status": "True", "lastProbeTime": .null, "lastTransitionTime": .string(Timestamp.rfc3339()),
                           "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"])
        pod["status"]["conditions"] = .array(conditions)
        storeUpdate(.pods, namespace, pod)
        deleteObject(ObjectRef(resource: .pods, namespace: namespace, name: name), policy: .background, grace: grace)
    }
}
