import EuphrosyneKubernetes
import Foundation
import RecipeKit

/// The Kubernetes API as the built-in recipes reach it, and one way of explaining its failures: a 403 names the
/// missing permission as a verb and a resource (what the recipe's Role must grant), a server that cannot be reached
/// or that refuses the credentials ends the run.
///
/// Used by `pod-diagnostics`, `node-diagnostics` and the node actions.
struct RecipeKubernetes {
    let client: KubernetesClient
    /// The permissions found missing so far, in the order met.
    let missing = MissingPermissions()

    /// In a pod: its ServiceAccount; else the kubeconfig (`KUBECONFIG`, `~/.kube/config`), as the reconciler does.
    static func configuration(_ environment: [String: String]) throws(RecipeError) -> KubernetesConfiguration {
        do {
            if let inCluster = try KubernetesConfiguration.inCluster(environment: environment) { return inCluster }
            return try KubernetesConfiguration.kubeconfig(paths: KubernetesConfiguration.kubeconfigPaths(environment: environment))
        } catch {
            throw .failed("no way to reach the Kubernetes API: \(error.description); run the recipe in a Pod with a ServiceAccount, or set KUBECONFIG")
        }
    }

    /// Runs `body` with a client for the recipe's API server and closes the client after, on every path.
    static func with<Value>(
        _ environment: RecipeEnvironment, _ body: (RecipeKubernetes) async throws -> Value
    ) async throws -> Value {
        let configuration = try configuration(environment.variables)
        let client: KubernetesClient
        do {
            // A recipe has one short run: an API server that refuses connections is reported after a few quick
            // tries, not after the reconciler-grade patience of the defaults.
            client = try KubernetesClient(configuration: configuration, retries: 2, requestTimeout: .seconds(15),
                                          connectTimeout: .seconds(5), retryConnectionEstablishment: false)
        } catch {
            throw RecipeError.failed("cannot set up the Kubernetes client: \(error)")
        }
        do {
            let value = try await body(RecipeKubernetes(client: client))
            try? await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// What the recipe says about an API failure. 403 records the permission (`get pods in "shop"`, or
    /// `patch nodes` for a cluster-scoped resource) and names it; no answer at all, or refused credentials, end the
    /// whole run.
    func explain(
        _ error: KubernetesError, verb: String, resource: String, namespace: String?
    ) throws(RecipeError) -> String {
        if error.code == .transport {
            throw .failed("cannot reach the Kubernetes API at \(client.configuration.server): \(error.message)")
        }
        if error.code == .credentials {
            throw .failed("cannot authenticate to the Kubernetes API at \(client.configuration.server): \(error.message)")
        }
        switch error.statusCode {
        case 401:
            throw .failed("the Kubernetes API at \(client.configuration.server) refused the recipe's credentials (401 Unauthorized)")
        case 403:
            let permission = Self.permission(verb: verb, resource: resource, namespace: namespace)
            missing.add(permission)
            return "forbidden: the recipe may not \(permission) (403)"
        case 404:
            return "not found (404)"
        default:
            return error.description
        }
    }

    /// An API failure that ends an action: the explanation, and for a 403 what to grant.
    func failure(
        _ error: KubernetesError, doing what: String, verb: String, resource: String, namespace: String?
    ) -> RecipeError {
        do throws(RecipeError) {
            let why = try explain(error, verb: verb, resource: resource, namespace: namespace)
            var message = "cannot \(what): \(why)"
            if error.statusCode == 403 {
                message += ". Grant \"\(Self.permission(verb: verb, resource: resource, namespace: namespace))\" to the recipe's ServiceAccount (see docs/recipes.md)"
            }
            return .failed(message)
        } catch {
            return error
        }
    }

    /// `get pods in "shop"`, `patch nodes`.
    static func permission(verb: String, resource: String, namespace: String?) -> String {
        "\(verb) \(resource)" + (namespace.map { " in \"\($0)\"" } ?? "")
    }
}

/// The permissions a recipe found missing, in the order met, each once; reported together at the end of its
/// analysis so an operator fixes the Role once.
final class MissingPermissions {
    private(set) var permissions: [String] = []

    func add(_ permission: String) {
        if !permissions.contains(permission) { permissions.append(permission) }
    }

    /// The closing sentence of an analysis, or nil when nothing was missing.
    func sentence(recipe: String) -> String? {
        guard !permissions.isEmpty else { return nil }
        return "Missing Kubernetes permissions: " + permissions.joined(separator: ", ")
            + ". Grant them to the recipe's ServiceAccount with a Role (see docs/recipes.md, \(recipe))."
    }
}
