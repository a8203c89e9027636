import Foundation
import Yams

extension Permissions {
    /// The permissions RBAC manifests (YAML, several documents) give one ServiceAccount: the rules of every Role and
    /// ClusterRole a RoleBinding or ClusterRoleBinding in them binds to it. A ClusterRoleBinding grants everywhere; a
    /// RoleBinding grants in its own namespace (`defaultNamespace` when the manifest leaves it to Kustomize).
    ///
    /// Lets a test run a recipe with exactly what the shipped manifests grant it, so a missing rule fails the test.
    public static func granted(
        to serviceAccount: String, byManifests yaml: String, defaultNamespace: String = "euphrosyne"
    ) throws -> Permissions {
        let documents = try Yams.load_all(yaml: yaml).compactMap { $0 as? [String: Any] }
        func name(_ object: [String: Any]) -> String? { (object["metadata"] as? [String: Any])?["name"] as? String }
        func namespace(_ object: [String: Any]) -> String {
            (object["metadata"] as? [String: Any])?["namespace"] as? String ?? defaultNamespace
        }
        var rules: [Rule] = []
        for binding in documents where ["RoleBinding", "ClusterRoleBinding"].contains(binding["kind"] as? String) {
            let subjects = binding["subjects"] as? [[String: Any]] ?? []
            guard subjects.contains(where: { $0["kind"] as? String == "ServiceAccount" && $0["name"] as? String == serviceAccount })
            else { continue }
            guard let roleRef = binding["roleRef"] as? [String: Any], let kind = roleRef["kind"] as? String,
                  let roleName = roleRef["name"] as? String,
                  let role = documents.first(where: { $0["kind"] as? String == kind && name($0) == roleName })
            else {
                throw KubernetesEmulator.EmulatorError(description: "binding \(name(binding) ?? "?") refers to a role the manifests do not hold")
            }
            let scope: Set<String>? = binding["kind"] as? String == "ClusterRoleBinding" ? nil : [namespace(binding)]
            for rule in role["rules"] as? [[String: Any]] ?? [] {
                rules.append(Rule(verbs: Set(rule["verbs"] as? [String] ?? []), groups: Set(rule["apiGroups"] as? [String] ?? []),
                                  resources: Set(rule["resources"] as? [String] ?? []), namespaces: scope))
            }
        }
        return Permissions(rules: rules)
    }

    /// Every (verb, group, resource) these rules name, as `patch nodes`, `create pods/eviction`,
    /// `list poddisruptionbudgets.policy`: to compare with what a recipe was seen to use.
    public var grantedPermissions: Set<String> {
        var result = Set<String>()
        for rule in rules {
            for verb in rule.verbs {
                for group in rule.groups {
                    for resource in rule.resources {
                        result.insert("\(verb) \(resource)\(group.isEmpty ? "" : ".\(group)")")
                    }
                }
            }
        }
        return result
    }
}
