import Foundation
import NIOHTTP1

/// How a PATCH body is read by the API server (PROTOCOLS §9.10).
public enum PatchType: String, Sendable {
    /// RFC 7386: objects merge, `null` deletes a key, arrays are replaced whole.
    case merge = "application/merge-patch+json"
    /// Merge, except that lists with a merge key (`containers` by `name`…) merge per item. Built-in kinds only.
    case strategicMerge = "application/strategic-merge-patch+json"
    /// RFC 6902 operations (`add`, `replace`, `test`…).
    case json = "application/json-patch+json"
}

/// What an eviction request came to.
public enum EvictionOutcome: Sendable, Hashable {
    /// The API server accepted it: the pod is being deleted (or, in a dry run, would be).
    case evicted
    /// The pod was already gone (404): as good as evicted.
    case alreadyGone
    /// A PodDisruptionBudget refused it (429); the message names the budget. Asking again later may succeed.
    case blockedByBudget(String)
}

/// The writes the action recipes make: patches, evictions, and every write as a dry run (`?dryRun=All`), which the
/// API server authorises, admits and validates like the real one, and then does not store.
extension KubernetesClient {
    /// Patches the object and returns it as stored (or, with `dryRun`, as it would be stored).
    public func patch<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String?, _ patch: Data, as patchType: PatchType,
        dryRun: Bool = false
    ) async throws(KubernetesError) -> Object {
        try decode(Object.self, from: try await send(
            .PATCH, Object.resource.objectPath(name: name, namespace: namespace), query: Self.dryRunQuery(dryRun),
            body: patch, contentType: patchType.rawValue))
    }

    /// Creates the object, or with `dryRun` only checks that it could be and returns it as it would be stored.
    public func create<Object: KubernetesObject>(
        _ object: Object, namespace: String?, dryRun: Bool
    ) async throws(KubernetesError) -> Object {
        guard dryRun else { return try await create(object, namespace: namespace) }
        var object = object
        object.apiVersion = Object.resource.apiVersion
        object.kind = Object.resource.kind
        return try decode(Object.self, from: try await send(
            .POST, Object.resource.collectionPath(namespace: namespace), query: Self.dryRunQuery(true),
            body: try encode(object)))
    }

    /// Asks the API server to evict a pod (`POST pods/{name}/eviction`), which it refuses with 429 while a
    /// PodDisruptionBudget covering the pod allows no disruption. `gracePeriodSeconds` nil keeps the pod's own.
    public func evict(
        pod name: String, namespace: String, gracePeriodSeconds: Int? = nil, dryRun: Bool = false
    ) async throws(KubernetesError) -> EvictionOutcome {
        let eviction = Eviction(pod: name, namespace: namespace, gracePeriodSeconds: gracePeriodSeconds, dryRun: dryRun)
        do {
            _ = try await send(.POST, Pod.resource.objectPath(name: name, namespace: namespace) + "/eviction",
                               query: Self.dryRunQuery(dryRun), body: try encode(eviction))
            return .evicted
        } catch where error.isNotFound {
            return .alreadyGone
        } catch {
            if let budget = error.disruptionBudget { return .blockedByBudget(budget.isEmpty ? error.message : budget) }
            throw error
        }
    }

    static func dryRunQuery(_ dryRun: Bool) -> [(String, String)] {
        dryRun ? [("dryRun", "All")] : []
    }
}
