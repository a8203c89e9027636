import Foundation

struct ObjectKey: Hashable, Sendable {
    var namespace: String
    var name: String
}

struct ObjectRef: Hashable, Sendable {
    var resource: Resource
    var namespace: String
    var name: String
}

enum EventType: String, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
}

struct StoredEvent: Sendable {
    var revision: Int
    var resource: Resource
    var namespace: String
    var type: EventType
    var object: JSON
    var previous: JSON?
}

struct Watcher: Sendable {
    var resource: Resource
    var namespace: String?
    var labels: LabelSelector
    var fields: FieldSelector
    var bookmarks: Bool
    var continuation: AsyncStream<String>.Continuation

    func matches(_ object: JSON) -> Bool {
        labels.matches(object["metadata"]["labels"].stringMap) && fields.matches(object)
    }

    /// The event this watcher sees for `event`: with a selector, an object that starts matching is ADDED and one
    /// that stops matching is DELETED, as the watch cache does.
    func view(of event: StoredEvent) -> EventType? {
        guard event.resource == resource, namespace == nil || namespace == event.namespace else { return nil }
        switch event.type {
        case .added: return matches(event.object) ? .added : nil
        case .deleted: return matches(event.object) ? .deleted : nil
        case .modified:
            let now = matches(event.object)
            let before = event.previous.map(matches) ?? false
            switch (before, now) {
            case (true, true): return .modified
            case (false, true): return .added
            case (true, false): return .deleted
            case (false, false): return nil
            }
        }
    }
}

enum Propagation: String, Sendable {
    case orphan = "Orphan"
    case background = "Background"
    case foreground = "Foreground"
}

extension KubernetesEmulator {
    // MARK: Storage primitives (every change goes through these: resourceVersion, history, watchers, controllers)

    func stored(_ resource: Resource, _ namespace: String, _ name: String) -> JSON? {
        store[resource]?[namespace]?[name]
    }

    func allStored(_ resource: Resource, namespace: String?) -> [(String, JSON)] {
        var result: [(String, JSON)] = []
        let spaces = namespace.map { [$0] } ?? (store[resource] ?? [:]).keys.sorted()
        for space in spaces {
            for (_, object) in (store[resource]?[space] ?? [:]).sorted(by: { $0.key < $1.key }) {
                result.append((space, object))
            }
        }
        return result
    }

    @discardableResult
    func storeCreate(_ resource: Resource, _ namespace: String, _ object: JSON) -> JSON {
        revision += 1
        var object = object
        object["metadata"]["resourceVersion"] = .string(String(revision))
        let name = object["metadata"]["name"].string ?? ""
        store[resource, default: [:]][namespace, default: [:]][name] = object
        record(StoredEvent(revision: revision, resource: resource, namespace: namespace, type: .added, object: object))
        return object
    }

