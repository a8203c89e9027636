import Foundation

/// Who made a request: the emulator's admin identity (its rotating token and ``KubernetesEmulator/setPermissions(_:)``)
/// or a ServiceAccount registered with ``KubernetesEmulator/addServiceAccount(namespace:name:permissions:)``. Both
/// enforcement (403) and `SelfSubjectAccessReview` answer for the caller's identity, as RBAC does per subject.
struct Identity: Sendable, Hashable {
    /// The RBAC user name, `system:serviceaccount:<namespace>:<name>`.
    var user: String
    /// The ServiceAccount, or nil for the admin identity.
    var serviceAccount: ObjectKey?
}

/// A registered ServiceAccount: its token and what its (Cluster)RoleBindings grant.
struct ServiceAccountIdentity: Sendable {
    var token: String
    var permissions: Permissions
}

extension KubernetesEmulator {
    /// The user the admin token authenticates as (what 403 messages have always named).
    public static let adminUser = "system:serviceaccount:default:emulator"

    /// Registers (or updates) the ServiceAccount `namespace/name` with `permissions`, the rules its RoleBindings and
    /// ClusterRoleBindings would grant, and returns its bearer token. Calling it again replaces the permissions
    /// and keeps the token. Recipes' Jobs name such an account in `serviceAccountName`, and the kubelet hands
    /// their pods its credentials (see ``Kubelet``), so tests can prove a recipe works with least privilege.
    ///
    /// ```swift
    /// let token = await k8s.addServiceAccount(namespace: "recipes", name: "cordon-node", permissions: Permissions(rules: [
    ///     .init(verbs: ["get", "patch"], resources: ["nodes"]),   // namespaces nil: a ClusterRoleBinding
    /// ]))
    /// ```
    @discardableResult
    public func addServiceAccount(namespace: String, name: String, permissions: Permissions) -> String {
        let key = ObjectKey(namespace: namespace, name: name)
        let token = serviceAccounts[key]?.token ?? Self.newToken()
        serviceAccounts[key] = ServiceAccountIdentity(token: token, permissions: permissions)
        return token
    }

    /// Replaces a registered ServiceAccount's permissions (registering it if needed); its token stays valid.
    public func setServiceAccountPermissions(namespace: String, name: String, _ permissions: Permissions) {
        addServiceAccount(namespace: namespace, name: name, permissions: permissions)
    }

    /// A registered ServiceAccount's bearer token, or nil.
    public func serviceAccountToken(namespace: String, name: String) -> String? {
        serviceAccounts[ObjectKey(namespace: namespace, name: name)]?.token
    }

    /// The identity a request's `Authorization` header authenticates, or nil (401).
    func authenticate(_ request: APIRequest) -> Identity? {
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer ") else { return nil }
        let bearer = String(header.dropFirst("Bearer ".count))
        if bearer == token { return Identity(user: Self.adminUser) }
        guard let (key, _) = serviceAccounts.first(where: { $0.value.token == bearer }) else { return nil }
        return Identity(user: "system:serviceaccount:\(key.namespace):\(key.name)", serviceAccount: key)
    }

    /// What `identity` may do.
    func permissions(of identity: Identity) -> Permissions {
        guard let key = identity.serviceAccount else { return permissions }
        return serviceAccounts[key]?.permissions ?? .none
    }

    /// A kubeconfig for this server with `token` and a current context in `namespace`: what ``writeKubeconfig(to:namespace:)``
    /// writes for the admin and the kubelet for a pod's ServiceAccount.
    func kubeconfigText(token: String, namespace: String, user: String = "emulator") -> String {
        let ca = Data(caPEM.utf8).base64EncodedString()
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: emulator
          cluster:
            server: \(baseURL)
            certificate-authority-data: \(ca)
        users:
        - name: \(user)
          user:
            token: "\(token)"
        contexts:
        - name: emulator
          context:
            cluster: emulator
            user: \(user)
            namespace: "\(namespace)"
        current-context: emulator
        preferences: {}

        """
    }

    /// The credentials the kubelet gives a pod: a kubeconfig for the pod's ServiceAccount when that account is
    /// registered and the pod does not opt out (`automountServiceAccountToken: false`); nil otherwise. It stands in
    /// for the projected token volume at `/var/run/secrets/kubernetes.io/serviceaccount`, which a local process
    /// cannot use (it is not in a cluster network, and the in-cluster config needs `KUBERNETES_SERVICE_HOST`).
    func podKubeconfig(_ pod: JSON) -> String? {
        guard pod["spec"]["automountServiceAccountToken"].bool != false,
              let account = pod["spec"]["serviceAccountName"].string ?? pod["spec"]["serviceAccount"].string,
              let namespace = pod["metadata"]["namespace"].string,
              let identity = serviceAccounts[ObjectKey(namespace: namespace, name: account)] else { return nil }
        return kubeconfigText(token: identity.token, namespace: namespace, user: "\(namespace)-\(account)")
    }
}
