import Foundation

/// The job controller's memory of one Job (by uid).
struct JobTracking: Sendable {
    /// Pods already counted in `succeeded`/`failed`.
    var counted: Set<String> = []
    /// Pods seen unfinished: if one disappears before finishing, it counts as failed.
    var unfinished: Set<String> = []
    /// Pods deleted because the Job was suspended: not failures.
    var ignored: Set<String> = []
    var nextCreation: ContinuousClock.Instant?
    var deadlineTimer: UUID?
    var backoffTimer: UUID?
}

extension KubernetesEmulator {
    private static func jobCondition(_ type: String, reason: String, message: String, now: String, status: String = "True") -> JSON {
        ["type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(message),
         "lastProbeTime": .string(now), "lastTransitionTime": .string(now)]
    }

    private static func hasCondition(_ conditions: [JSON], _ type: String) -> JSON? {
        conditions.first { $0["type"].string == type && $0["status"].string == "True" }
    }

    /// Whether a pod has finished (`Succeeded` or `Failed`).
    static func isTerminal(_ pod: JSON) -> Bool {
        let phase = pod["status"]["phase"].string
        return phase == "Succeeded" || phase == "Failed"
    }

    private func pods(ofJob uid: String, namespace: String) -> [JSON] {
        (store[.pods]?[namespace] ?? [:]).values
            .filter { pod in
                (pod["metadata"]["ownerReferences"].array ?? []).contains { $0["uid"].string == uid && $0["controller"].bool == true }
            }
            .sorted { ($0["metadata"]["name"].string ?? "") < ($1["metadata"]["name"].string ?? "") }
    }

    /// Runs `action` on the actor after `delay`, then settles; cancelled by ``stop()``.
    @discardableResult
    func schedule(after delay: Duration, _ action: @escaping @Sendable (isolated KubernetesEmulator) -> Void) -> UUID {
        let id = UUID()
        timers[id] = Task { [weak self] in
            do { try await Task.sleep(for: delay) } catch { return }
            await self?.fire(id, action)
        }
        return id
    }

    private func fire(_ id: UUID, _ action: @Sendable (isolated KubernetesEmulator) -> Void) {
        guard timers.removeValue(forKey: id) != nil, !stopped else { return }
        action(self)
        settle()
    }

    func forgetJob(_ uid: String) {
        if let id = ttlTimers.removeValue(forKey: uid) { timers.removeValue(forKey: id)?.cancel() }
        guard let tracking = jobTracking.removeValue(forKey: uid) else { return }
        for id in [tracking.deadlineTimer, tracking.backoffTimer].compactMap({ $0 }) {
            timers.removeValue(forKey: id)?.cancel()
        }
    }

    /// Starts the `ttlSecondsAfterFinished` clock of a finished Job (once).
    func scheduleTTLIfFinished(_ namespace: String, _ name: String) {
        guard let job = stored(.jobs, namespace, name), let ttl = job["spec"]["ttlSecondsAfterFinished"].int,
              let uid = job["metadata"]["uid"].string else { return }
        let conditions = job["status"]["conditions"].array ?? []
        guard let finished = Self.hasCondition(conditions, "Complete") ?? Self.hasCondition(conditions, "Failed"),
              ttlTimers[uid] == nil else { return }
        let finishedAt = finished["lastTransitionTime"].string.flatMap(Timestamp.parse) ?? Date()
        let remaining = max(0, finishedAt.addingTimeInterval(Double(ttl)).timeIntervalSinceNow)
        ttlTimers[uid] = schedule(after: .milliseconds(Int(remaining * 1000))) { emulator in
            guard emulator.stored(.jobs, namespace, name)?["metadata"]["uid"].string == uid else { return }
            emulator.deleteObject(ObjectRef(resource: .jobs, namespace: namespace, name: name), policy: .background)
        }
    }