    /// Stores a changed object; an update that changes nothing keeps the resourceVersion and sends no event. An
    /// object that no longer exists stays deleted.
    @discardableResult
    func storeUpdate(_ resource: Resource, _ namespace: String, _ object: JSON) -> JSON {
        let name = object["metadata"]["name"].string ?? ""
        guard let old = stored(resource, namespace, name) else { return object }
        var candidate = object
        candidate["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if candidate == old { return old }
        revision += 1
        candidate["metadata"]["resourceVersion"] = .string(String(revision))
        if resource.tracksGeneration, old["spec"] != candidate["spec"] {
            candidate["metadata"]["generation"] = .int(Int64((old["metadata"]["generation"].int ?? 1) + 1))
        }
        store[resource, default: [:]][namespace, default: [:]][name] = candidate
        record(StoredEvent(revision: revision, resource: resource, namespace: namespace, type: .modified,
                           object: candidate, previous: old))
        return candidate
    }

    /// Removes an object for good; the DELETED event carries the deletion's resourceVersion.
    @discardableResult
    func storeRemove(_ resource: Resource, _ namespace: String, _ name: String) -> JSON? {
        guard var object = store[resource]?[namespace]?.removeValue(forKey: name) else { return nil }
        revision += 1
        object["metadata"]["resourceVersion"] = .string(String(revision))
        record(StoredEvent(revision: revision, resource: resource, namespace: namespace, type: .deleted, object: object))
        return object
    }

    private func record(_ event: StoredEvent) {
        history.append(event)
        if history.count > options.historyLimit {
            let drop = history.count - options.historyLimit
            compactedRevision = history[drop - 1].revision
            history.removeFirst(drop)
        }
        for watcher in watchers.values {
            if let type = watcher.view(of: event) {
                watcher.continuation.yield(Self.eventLine(type.rawValue, event.object))
            }
        }
        didChange(event)
    }

    static func eventLine(_ type: String, _ object: JSON) -> String {
        (["type": .string(type), "object": object] as JSON).serialized() + "\n"
    }

    // MARK: Watch

    func openWatch(_ resource: Resource, namespace: String?, query: [String: String]) -> APIResponse {
        let labels: LabelSelector
        let fields: FieldSelector
        do throws(LabelSelector.ParseError) {
            labels = try LabelSelector(parsing: query["labelSelector"] ?? "")
            fields = try FieldSelector(parsing: query["fieldSelector"] ?? "", resource: resource)
        } catch {
            return .status(400, "BadRequest", error.message)
        }
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let watcher = Watcher(resource: resource, namespace: namespace, labels: labels, fields: fields,
                              bookmarks: ["true", "1"].contains(query["allowWatchBookmarks"] ?? ""), continuation: continuation)
        let requested = query["resourceVersion"] ?? ""
        let sendInitialEvents = query["sendInitialEvents"] == "true"
        if requested.isEmpty || requested == "0" || sendInitialEvents {
            for (_, object) in allStored(resource, namespace: namespace) where watcher.matches(object) {
                continuation.yield(Self.eventLine("ADDED", object))
            }
            if sendInitialEvents {
                // The streaming-list protocol: a bookmark marks the end of the initial events.
                continuation.yield(Self.eventLine("BOOKMARK", [
                    "kind": .string(resource.kind), "apiVersion": .string(resource.apiVersion),
                    "metadata": ["resourceVersion": .string(String(revision)), "creationTimestamp": .null,
                                 "annotations": ["k8s.io/initial-events-end": "true"]],
                ]))
            }
        } else {
            guard let from = Int(requested) else {
                continuation.yield(Self.eventLine("ERROR", Self.statusObject(
                    code: 400, reason: "BadRequest", message: "resourceVersion: Invalid value: \(quoted(requested)): invalid resource version")))
                continuation.finish()
                return .watch(stream, nil)
            }
            if from < compactedRevision {
                continuation.yield(Self.eventLine("ERROR", Self.statusObject(
                    code: 410, reason: "Expired", message: "too old resource version: \(from) (\(compactedRevision + 1))")))
                continuation.finish()
                return .watch(stream, nil)
            }
            for event in history where event.revision > from {
                if let type = watcher.view(of: event) { continuation.yield(Self.eventLine(type.rawValue, event.object)) }
            }
        }
        let id = UUID()
        watchers[id] = watcher
        continuation.onTermination = { [weak self] _ in
            Task { await self?.closeWatch(id) }
        }
        if let timeout = query["timeoutSeconds"].flatMap(Int.init), timeout > 0 {
            timers[id] = Task { [weak self] in
                try? await Task.sleep(for: .seconds(timeout))
                await self?.closeWatch(id)
            }
        }
        return .watch(stream, id)
    }

    func closeWatch(_ id: UUID) {
        if let watcher = watchers.removeValue(forKey: id) { watcher.continuation.finish() }
        timers.removeValue(forKey: id)?.cancel()
    }

    // MARK: Deletion, propagation and garbage collection

    func ownerUIDs(_ object: JSON) -> [String] {
        (object["metadata"]["ownerReferences"].array ?? []).compactMap { $0["uid"].string }
    }

    /// Objects in `namespace` with an ownerReference to `uid`.
    func dependents(of uid: String, namespace: String) -> [ObjectRef] {
        var result: [ObjectRef] = []
        for resource in Resource.allCases {
            for (name, object) in store[resource]?[namespace] ?? [:] where ownerUIDs(object).contains(uid) {
                result.append(ObjectRef(resource: resource, namespace: namespace, name: name))
            }
        }
        return result.sorted { ($0.resource.rawValue, $0.name) < ($1.resource.rawValue, $1.name) }
    }

    func exists(uid: String, namespace: String) -> Bool {
        Resource.allCases.contains { resource in
            (store[resource]?[namespace] ?? [:]).values.contains { $0["metadata"]["uid"].string == uid }
        }
    }

    /// Deletes an object with a propagation policy, as the API server and the garbage collector together do.
    /// Returns the object as the DELETE answers it (with `deletionTimestamp` while deletion is pending).
    @discardableResult
    func deleteObject(_ ref: ObjectRef, policy: Propagation, grace: Int? = nil) -> JSON? {
        guard var object = stored(ref.resource, ref.namespace, ref.name) else { return nil }
        let uid = object["metadata"]["uid"].string ?? ""
        if object["metadata"]["deletionTimestamp"].isNull == false, ref.resource != .pods || grace != 0 {
            return object  // already being deleted
        }
        let dependents = dependents(of: uid, namespace: ref.namespace)
        switch policy {
        case .orphan:
            for dependent in dependents { removeOwnerReference(uid, from: dependent) }
        case .background, .foreground:
            for dependent in dependents { collect(dependent, goneOwner: uid, policy: policy) }
        }
        if policy == .foreground {
            let blocking = self.dependents(of: uid, namespace: ref.namespace)
            if !blocking.isEmpty {
                object["metadata"]["deletionTimestamp"] = .string(Timestamp.rfc3339())
                object["metadata"]["deletionGracePeriodSeconds"] = 0
                var finalizers = object["metadata"]["finalizers"].array ?? []
                if !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
                object["metadata"]["finalizers"] = .array(finalizers)
                foregroundPending[uid] = ref
                return storeUpdate(ref.resource, ref.namespace, object)
            }
        }
        if ref.resource == .pods {
            return removePod(ref.namespace, ref.name, grace: grace)
        }
        var removed = storeRemove(ref.resource, ref.namespace, ref.name) ?? object
        if policy == .orphan, ref.resource == .jobs {
            removed["metadata"]["deletionTimestamp"] = .string(Timestamp.rfc3339())
        }
        return removed
    }

    /// The garbage collector's view of a dependent whose owner `goneOwner` was deleted: drop that reference; if no
    /// remaining owner exists, delete the dependent (cascading with `policy`).
    private func collect(_ dependent: ObjectRef, goneOwner: String, policy: Propagation) {
        guard let object = stored(dependent.resource, dependent.namespace, dependent.name) else { return }
        let others = ownerUIDs(object).filter { $0 != goneOwner }
        if others.contains(where: { exists(uid: $0, namespace: dependent.namespace) }) {
            removeOwnerReference(goneOwner, from: dependent)
        } else {
            deleteObject(dependent, policy: policy == .foreground ? .foreground : .background)
        }
    }

    private func removeOwnerReference(_ uid: String, from ref: ObjectRef) {
        guard var object = stored(ref.resource, ref.namespace, ref.name) else { return }
        let remaining = (object["metadata"]["ownerReferences"].array ?? []).filter { $0["uid"].string != uid }
        if remaining.isEmpty {
            object["metadata"].removeValue(forKey: "ownerReferences")
        } else {
            object["metadata"]["ownerReferences"] = .array(remaining)
        }
        storeUpdate(ref.resource, ref.namespace, object)
    }

    /// Deletes a pod: at once when no process runs (or `grace` is 0), else gracefully: `deletionTimestamp` is set,
    /// the processes get SIGTERM, and the pod disappears when they have exited (SIGKILL after the grace period).
    func removePod(_ namespace: String, _ name: String, grace: Int?) -> JSON? {
        guard var pod = stored(.pods, namespace, name) else { return nil }
        let uid = pod["metadata"]["uid"].string ?? ""
        if let run = podRuns[uid], run.isRunning, grace != 0 {
            if pod["metadata"]["deletionTimestamp"].isNull {
                let seconds = grace ?? pod["spec"]["terminationGracePeriodSeconds"].int ?? 30
                pod["metadata"]["deletionTimestamp"] = .string(Timestamp.rfc3339(Date().addingTimeInterval(Double(seconds))))
                pod["metadata"]["deletionGracePeriodSeconds"] = .int(Int64(seconds))
                pod = storeUpdate(.pods, namespace, pod)
                podRuns[uid]?.terminationRequested = true
                let cap = kubelet?.maxTerminationGracePeriod ?? .seconds(30)
                run.terminate(grace: min(.seconds(seconds), cap))
            }
            return pod
        }
        if let run = podRuns[uid] {
            run.terminate(grace: .zero)
            podRuns[uid]?.terminationRequested = true
        }
        return storeRemove(.pods, namespace, name)
    }

    /// Finishes foreground deletions whose blocking dependents are all gone.
    func finishForegroundDeletions() {
        for (uid, ref) in foregroundPending where dependents(of: uid, namespace: ref.namespace).isEmpty {
            foregroundPending.removeValue(forKey: uid)
            if stored(ref.resource, ref.namespace, ref.name)?["metadata"]["uid"].string == uid {
                if ref.resource == .pods {
                    _ = removePod(ref.namespace, ref.name, grace: nil)
                } else {
                    storeRemove(ref.resource, ref.namespace, ref.name)
                }
            }
        }
    }

    /// The garbage collector deletes an object whose owners (by uid) all no longer exist.
    func collectIfOrphaned(_ ref: ObjectRef, uid: String) {
        guard let object = stored(ref.resource, ref.namespace, ref.name), object["metadata"]["uid"].string == uid else { return }
        let owners = ownerUIDs(object)
        guard !owners.isEmpty, !owners.contains(where: { exists(uid: $0, namespace: ref.namespace) }) else { return }
        deleteObject(ref, policy: .background)
        settle()
    }

    // MARK: Reactions to changes

    func didChange(_ event: StoredEvent) {
        let metadata = event.object["metadata"]
        let name = metadata["name"].string ?? ""
        switch event.resource {
        case .jobs:
            pendingJobSyncs.append(ObjectKey(namespace: event.namespace, name: name))
            if event.type == .deleted, let uid = metadata["uid"].string { forgetJob(uid) }
        case .pods:
            if let owner = (metadata["ownerReferences"].array ?? []).first(where: { $0["kind"].string == "Job" && $0["controller"].bool == true }),
               let ownerName = owner["name"].string
            {
                pendingJobSyncs.append(ObjectKey(namespace: event.namespace, name: ownerName))
            }
            if event.type == .modified, let previous = event.previous,
               let owner = (previous["metadata"]["ownerReferences"].array ?? []).first(where: { $0["kind"].string == "Job" }),
               let ownerName = owner["name"].string
            {
                pendingJobSyncs.append(ObjectKey(namespace: event.namespace, name: ownerName))
            }
            if event.type == .added, kubelet != nil, let uid = metadata["uid"].string {
                startKubelet(ObjectRef(resource: .pods, namespace: event.namespace, name: name), uid: uid)
            }
            if event.type == .deleted, let uid = metadata["uid"].string {
                statusOverridden.remove(uid)
            }
        case .nodes:
            if event.type != .deleted { pendingNodeSyncs.append(name) }
        case .deployments:
            // Status-only writes (the controller's own, or a test's) do not start a new pass.
            func withoutStatus(_ object: JSON) -> JSON {
                var object = object
                object.removeValue(forKey: "status")
                object["metadata"].removeValue(forKey: "resourceVersion")
                return object
            }
            if event.type != .deleted, event.previous.map(withoutStatus) != withoutStatus(event.object) { enqueueDeploymentSync(ObjectKey(namespace: event.namespace, name: name)) }
            if event.type == .deleted, let uid = metadata["uid"].string { forgetDeployment(uid) }
        case .replicaSets:
            if event.type != .deleted { enqueueReplicaSetSync(ObjectKey(namespace: event.namespace, name: name)) }
            if event.type == .deleted, let uid = metadata["uid"].string { replicaSetBackoffs.removeValue(forKey: uid) }
            for object in [event.object, event.previous].compactMap({ $0 }) {
                if let owner = Self.controllerOwner(object, kind: "Deployment") { enqueueDeploymentSync(ObjectKey(namespace: event.namespace, name: owner)) }
            }
        default:
            break
        }
        switch event.resource {
        case .pods, .services:
            pendingEndpointSyncs.insert(event.namespace)
        case .endpointSlices where event.type == .deleted:
            if event.object["metadata"]["labels"][Self.managedByLabel].string == Self.endpointSliceControllerName {
                pendingEndpointSyncs.insert(event.namespace)
            }
        default:
            break
        }
        if event.resource == .pods {
            for object in [event.object, event.previous].compactMap({ $0 }) {
                if let owner = Self.controllerOwner(object, kind: "ReplicaSet") { enqueueReplicaSetSync(ObjectKey(namespace: event.namespace, name: owner)) }
            }
        }
        // The scheduler and the disruption controller look again whenever pods, nodes or budgets change.
        switch event.resource {
        case .pods:
            schedulingPending = true
            pendingBudgetSyncs.insert(event.namespace)
        case .nodes:
            schedulingPending = true
        case .podDisruptionBudgets:
            if event.type != .deleted { pendingBudgetSyncs.insert(event.namespace) }
        default:
            break
        }
        if event.type == .deleted, !foregroundPending.isEmpty {
            finishForegroundDeletions()
        }
        if event.type != .deleted, let uid = metadata["uid"].string, !ownerUIDs(event.object).isEmpty,
           event.previous.map({ ownerUIDs($0) != ownerUIDs(event.object) }) ?? true
        {
            let ref = ObjectRef(resource: event.resource, namespace: event.namespace, name: name)
            Task { [weak self] in await self?.collectIfOrphaned(ref, uid: uid) }
        }
    }

    /// The name in an object's `controller: true` ownerReference of `kind`.
    static func controllerOwner(_ object: JSON, kind: String) -> String? {
        (object["metadata"]["ownerReferences"].array ?? []).first { $0["kind"].string == kind && $0["controller"].bool == true }?["name"].string
    }

    /// Runs the controllers (jobs, the node controller, replica sets, deployments, the scheduler, the disruption
    /// controller, endpoint slices) until nothing is pending. Called at the end of every entry point that changes state.
    func settle() {
        var rounds = 0
        while rounds < 10_000 {
            rounds += 1
            if !pendingJobSyncs.isEmpty {
                syncJob(pendingJobSyncs.removeFirst())
            } else if !pendingNodeSyncs.isEmpty {
                syncNode(pendingNodeSyncs.removeFirst())
            } else if !pendingReplicaSetSyncs.isEmpty {
                syncReplicaSet(pendingReplicaSetSyncs.removeFirst())
            } else if !pendingDeploymentSyncs.isEmpty {
                syncDeployment(pendingDeploymentSyncs.removeFirst())
            } else if schedulingPending {
                schedulingPending = false
                schedulePods()
            } else if let namespace = pendingBudgetSyncs.first {
                pendingBudgetSyncs.remove(namespace)
                syncDisruptionBudgets(namespace)
            } else if let namespace = pendingEndpointSyncs.first {
                pendingEndpointSyncs.remove(namespace)
                syncEndpointSlices(namespace)
            } else {
                return
            }
        }
    }
}
