import EuphrosyneCore
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

    /// A Deployment's scale (`deployments/{name}/scale`).
    public func scale(deployment name: String, namespace: String) async throws(KubernetesError) -> Scale {
        try decode(Scale.self, from: try await send(.GET, Deployment.resource.objectPath(name: name, namespace: namespace) + "/scale"))
    }

    /// Sets a Deployment's replicas through its scale subresource, as `kubectl scale` does (a merge patch of
    /// `spec.replicas`); returns the Scale as stored (or, with `dryRun`, as it would be).
    public func scale(
        deployment name: String, namespace: String, replicas: Int, dryRun: Bool = false
    ) async throws(KubernetesError) -> Scale {
        try decode(Scale.self, from: try await send(
            .PATCH, Deployment.resource.objectPath(name: name, namespace: namespace) + "/scale",
            query: Self.dryRunQuery(dryRun), body: Data(#"{"spec":{"replicas":\#(replicas)}}"#.utf8),
            contentType: PatchType.merge.rawValue))
    }

    /// Deletes one object, or with `dryRun` only checks that it could be deleted. `preconditionUID` refuses (409)
    /// when the object by that name is no longer the one that was read.
    public func delete<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String?, preconditionUID: String?, dryRun: Bool
    ) async throws(KubernetesError) {
        _ = try await send(.DELETE, Object.resource.objectPath(name: name, namespace: namespace),
                           query: Self.dryRunQuery(dryRun),
                           body: try encode(Self.deleteOptions(preconditionUID: preconditionUID, dryRun: dryRun)))
    }

    /// The `DeleteOptions` body of such a delete.
    public static func deleteOptions(preconditionUID: String?, dryRun: Bool) -> JSONValue {
        var options: [String: JSONValue] = ["kind": .string("DeleteOptions"), "apiVersion": .string("v1")]
        if let preconditionUID { options["preconditions"] = .object(["uid": .string(preconditionUID)]) }
        if dryRun { options["dryRun"] = .array([.string("All")]) }
        return .object(options)
    }

    static func dryRunQuery(_ dryRun: Bool) -> [(String, String)] {
        dryRun ? [("dryRun", "All")] : []
    }
}

/// Objects as the API server sent them, every field kept: what a write built from a read must use (the typed
/// values know only the fields Euphrosyne reads, and a template rebuilt from them would lose the rest).
extension KubernetesClient {
    /// The object at `path` (e.g. `ReplicaSet.resource.objectPath(…)`), whole.
    public func getJSON(_ path: String) async throws(KubernetesError) -> [String: JSONValue] {
        let data = try await send(.GET, path)
        do {
            return try JSONValue.parseObject(data)
        } catch {
            throw KubernetesError(.unexpectedResponse, message: "the answer to GET \(path) is not a JSON object: \(error)")
        }
    }

    /// Every object of a collection matching `labelSelector`, whole (one page of up to 500).
    public func listJSON<Object: KubernetesObject>(
        _ type: Object.Type, namespace: String?, labelSelector: String? = nil
    ) async throws(KubernetesError) -> [[String: JSONValue]] {
        var query: [(String, String)] = [("limit", "500")]
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        let data = try await send(.GET, Object.resource.collectionPath(namespace: namespace), query: query)
        do {
            return (try JSONValue.parseObject(data)["items"]?.arrayValue ?? []).compactMap(\.objectValue)
        } catch {
            throw KubernetesError(.unexpectedResponse, message: "the list of \(Object.resource.plural) is not a JSON object: \(error)")
        }
    }
}
