import Foundation

/// The deployment controller (kubernetes `pkg/controller/deployment`, PROTOCOLS §9.6–9.7), run synchronously in
/// ``KubernetesEmulator/settle()``: rollout recipes restart, undo and scale Deployments and then follow the rollout
/// by their status, as `kubectl rollout status` does.
///
/// - The ReplicaSet whose template equals the Deployment's (ignoring `pod-template-hash` and null fields) is the new
///   one; without one it creates `<deployment>-<pod-template-hash>` with revision max + 1. An older ReplicaSet whose
///   template comes back (an undo) is re-adopted with revision max + 1, its old number kept in
///   `deployment.kubernetes.io/revision-history`. The Deployment carries the new ReplicaSet's revision.
/// - `RollingUpdate` (the default) follows `maxSurge`/`maxUnavailable` (25 %/25 %: one extra pod for a small
///   Deployment, none unavailable): the new ReplicaSet grows by the surge, old ones shrink only as new pods become
///   available, so a new template whose pods never get Ready leaves the old pods serving. `Recreate` scales the old
///   ones to 0 first and the new one up once their pods are gone.
/// - `spec.paused` stops rollouts (a paused Deployment is still scaled); ReplicaSets with no replicas beyond
///   `revisionHistoryLimit` are deleted, oldest revision first.
/// - Status: `observedGeneration`, the counters (omitted when 0), `Available` and `Progressing` with the reasons of
///   §9.6. `Progressing` turns False `ProgressDeadlineExceeded` once `progressDeadlineSeconds` pass without progress
///   (a timer fires then; tests use a small value, or ``KubernetesEmulator/expireProgressDeadline(namespace:name:)``).
extension KubernetesEmulator {
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
    static let podTemplateHashLabel = "pod-template-hash"

    /// Annotations of a Deployment that its ReplicaSets do not copy (kubernetes `skipCopyAnnotation`).
    static let uncopiedAnnotations: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", revisionAnnotation, revisionHistoryAnnotation,
        "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    ]

    static func revision(_ object: JSON) -> Int {
        Int(object["metadata"]["annotations"][revisionAnnotation].string ?? "") ?? 0
    }

    /// A pod template as compared between a Deployment and its ReplicaSets: no `pod-template-hash` label, no null
    /// fields (a template sent back by `kubectl rollout undo` carries `creationTimestamp: null`).
    static func comparableTemplate(_ template: JSON) -> JSON {
        func strip(_ value: JSON) -> JSON {
            switch value {
            case .object(let members):
                return .object(members.filter { !$0.value.isNull }.mapValues(strip))
            case .array(let elements):
                return .array(elements.map(strip))
            default:
                return value
            }
        }
        var template = strip(template)
        template["metadata"]["labels"].removeValue(forKey: podTemplateHashLabel)
        return template
    }

