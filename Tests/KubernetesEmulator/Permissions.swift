/// What an identity may do (the emulator's admin, or a ServiceAccount added with
/// ``KubernetesEmulator/addServiceAccount(namespace:name:permissions:)``): RBAC-style allow rules, plus deny rules that
/// win over them (a test convenience RBAC itself lacks). Both the `SelfSubjectAccessReview` answers and enforcement
/// (403 `Forbidden`) use the caller's. Cluster-scoped requests (Nodes, all-namespace lists) are checked with
/// namespace `""`, which only rules with `namespaces == nil` (a ClusterRoleBinding) grant.
///
/// ```swift
/// let emulator = try await KubernetesEmulator.start(permissions: .reconciler())
/// await emulator.setPermissions(.all.denying(verbs: ["deletecollection"], group: "batch", resources: ["jobs"]))
/// ```
public struct Permissions: Sendable, Hashable {
    /// One RBAC `PolicyRule`. `"*"` is a wildcard in every set; resources are plurals, subresources `pods/log`.
    public struct Rule: Sendable, Hashable {
        public var verbs: Set<String>
        public var groups: Set<String>
        public var resources: Set<String>
        /// The namespaces the rule applies to; nil means every namespace (a ClusterRoleBinding).
        public var namespaces: Set<String>?

        public init(verbs: Set<String>, groups: Set<String> = [""], resources: Set<String>, namespaces: Set<String>? = nil) {
            self.verbs = verbs
            self.groups = groups
            self.resources = resources
            self.namespaces = namespaces
        }

        func matches(verb: String, group: String, resource: String, subresource: String, namespace: String) -> Bool {
            let full = subresource.isEmpty ? resource : "\(resource)/\(subresource)"
            return (verbs.contains("*") || verbs.contains(verb))
                && (groups.contains("*") || groups.contains(group))
                && (resources.contains("*") || resources.contains(full))
                && (namespaces.map { $0.contains(namespace) || namespace.isEmpty && $0.contains("*") } ?? true)
        }
    }

    public var rules: [Rule]
    /// Rules that deny even when an allow rule matches.
    public var denials: [Rule]

    public init(rules: [Rule], denials: [Rule] = []) {
        self.rules = rules
        self.denials = denials
    }

    /// Everything allowed (cluster-admin).
    public static let all = Permissions(rules: [Rule(verbs: ["*"], groups: ["*"], resources: ["*"])])

    /// Nothing allowed (creating `SelfSubjectAccessReview`s and discovery always are).
    public static let none = Permissions(rules: [])

    /// The Role of PROTOCOLS §3.15 for the reconciler, bound in `namespaces` (nil: all).
    public static func reconciler(namespaces: Set<String>? = nil) -> Permissions {
        Permissions(rules: [
            Rule(verbs: ["get", "list", "watch", "create", "patch", "delete", "deletecollection"], groups: ["batch"],
                 resources: ["jobs"], namespaces: namespaces),
            // The registry ConfigMap is watched (`ConfigMapRecipeRegistry`), as deploy/base/rbac.yaml grants.
            Rule(verbs: ["get", "list", "watch", "create", "patch", "delete", "deletecollection"], resources: ["configmaps"],
                 namespaces: namespaces),
            // The per-run result-key Secrets: made and deleted, never read.
            Rule(verbs: ["create"], resources: ["secrets"], namespaces: namespaces),
            Rule(verbs: ["get", "list", "watch"], resources: ["pods"], namespaces: namespaces),
            Rule(verbs: ["get"], resources: ["pods/log"], namespaces: namespaces),
            Rule(verbs: ["get", "create", "update"], groups: ["coordination.k8s.io"], resources: ["leases"],
                 namespaces: namespaces),
        ])
    }

    /// A copy that also denies `verbs` on `resources` of `group` (in `namespaces`, nil: all).
    public func denying(verbs: Set<String>, group: String = "", resources: Set<String>, namespaces: Set<String>? = nil) -> Permissions {
        var copy = self
        copy.denials.append(Rule(verbs: verbs, groups: [group], resources: resources, namespaces: namespaces))
        return copy
    }

    /// A copy that also allows `verbs` on `resources` of `group` (in `namespaces`, nil: all).
    public func allowing(verbs: Set<String>, group: String = "", resources: Set<String>, namespaces: Set<String>? = nil) -> Permissions {
        var copy = self
        copy.rules.append(Rule(verbs: verbs, groups: [group], resources: resources, namespaces: namespaces))
        return copy
    }

    /// Whether the identity may do `verb` on `resource` (`subresource`, e.g. `log`) of `group` in `namespace`
    /// (`""` for cluster-scoped or all-namespaces requests).
    public func allows(verb: String, group: String, resource: String, subresource: String = "", namespace: String) -> Bool {
        if denials.contains(where: { $0.matches(verb: verb, group: group, resource: resource, subresource: subresource, namespace: namespace) }) {
            return false
        }
        return rules.contains { $0.matches(verb: verb, group: group, resource: resource, subresource: subresource, namespace: namespace) }
    }
}