    /// One pass of the job controller over a Job: count finished pods, decide (success, backoff limit, deadline),
    /// create or terminate pods, write status — the terminal condition only once no pod is left running, in a
    /// separate update, as Kubernetes ≥ 1.31 does.
    func syncJob(_ key: ObjectKey) {
        guard kubelet != nil, !stopped, let job = stored(.jobs, key.namespace, key.name),
              job["metadata"]["deletionTimestamp"].isNull, let uid = job["metadata"]["uid"].string else { return }
        var tracking = jobTracking[uid] ?? JobTracking()
        defer { jobTracking[uid] = tracking }
        var status = job["status"]
        var conditions = status["conditions"].array ?? []
        if Self.hasCondition(conditions, "Complete") != nil || Self.hasCondition(conditions, "Failed") != nil {
            scheduleTTLIfFinished(key.namespace, key.name)
            return
        }
        let spec = job["spec"]
        let now = Timestamp.rfc3339()
        var succeeded = status["succeeded"].int ?? 0
        var failed = status["failed"].int ?? 0
        var newFailures = 0

        // Count what finished since the last pass (pods that vanished unfinished count as failed).
        func countFinished() {
            let owned = pods(ofJob: uid, namespace: key.namespace)
            let present = Set(owned.compactMap { $0["metadata"]["uid"].string })
            for pod in owned {
                guard let podUID = pod["metadata"]["uid"].string, !tracking.counted.contains(podUID) else { continue }
                switch pod["status"]["phase"].string {
                case "Succeeded": tracking.counted.insert(podUID); succeeded += 1
                case "Failed": tracking.counted.insert(podUID); failed += 1; newFailures += 1
                default: tracking.unfinished.insert(podUID)
                }
            }
            for podUID in tracking.unfinished where !present.contains(podUID) && !tracking.counted.contains(podUID) {
                tracking.counted.insert(podUID)
                if !tracking.ignored.contains(podUID) { failed += 1; newFailures += 1 }
            }
            tracking.unfinished = tracking.unfinished.filter { present.contains($0) && !tracking.counted.contains($0) }
        }
        countFinished()
        if newFailures > 0, let configuration = kubelet {
            let factor = 1 << min(max(failed - 1, 0), 12)
            tracking.nextCreation = .now + min(configuration.retryBackoff * factor, .seconds(360))
        }

        func active() -> [JSON] { self.pods(ofJob: uid, namespace: key.namespace).filter { !Self.isTerminal($0) && $0["metadata"]["deletionTimestamp"].isNull } }
        func terminateActive(ignoring: Bool = false) {
            for pod in active() {
                if ignoring, let podUID = pod["metadata"]["uid"].string { tracking.ignored.insert(podUID) }
                _ = removePod(key.namespace, pod["metadata"]["name"].string ?? "", grace: nil)
            }
        }

        let suspended = spec["suspend"].bool == true
        let decided = Self.hasCondition(conditions, "FailureTarget") != nil || Self.hasCondition(conditions, "SuccessCriteriaMet") != nil
        if suspended, !decided {
            terminateActive(ignoring: true)
            status.removeValue(forKey: "startTime")
            if Self.hasCondition(conditions, "Suspended") == nil {
                conditions.removeAll { $0["type"].string == "Suspended" }
                conditions.append(Self.jobCondition("Suspended", reason: "JobSuspended", message: "Job suspended", now: now))
            }
        } else {
            if status["startTime"].isNull {
                status["startTime"] = .string(now)
                if let index = conditions.firstIndex(where: { $0["type"].string == "Suspended" }) {
                    conditions[index] = Self.jobCondition("Suspended", reason: "JobResumed", message: "Job resumed", now: now, status: "False")
                }
            }
            let startTime = status["startTime"].string.flatMap(Timestamp.parse) ?? Date()
            if !decided {
                let deadline = spec["activeDeadlineSeconds"].int.map { startTime.addingTimeInterval(Double($0)) }
                if let deadline, Date() >= deadline {
                    conditions.append(Self.jobCondition("FailureTarget", reason: "DeadlineExceeded",
                                                        message: "Job was active longer than specified deadline", now: now))
                    terminateActive()
                } else if failed > spec["backoffLimit"].int ?? 6 {
                    conditions.append(Self.jobCondition("FailureTarget", reason: "BackoffLimitExceeded",
                                                        message: "Job has reached the specified backoff limit", now: now))
                    terminateActive()
                } else if succeeded >= spec["completions"].int ?? 1 {
                    conditions.append(Self.jobCondition("SuccessCriteriaMet", reason: "CompletionsReached",
                                                        message: "Reached expected number of succeeded pods", now: now))
                    terminateActive()
                } else {
                    if let deadline, tracking.deadlineTimer == nil {
                        let delay = max(0, deadline.timeIntervalSinceNow)
                        tracking.deadlineTimer = schedule(after: .milliseconds(Int(delay * 1000) + 5)) { emulator in
                            emulator.pendingJobSyncs.append(key)
                        }
                    }
                    let parallelism = spec["parallelism"].int ?? 1
                    let completions = spec["completions"].int ?? 1
                    let running = pods(ofJob: uid, namespace: key.namespace).filter { !Self.isTerminal($0) }.count
                    let wanted = min(parallelism, completions - succeeded) - running
                    if wanted > 0 {
                        if let next = tracking.nextCreation, ContinuousClock.now < next {
                            if tracking.backoffTimer == nil {
                                tracking.backoffTimer = schedule(after: next - ContinuousClock.now) { emulator in
                                    if let uid = emulator.stored(.jobs, key.namespace, key.name)?["metadata"]["uid"].string {
                                        emulator.jobTracking[uid]?.backoffTimer = nil
                                    }
                                    emulator.pendingJobSyncs.append(key)
                                }
                            }
                        } else {
                            for _ in 0..<wanted { createControlledPod(for: job, kind: "Job", apiVersion: "batch/v1") }
                        }
                    }
                }
            }
        }

        // Counts after this pass's actions.
        countFinished()
        let after = pods(ofJob: uid, namespace: key.namespace)
        let activePods = after.filter { !Self.isTerminal($0) && $0["metadata"]["deletionTimestamp"].isNull }
        let terminating = after.filter { !Self.isTerminal($0) && !$0["metadata"]["deletionTimestamp"].isNull }.count
        let ready = activePods.filter { pod in
            (pod["status"]["conditions"].array ?? []).contains { $0["type"].string == "Ready" && $0["status"].string == "True" }
        }.count
        for (field, value) in [("active", activePods.count), ("succeeded", succeeded), ("failed", failed)] {
            if value > 0 { status[field] = .int(Int64(value)) } else { status.removeValue(forKey: field) }
        }
        status["ready"] = .int(Int64(ready))
        status["terminating"] = .int(Int64(terminating))
        status["uncountedTerminatedPods"] = [:]
        if !conditions.isEmpty { status["conditions"] = .array(conditions) }
        var updated = job
        updated["status"] = status
        updated = storeUpdate(.jobs, key.namespace, updated)

        // The terminal condition, once nothing runs any more.
        guard activePods.isEmpty, terminating == 0 else { return }
        if let target = Self.hasCondition(conditions, "FailureTarget") {
            conditions.append(Self.jobCondition("Failed", reason: target["reason"].string ?? "", message: target["message"].string ?? "", now: now))
        } else if Self.hasCondition(conditions, "SuccessCriteriaMet") != nil {
            conditions.append(Self.jobCondition("Complete", reason: "CompletionsReached", message: "Reached expected number of succeeded pods", now: now))
            status["completionTime"] = .string(now)
        } else {
            return
        }
        status["conditions"] = .array(conditions)
        updated["status"] = status
        storeUpdate(.jobs, key.namespace, updated)
        for id in [tracking.deadlineTimer, tracking.backoffTimer].compactMap({ $0 }) { timers.removeValue(forKey: id)?.cancel() }
        tracking.deadlineTimer = nil
        tracking.backoffTimer = nil
        scheduleTTLIfFinished(key.namespace, key.name)
    }

}