    /// The `pod-template-hash`: FNV-1a (32 bits) of the template's canonical JSON (plus the collision count),
    /// its decimal digits encoded as the apiserver's `rand.SafeEncodeString` does.
    static func podTemplateHash(_ template: JSON, collisionCount: Int = 0) -> String {
        var hash: UInt32 = 2_166_136_261
        var bytes = Array(comparableTemplate(template).serialized().utf8)
        if collisionCount > 0 { bytes += Array(String(collisionCount).utf8) }
        for byte in bytes {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return String(String(hash).utf8.map { Names.alphabet[Int($0) % Names.alphabet.count] })
    }

    /// `maxSurge` and `maxUnavailable` resolved against `replicas` (surge rounds up, unavailability down; both 0
    /// means one unavailable). `Recreate` has neither.
    static func rollingParameters(_ spec: JSON, replicas: Int) -> (surge: Int, unavailable: Int) {
        guard (spec["strategy"]["type"].string ?? "RollingUpdate") == "RollingUpdate" else { return (0, 0) }
        func resolve(_ value: JSON, roundUp: Bool) -> Int {
            if let number = value.int { return number }
            guard let text = value.string, text.hasSuffix("%"), let percent = Double(text.dropLast()) else { return roundUp ? 1 : 0 }
            let exact = Double(replicas) * percent / 100
            return Int(roundUp ? exact.rounded(.up) : exact.rounded(.down))
        }
        let rolling = spec["strategy"]["rollingUpdate"]
        let surge = resolve(rolling["maxSurge"].isNull ? "25%" : rolling["maxSurge"], roundUp: true)
        var unavailable = resolve(rolling["maxUnavailable"].isNull ? "25%" : rolling["maxUnavailable"], roundUp: false)
        if surge == 0, unavailable == 0 { unavailable = 1 }
        return (surge, min(unavailable, replicas))
    }

    private func ownedReplicaSets(_ uid: String, namespace: String) -> [JSON] {
        allStored(.replicaSets, namespace: namespace).map(\.1).filter { Self.controllerUID($0) == uid }
            .sorted { ($0["metadata"]["creationTimestamp"].string ?? "", $0["metadata"]["name"].string ?? "")
                < ($1["metadata"]["creationTimestamp"].string ?? "", $1["metadata"]["name"].string ?? "") }
    }

    @discardableResult
    private func setReplicas(_ replicaSet: JSON, _ replicas: Int) -> JSON {
        guard (replicaSet["spec"]["replicas"].int ?? 1) != replicas else { return replicaSet }
        var updated = replicaSet
        updated["spec"]["replicas"] = .int(Int64(replicas))
        return storeUpdate(.replicaSets, replicaSet["metadata"]["namespace"].string ?? "", updated)
    }

    /// One pass of the deployment controller over a Deployment.
    func syncDeployment(_ key: ObjectKey) {
        guard !stopped, let deployment = stored(.deployments, key.namespace, key.name),
              deployment["metadata"]["deletionTimestamp"].isNull, let uid = deployment["metadata"]["uid"].string else { return }
        let spec = deployment["spec"]
        let replicas = spec["replicas"].int ?? 1
        let paused = spec["paused"].bool == true
        let template = Self.comparableTemplate(spec["template"])
        let (surge, unavailable) = Self.rollingParameters(spec, replicas: replicas)
        var owned = ownedReplicaSets(uid, namespace: key.namespace)
        var newRS = owned.first { Self.comparableTemplate($0["spec"]["template"]) == template }
        let maxRevision = owned.map(Self.revision).max() ?? 0
        var progressReason: (String, String)?

        if !paused {
            if var existing = newRS {
                let current = Self.revision(existing)
                if current < maxRevision || current == 0 {
                    // Rolled back to: a new revision, the old number kept in the history.
                    var annotations = existing["metadata"]["annotations"].isNull ? [:] : existing["metadata"]["annotations"]
                    if current > 0 {
                        let history = annotations[Self.revisionHistoryAnnotation].string.map { $0 + "," } ?? ""
                        annotations[Self.revisionHistoryAnnotation] = .string(history + String(current))
                    }
                    annotations[Self.revisionAnnotation] = .string(String(maxRevision + 1))
                    existing["metadata"]["annotations"] = annotations
                    newRS = storeUpdate(.replicaSets, key.namespace, existing)
                    progressReason = ("FoundNewReplicaSet", "Found new replica set \(quoted(existing["metadata"]["name"].string ?? ""))")
                }
            } else {
                // Born at the size the strategy allows now (the whole Deployment's size when nothing else runs).
                let oldTotal = owned.reduce(0) { $0 + ($1["spec"]["replicas"].int ?? 1) }
                let initial = (spec["strategy"]["type"].string ?? "RollingUpdate") == "Recreate"
                    ? (oldTotal == 0 ? replicas : 0) : min(replicas, max(replicas + surge - oldTotal, 0))
                let created = createReplicaSet(for: deployment, revision: maxRevision + 1, replicas: initial, maxReplicas: replicas + surge)
                newRS = created
                progressReason = ("NewReplicaSetCreated", "Created new replica set \(quoted(created["metadata"]["name"].string ?? ""))")
            }
        }

        // Scale.
        if let current = newRS {
            let newUID = current["metadata"]["uid"].string
            var olds = owned.filter { $0["metadata"]["uid"].string != newUID }
            var fresh = current
            func sum(_ sets: [JSON], _ field: (JSON) -> Int) -> Int { sets.reduce(0) { $0 + field($1) } }
            func specReplicas(_ set: JSON) -> Int { set["spec"]["replicas"].int ?? 1 }
            func availableReplicas(_ set: JSON) -> Int { set["status"]["availableReplicas"].int ?? 0 }
            if paused {
                if sum(olds, specReplicas) == 0 { fresh = setReplicas(fresh, replicas) }
            } else if (spec["strategy"]["type"].string ?? "RollingUpdate") == "Recreate" {
                for index in olds.indices where specReplicas(olds[index]) > 0 { olds[index] = setReplicas(olds[index], 0) }
                let oldPodsLeft = olds.contains { old in
                    controlledPods(old["metadata"]["uid"].string ?? "", namespace: key.namespace).contains { !Self.isTerminal($0) }
                }
                if !oldPodsLeft { fresh = setReplicas(fresh, replicas) }
            } else {
                // Scale the new ReplicaSet up within the surge.
                var newReplicas = specReplicas(fresh)
                if newReplicas > replicas {
                    newReplicas = replicas
                } else if newReplicas < replicas {
                    let room = replicas + surge - (newReplicas + sum(olds, specReplicas))
                    if room > 0 { newReplicas += min(room, replicas - newReplicas) }
                }
                fresh = setReplicas(fresh, newReplicas)
                // Scale old ones down, unhealthy replicas first, without going below minimum availability.
                if sum(olds, specReplicas) > 0 {
                    let minAvailable = replicas - unavailable
                    let newUnavailable = max(specReplicas(fresh) - availableReplicas(fresh), 0)
                    let maxCleanup = specReplicas(fresh) + sum(olds, specReplicas) - minAvailable - newUnavailable
                    var cleaned = 0
                    for index in olds.indices where maxCleanup > cleaned {
                        let unhealthy = specReplicas(olds[index]) - min(availableReplicas(olds[index]), specReplicas(olds[index]))
                        guard unhealthy > 0 else { continue }
                        let drop = min(unhealthy, maxCleanup - cleaned)
                        olds[index] = setReplicas(olds[index], specReplicas(olds[index]) - drop)
                        cleaned += drop
                    }
                    let availableNow = availableReplicas(fresh) + olds.reduce(0) { $0 + min(availableReplicas($1), specReplicas($1)) }
                    var scaleDown = availableNow - minAvailable
                    for index in olds.indices where scaleDown > 0 && specReplicas(olds[index]) > 0 {
                        let drop = min(specReplicas(olds[index]), scaleDown)
                        olds[index] = setReplicas(olds[index], specReplicas(olds[index]) - drop)
                        scaleDown -= drop
                    }
                }
            }
            newRS = fresh
            if !paused { cleanUpHistory(olds, limit: spec["revisionHistoryLimit"].int ?? 10) }
        } else if paused, owned.count == 1 {
            setReplicas(owned[0], replicas)
        }

        // The Deployment's revision and status, from its ReplicaSets as they are now.
        owned = ownedReplicaSets(uid, namespace: key.namespace)
        let newName = newRS?["metadata"]["name"].string
        let current = owned.first { $0["metadata"]["name"].string == newName }
        var updated = deployment
        if let current, Self.revision(current) > 0 {
            var annotations = updated["metadata"]["annotations"].isNull ? [:] : updated["metadata"]["annotations"]
            annotations[Self.revisionAnnotation] = .string(String(Self.revision(current)))
            updated["metadata"]["annotations"] = annotations
        }
        let old = deployment["status"]
        var status = old
        func count(_ field: String) -> Int { owned.reduce(0) { $0 + ($1["status"][field].int ?? 0) } }
        let statusReplicas = count("replicas")
        let updatedReplicas = current?["status"]["replicas"].int ?? 0
        let ready = count("readyReplicas")
        let available = count("availableReplicas")
        status["observedGeneration"] = deployment["metadata"]["generation"]
        for (field, value) in [("replicas", statusReplicas), ("updatedReplicas", updatedReplicas), ("readyReplicas", ready),
                               ("availableReplicas", available), ("unavailableReplicas", max(replicas - available, 0))] {
            if value > 0 { status[field] = .int(Int64(value)) } else { status.removeValue(forKey: field) }
        }
        let now = Timestamp.rfc3339()
        var conditions = old["conditions"].array ?? []
        func condition(_ type: String) -> JSON? { conditions.first { $0["type"].string == type } }
        func set(_ type: String, _ value: String, _ reason: String, _ message: String, touch: Bool) {
            let previous = condition(type)
            if !touch, let previous, previous["status"].string == value, previous["reason"].string == reason { return }
            let transition = previous?["status"].string == value ? previous?["lastTransitionTime"] ?? .string(now) : .string(now)
            let fresh: JSON = ["type": .string(type), "status": .string(value), "lastUpdateTime": .string(now),
                               "lastTransitionTime": transition, "reason": .string(reason), "message": .string(message)]
            if let index = conditions.firstIndex(where: { $0["type"].string == type }) { conditions[index] = fresh } else { conditions.append(fresh) }
        }
        if available >= replicas - unavailable {
            set("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", touch: false)
        } else {
            set("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", touch: false)
        }
        let progressing = condition("Progressing")
        let rsName = quoted(newName ?? "")
        if paused {
            set("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", touch: false)
        } else if let (reason, message) = progressReason {
            set("Progressing", "True", reason, message, touch: true)
            expiredProgressDeadlines.remove(uid)
        } else if newRS != nil, updatedReplicas == replicas, available == replicas, statusReplicas == replicas {
            set("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \(rsName) has successfully progressed.", touch: false)
        } else if progressing?["reason"].string == "DeploymentPaused" {
            set("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", touch: true)
        } else if updatedReplicas > (old["updatedReplicas"].int ?? 0) || ready > (old["readyReplicas"].int ?? 0)
                    || available > (old["availableReplicas"].int ?? 0)
                    || statusReplicas - updatedReplicas < (old["replicas"].int ?? 0) - (old["updatedReplicas"].int ?? 0) {
            set("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \(rsName) is progressing.", touch: true)
        } else if let progressing, progressing["reason"].string != "NewReplicaSetAvailable",
                  progressing["reason"].string != "ProgressDeadlineExceeded", let deadline = spec["progressDeadlineSeconds"].int {
            let since = progressing["lastUpdateTime"].string.flatMap(Timestamp.parse) ?? Date()
            let due = since.addingTimeInterval(Double(deadline))
            if expiredProgressDeadlines.contains(uid) || Date() >= due {
                expiredProgressDeadlines.remove(uid)
                set("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \(rsName) has timed out progressing.", touch: true)
            } else {
                scheduleProgressCheck(key, uid: uid, due: due)
            }
        }
        if let index = conditions.firstIndex(where: { $0["type"].string == "Progressing" }), condition("Progressing")?["status"].string == "True",
           !["NewReplicaSetAvailable"].contains(conditions[index]["reason"].string ?? ""), let deadline = spec["progressDeadlineSeconds"].int {
            let since = conditions[index]["lastUpdateTime"].string.flatMap(Timestamp.parse) ?? Date()
            scheduleProgressCheck(key, uid: uid, due: since.addingTimeInterval(Double(deadline)))
        }
        let order = ["Available", "Progressing"]
        conditions.sort { (order.firstIndex(of: $0["type"].string ?? "") ?? 9) < (order.firstIndex(of: $1["type"].string ?? "") ?? 9) }
        if !conditions.isEmpty { status["conditions"] = .array(conditions) }
        updated["status"] = status
        storeUpdate(.deployments, key.namespace, updated)
    }

    /// Looks at the Deployment again when its progress deadline passes (one timer per Deployment and deadline).
    private func scheduleProgressCheck(_ key: ObjectKey, uid: String, due: Date) {
        let stamp = Timestamp.rfc3339(due)
        if let existing = progressTimers[uid], existing.due == stamp { return }
        if let existing = progressTimers[uid] { timers.removeValue(forKey: existing.id)?.cancel() }
        let delay = max(0, due.timeIntervalSinceNow) + 0.05
        let id = schedule(after: .milliseconds(Int(delay * 1000))) { emulator in
            emulator.progressTimers.removeValue(forKey: uid)
            emulator.enqueueDeploymentSync(key)
        }
        progressTimers[uid] = (id, stamp)
    }

    /// Deletes old ReplicaSets without replicas beyond `revisionHistoryLimit`, the oldest revision first.
    private func cleanUpHistory(_ olds: [JSON], limit: Int) {
        let idle = olds.filter {
            ($0["spec"]["replicas"].int ?? 1) == 0 && ($0["status"]["replicas"].int ?? 0) == 0 && $0["metadata"]["deletionTimestamp"].isNull
        }.sorted { Self.revision($0) < Self.revision($1) }
        guard idle.count > limit else { return }
        for set in idle.prefix(idle.count - limit) {
            deleteObject(ObjectRef(resource: .replicaSets, namespace: set["metadata"]["namespace"].string ?? "",
                                   name: set["metadata"]["name"].string ?? ""), policy: .background)
        }
    }

    /// `<deployment>-<pod-template-hash>` with the hash as a label on it, its selector and its template, the
    /// Deployment's copyable annotations, the revision, and a controller ownerReference.
    private func createReplicaSet(for deployment: JSON, revision: Int, replicas: Int, maxReplicas: Int) -> JSON {
        let namespace = deployment["metadata"]["namespace"].string ?? ""
        let deploymentName = deployment["metadata"]["name"].string ?? ""
        let spec = deployment["spec"]
        var collision = 0
        var hash = Self.podTemplateHash(spec["template"])
        while stored(.replicaSets, namespace, "\(deploymentName)-\(hash)") != nil {
            collision += 1
            hash = Self.podTemplateHash(spec["template"], collisionCount: collision)
        }
        var template = spec["template"]
        template["metadata"]["labels"][Self.podTemplateHashLabel] = .string(hash)
        var selector = spec["selector"]
        selector["matchLabels"][Self.podTemplateHashLabel] = .string(hash)
        var annotations: JSON = [:]
        for (key, value) in deployment["metadata"]["annotations"].object ?? [:] where !Self.uncopiedAnnotations.contains(key) {
            annotations[key] = value
        }
        annotations[Self.revisionAnnotation] = .string(String(revision))
        annotations["deployment.kubernetes.io/desired-replicas"] = .string(String(spec["replicas"].int ?? 1))
        annotations["deployment.kubernetes.io/max-replicas"] = .string(String(maxReplicas))
        var replicaSetSpec: JSON = ["replicas": .int(Int64(replicas)), "selector": selector, "template": template]
        if let minReady = spec["minReadySeconds"].int, minReady > 0 { replicaSetSpec["minReadySeconds"] = .int(Int64(minReady)) }
        var object: JSON = [
            "kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": [
                "name": .string("\(deploymentName)-\(hash)"), "namespace": .string(namespace),
                "uid": .string(UUID().uuidString.lowercased()), "creationTimestamp": .string(Timestamp.rfc3339()), "generation": 1,
                "labels": template["metadata"]["labels"], "annotations": annotations,
                "ownerReferences": [[
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": .string(deploymentName), "uid": deployment["metadata"]["uid"],
                    "controller": true, "blockOwnerDeletion": true,
                ]],
            ],
            "spec": replicaSetSpec,
            "status": ["replicas": 0],
        ]
        Objects.applyDefaults(.replicaSets, &object)
        return storeCreate(.replicaSets, namespace, object)
    }

    func enqueueDeploymentSync(_ key: ObjectKey) {
        if !pendingDeploymentSyncs.contains(key) { pendingDeploymentSyncs.append(key) }
    }

    func enqueueReplicaSetSync(_ key: ObjectKey) {
        if !pendingReplicaSetSyncs.contains(key) { pendingReplicaSetSyncs.append(key) }
    }

    /// Forgets a deleted Deployment's timers.
    func forgetDeployment(_ uid: String) {
        if let timer = progressTimers.removeValue(forKey: uid) { timers.removeValue(forKey: timer.id)?.cancel() }
        expiredProgressDeadlines.remove(uid)
    }

    /// Test hook: makes the Deployment's progress deadline count as passed now, so an unfinished rollout turns
    /// `Progressing` False `ProgressDeadlineExceeded` at once instead of after `progressDeadlineSeconds`. A finished
    /// rollout (`NewReplicaSetAvailable`) or a paused one is not affected.
    public func expireProgressDeadline(namespace: String, name: String) throws {
        guard let deployment = store[.deployments]?[namespace]?[name], let uid = deployment["metadata"]["uid"].string else {
            throw EmulatorError(description: "no deployment \(namespace)/\(name)")
        }
        expiredProgressDeadlines.insert(uid)
        enqueueDeploymentSync(ObjectKey(namespace: namespace, name: name))
        settle()
    }
}
