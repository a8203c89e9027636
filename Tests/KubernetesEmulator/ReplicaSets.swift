import Foundation

/// The replica-set controller: keeps the pods of each ReplicaSet at `spec.replicas` and writes its status. The
/// deployment controller scales ReplicaSets; rollout recipes read their `status.readyReplicas` and revisions.
///
/// Pods are made only when the emulator has a kubelet (``Kubelet/Configuration``): without one nothing would ever
/// run them, and the suites that seed a Deployment next to hand-made pods (pod diagnostics, drains) keep exactly the
/// pods they seeded. With a kubelet, a pod whose images the kubelet has runs and becomes Ready; one whose image it
/// lacks stays Pending in `ErrImagePull`/`ImagePullBackOff`, never Ready (a rollout that never completes).
extension KubernetesEmulator {
    /// The pods a controller (by uid) owns with `controller: true`, sorted by name.
    func controlledPods(_ uid: String, namespace: String) -> [JSON] {
        (store[.pods]?[namespace] ?? [:]).values
            .filter { Self.controllerUID($0) == uid }
            .sorted { ($0["metadata"]["name"].string ?? "") < ($1["metadata"]["name"].string ?? "") }
    }

    /// The uid in an object's `controller: true` ownerReference.
    static func controllerUID(_ object: JSON) -> String? {
        (object["metadata"]["ownerReferences"].array ?? []).first { $0["controller"].bool == true }?["uid"].string
    }

    static func isPodReady(_ pod: JSON) -> Bool {
        (pod["status"]["conditions"].array ?? []).contains { $0["type"].string == "Ready" && $0["status"].string == "True" }
    }

    /// Ready for at least `minReadySeconds` (by the Ready condition's `lastTransitionTime`).
    static func isPodAvailable(_ pod: JSON, minReadySeconds: Int, now: Date = Date()) -> Bool {
        guard isPodReady(pod) else { return false }
        guard minReadySeconds > 0 else { return true }
        let ready = (pod["status"]["conditions"].array ?? []).first { $0["type"].string == "Ready" }
        guard let since = ready?["lastTransitionTime"].string.flatMap(Timestamp.parse) else { return false }
        return now.timeIntervalSince(since) >= Double(minReadySeconds)
    }

    /// One pass over a ReplicaSet: with a kubelet, create or delete pods to match `spec.replicas` (deleting the
    /// least useful first: unscheduled, then not ready, then the newest); then write `status`.
    func syncReplicaSet(_ key: ObjectKey) {
        guard !stopped, let replicaSet = stored(.replicaSets, key.namespace, key.name),
              let uid = replicaSet["metadata"]["uid"].string else { return }
        let deleting = !replicaSet["metadata"]["deletionTimestamp"].isNull
        func active() -> [JSON] {
            controlledPods(uid, namespace: key.namespace).filter { !Self.isTerminal($0) && $0["metadata"]["deletionTimestamp"].isNull }
        }
        if let configuration = kubelet, !deleting {
            let wanted = replicaSet["spec"]["replicas"].int ?? 1
            // The kubelet does not restart containers: a pod whose process ended is replaced, after a back-off that
            // doubles per ended pod (the emulator's CrashLoopBackOff), so a command that exits at once does not spin.
            var backoff = replicaSetBackoffs[uid] ?? (failures: 0, next: nil)
            for pod in controlledPods(uid, namespace: key.namespace) where Self.isTerminal(pod) {
                _ = removePod(key.namespace, pod["metadata"]["name"].string ?? "", grace: 0)
                backoff.failures += 1
                backoff.next = .now + min(configuration.retryBackoff * (1 << min(backoff.failures - 1, 12)), .seconds(10))
            }
            replicaSetBackoffs[uid] = backoff
            let pods = active()
            if pods.count < wanted {
                if let next = backoff.next, ContinuousClock.now < next {
                    resyncReplicaSet(key, uid: uid, after: next - ContinuousClock.now)
                } else {
                    for _ in pods.count..<wanted { createControlledPod(for: replicaSet, kind: "ReplicaSet", apiVersion: "apps/v1") }
                }
            } else if pods.count > wanted {
                let ranked = pods.sorted { a, b in
                    func rank(_ pod: JSON) -> (Int, Int, String) {
                        ((pod["spec"]["nodeName"].string ?? "").isEmpty ? 0 : 1, Self.isPodReady(pod) ? 1 : 0,
                         pod["metadata"]["creationTimestamp"].string ?? "")
                    }
                    let (ra, rb) = (rank(a), rank(b))
                    return ra.0 != rb.0 ? ra.0 < rb.0 : ra.1 != rb.1 ? ra.1 < rb.1 : ra.2 > rb.2
                }
                for pod in ranked.prefix(pods.count - wanted) {
                    _ = removePod(key.namespace, pod["metadata"]["name"].string ?? "", grace: nil)
                }
            }
        }
        let pods = active()
        let minReady = replicaSet["spec"]["minReadySeconds"].int ?? 0
        let ready = pods.filter(Self.isPodReady).count
        let available = pods.filter { Self.isPodAvailable($0, minReadySeconds: minReady) }.count
        let labelled = pods.filter { Objects.selectorMatches(replicaSet["spec"]["selector"], $0["metadata"]["labels"].stringMap) }.count
        var status = replicaSet["status"]
        status["replicas"] = .int(Int64(pods.count))
        for (field, value) in [("fullyLabeledReplicas", labelled), ("readyReplicas", ready), ("availableReplicas", available)] {
            if value > 0 { status[field] = .int(Int64(value)) } else { status.removeValue(forKey: field) }
        }
        status["observedGeneration"] = replicaSet["metadata"]["generation"]
        if status != replicaSet["status"] {
            var updated = replicaSet
            updated["status"] = status
            storeUpdate(.replicaSets, key.namespace, updated)
        }
        if minReady > 0, ready > available {
            // Look again when the ready pods have been ready long enough.
            resyncReplicaSet(key, uid: uid, after: .seconds(minReady))
        }
    }

    /// Looks at a ReplicaSet again after `delay` (one timer at a time per ReplicaSet).
    private func resyncReplicaSet(_ key: ObjectKey, uid: String, after delay: Duration) {
        guard replicaSetTimers.insert(uid).inserted else { return }
        schedule(after: delay) { emulator in
            emulator.replicaSetTimers.remove(uid)
            emulator.enqueueReplicaSetSync(key)
        }
    }

}
