import Foundation

/// The start-up RBAC check: asks the API server (SelfSubjectAccessReview) for every permission cluster mode needs
/// and reports all that are missing in one message, so an operator fixes the Role once.
public enum PermissionCheck {
    /// What the reconciler does in the recipe namespace: Jobs, their data ConfigMaps and result-key Secrets, the
    /// pods' state and logs. Secrets are only created (the garbage collector removes them), never read or deleted.
    public static func recipeNamespace(_ namespace: String) -> [ResourceAttributes] {
        ["create", "get", "list", "watch", "delete", "deletecollection"].map {
            ResourceAttributes(verb: $0, group: "batch", resource: "jobs", namespace: namespace)
        } + ["create", "deletecollection"].map {
            ResourceAttributes(verb: $0, resource: "configmaps", namespace: namespace)
        } + [
            // Only create: the result-key Secrets are owned by the data ConfigMaps and go with them. Any verb that
            // answers with Secrets (get, list, watch, and delete or deletecollection, whose answers hold what they
            // deleted) would let the reconciler read every Secret of the namespace.
            ResourceAttributes(verb: "create", resource: "secrets", namespace: namespace),
        ] + ["list", "watch"].map {
            ResourceAttributes(verb: $0, resource: "pods", namespace: namespace)
        } + [ResourceAttributes(verb: "get", resource: "pods", subresource: "log", namespace: namespace)]
    }

    /// What it reads in its own namespace: the recipe registry ConfigMap, watched.
    public static func reconcilerNamespace(_ namespace: String) -> [ResourceAttributes] {
        ["list", "watch"].map { ResourceAttributes(verb: $0, resource: "configmaps", namespace: namespace) }
    }

    /// What the leader election does with its Lease, in the reconciler's namespace.
    public static func leaderElection(namespace: String) -> [ResourceAttributes] {
        ["get", "create", "update"].map {
            ResourceAttributes(verb: $0, group: "coordination.k8s.io", resource: "leases", namespace: namespace)
        }
    }

    /// Every permission both namespaces need, without repeats; with `leaderElection`, the Lease's too.
    public static func required(
        recipeNamespace: String, reconcilerNamespace: String, leaderElection: Bool = false
    ) -> [ResourceAttributes] {
        var seen = Set<ResourceAttributes>()
        let election = leaderElection ? Self.leaderElection(namespace: reconcilerNamespace) : []
        return (Self.recipeNamespace(recipeNamespace) + Self.reconcilerNamespace(reconcilerNamespace) + election)
            .filter { seen.insert($0).inserted }
    }

    /// The permissions of `required` the server denies. Throws when the server cannot be asked.
    public static func missing(
        _ required: [ResourceAttributes], client: KubernetesClient
    ) async throws(KubernetesError) -> [ResourceAttributes] {
        var missing: [ResourceAttributes] = []
        for attributes in required where try await !client.review(attributes).allowed {
            missing.append(attributes)
        }
        return missing
    }

    /// One message naming every missing permission, e.g.
    /// `missing Kubernetes permissions: create jobs.batch in "recipes", get pods/log in "recipes"`.
    public static func message(for missing: [ResourceAttributes]) -> String {
        "missing Kubernetes permissions: " + missing.map { attributes in
            attributes.description + (attributes.namespace.map { " in \"\($0)\"" } ?? "")
        }.joined(separator: ", ") + "; grant them in the Role bound to the reconciler's ServiceAccount (see deploy/)"
    }
}
