import Foundation
import Synchronization
import Yams

/// Where the API server is and how to prove who we are: from the pod's service account (`inCluster`) or from a
/// kubeconfig file (`kubeconfig`).
///
/// The CLI builds one at start-up and hands it to `KubernetesClient`. TLS is always verified: against `caPEM` when
/// given, else against the system's trust store; there is no way to turn verification off.
public struct KubernetesConfiguration: Sendable {
    /// `https://host:port` (or `http://` for a plain local endpoint).
    public var server: String
    /// PEM of the certificate authorities that sign the API server's certificate.
    public var caPEM: String?
    public var credentials: Credentials
    /// The namespace the context (or the pod) is in; nil when neither says.
    public var namespace: String?

    public enum Credentials: Sendable {
        case none
        /// A bearer token read from `TokenSource` (a file re-read about every minute, or a fixed value).
        case bearer(TokenSource)
        /// A client certificate and its private key, both PEM.
        case clientCertificate(certificatePEM: String, keyPEM: String)
        /// HTTP basic authentication (kubeconfig `username`/`password`).
        case basic(username: String, password: String)
    }

    public init(server: String, caPEM: String? = nil, credentials: Credentials = .none, namespace: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.caPEM = caPEM
        self.credentials = credentials
        self.namespace = namespace
    }

    /// Why no configuration could be made, in words for the operator.
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: - In cluster

    /// The service account directory of a pod.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration of a pod: `KUBERNETES_SERVICE_HOST`/`PORT`, and the mounted token (re-read from its file,
    /// because bound tokens rotate), CA and namespace. Nil when not in a pod.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = serviceAccountDirectory
    ) throws(Error) -> KubernetesConfiguration? {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else { return nil }
        let tokenPath = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw Error("KUBERNETES_SERVICE_HOST is set but there is no service account token at \(tokenPath)")
        }
        let ca: String
        do {
            ca = try String(contentsOfFile: directory + "/ca.crt", encoding: .utf8)
        } catch {
            throw Error("cannot read the cluster CA at \(directory)/ca.crt: \(error.localizedDescription)")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // IPv6 literals need brackets in a URL.
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return KubernetesConfiguration(
            server: "https://\(hostPart):\(port)", caPEM: ca,
            credentials: .bearer(TokenSource(file: tokenPath)), namespace: namespace?.isEmpty == false ? namespace : nil
        )
    }

    // MARK: - kubeconfig

    /// The kubeconfig files to read: `KUBECONFIG` (a `:`-separated list) or `~/.kube/config`; only existing files.
    public static func kubeconfigPaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            return list.split(separator: ":").map(String.init).filter { FileManager.default.fileExists(atPath: $0) }
        }
        guard let home = environment["HOME"] else { return [] }
        let path = home + "/.kube/config"
        return FileManager.default.fileExists(atPath: path) ? [path] : []
    }

    /// The configuration of a kubeconfig's current context (or `context`). Files are merged as client-go does: the
    /// first file to define a name wins, and the first `current-context` set wins.
    public static func kubeconfig(paths: [String], context wanted: String? = nil) throws(Error) -> KubernetesConfiguration {
        guard !paths.isEmpty else { throw Error("no kubeconfig file found (KUBECONFIG or ~/.kube/config)") }
        var clusters: [String: (node: Yams.Node.Mapping, directory: String)] = [:]
        var users: [String: (node: Yams.Node.Mapping, directory: String)] = [:]
        var contexts: [String: Yams.Node.Mapping] = [:]
        var current: String?
        for path in paths {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw Error("cannot read kubeconfig \(path): \(error.localizedDescription)")
            }
            let root: Yams.Node.Mapping
            do {
                guard let mapping = try Yams.compose(yaml: text)?.mapping else {
                    throw Error("kubeconfig \(path) is not a YAML mapping")
                }
                root = mapping
            } catch let error as Error {
                throw error
            } catch {
                throw Error("kubeconfig \(path) is not valid YAML: \(error)")
            }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            func named(_ key: String, _ inner: String) -> [(String, Yams.Node.Mapping)] {
                (root[key]?.sequence ?? []).compactMap { entry in
                    guard let mapping = entry.mapping, let name = mapping["name"]?.string,
                          let body = mapping[inner]?.mapping else { return nil }
                    return (name, body)
                }
            }
            for (name, body) in named("clusters", "cluster") where clusters[name] == nil { clusters[name] = (body, directory) }
            for (name, body) in named("users", "user") where users[name] == nil { users[name] = (body, directory) }
            for (name, body) in named("contexts", "context") where contexts[name] == nil { contexts[name] = body }
            if current == nil, let value = root["current-context"]?.string, !value.isEmpty { current = value }
        }
        guard let contextName = wanted ?? current else {
            throw Error("the kubeconfig has no current-context; set one with kubectl config use-context")
        }
        guard let context = contexts[contextName] else { throw Error("the kubeconfig has no context \"\(contextName)\"") }
        guard let clusterName = context["cluster"]?.string, let cluster = clusters[clusterName] else {
            throw Error("context \"\(contextName)\" names a cluster the kubeconfig does not define")
        }
        guard let server = cluster.node["server"]?.string, !server.isEmpty else {
            throw Error("cluster \"\(clusterName)\" has no server")
        }
        if cluster.node["insecure-skip-tls-verify"]?.bool == true {
            throw Error("cluster \"\(clusterName)\" sets insecure-skip-tls-verify; Euphrosyne always verifies TLS, so give it the cluster's CA instead")
        }
        if let serverName = cluster.node["tls-server-name"]?.string, !serverName.isEmpty {
            throw Error("cluster \"\(clusterName)\" sets tls-server-name, which Euphrosyne does not support; use a server URL whose host the certificate names")
        }
        let ca = try pem(cluster.node, data: "certificate-authority-data", file: "certificate-authority",
                         relativeTo: cluster.directory, what: "the CA of cluster \"\(clusterName)\"")

        var credentials = Credentials.none
        if let userName = context["user"]?.string, !userName.isEmpty {
            guard let user = users[userName] else {
                throw Error("context \"\(contextName)\" names a user the kubeconfig does not define")
            }
            if user.node["exec"] != nil || user.node["auth-provider"] != nil {
                throw Error("user \"\(userName)\" gets its credentials from an exec or auth-provider plugin, which Euphrosyne does not run; use a token or a client certificate")
            }
            if let token = user.node["token"]?.string, !token.isEmpty {
                credentials = .bearer(TokenSource(token: token))
            } else if let file = user.node["tokenFile"]?.string, !file.isEmpty {
                credentials = .bearer(TokenSource(file: resolve(file, relativeTo: user.directory)))
            } else if let certificate = try pem(user.node, data: "client-certificate-data", file: "client-certificate",
                                                relativeTo: user.directory, what: "the client certificate of \"\(userName)\"") {
                guard let key = try pem(user.node, data: "client-key-data", file: "client-key",
                                        relativeTo: user.directory, what: "the client key of \"\(userName)\"") else {
                    throw Error("user \"\(userName)\" has a client certificate but no client key")
                }
                credentials = .clientCertificate(certificatePEM: certificate, keyPEM: key)
            } else if let username = user.node["username"]?.string, let password = user.node["password"]?.string {
                credentials = .basic(username: username, password: password)
            }
        }
        return KubernetesConfiguration(
            server: server, caPEM: ca, credentials: credentials, namespace: context["namespace"]?.string
        )
    }

    private static func resolve(_ path: String, relativeTo directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    /// A PEM given inline as base64 (`*-data`) or as a file path.
    private static func pem(
        _ node: Yams.Node.Mapping, data: String, file: String, relativeTo directory: String, what: String
    ) throws(Error) -> String? {
        if let encoded = node[data]?.string, !encoded.isEmpty {
            guard let decoded = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters),
                  let text = String(data: decoded, encoding: .utf8) else {
                throw Error("\(what) (\(data)) is not base64 of a PEM text")
            }
            return text
        }
        if let path = node[file]?.string, !path.isEmpty {
            let full = resolve(path, relativeTo: directory)
            do { return try String(contentsOfFile: full, encoding: .utf8) } catch {
                throw Error("cannot read \(what) at \(full): \(error.localizedDescription)")
            }
        }
        return nil
    }
}

/// A bearer token that stays current: a file (the service account token, which the kubelet rotates) is re-read
/// at most every `refreshInterval` and at once after a 401; a fixed token never changes.
public final class TokenSource: Sendable {
    private enum Origin: Sendable {
        case fixed(String)
        case file(String)
    }

    private struct Cache {
        var token: String
        var readAt: ContinuousClock.Instant
    }

    private let origin: Origin
    public let refreshInterval: Duration
    private let cache = Mutex<Cache?>(nil)

    public init(token: String) {
        origin = .fixed(token)
        refreshInterval = .seconds(60)
    }

    public init(file: String, refreshInterval: Duration = .seconds(60)) {
        origin = .file(file)
        self.refreshInterval = refreshInterval
    }

    /// The token to send now.
    public func token() throws -> String {
        switch origin {
        case .fixed(let token):
            return token
        case .file(let path):
            let now = ContinuousClock.now
            if let cached = cache.withLock({ $0 }), now - cached.readAt < refreshInterval { return cached.token }
            return try read(path, at: now)
        }
    }

    /// Forgets the cached token, after the server refused it: the next `token()` reads the file again.
    public func invalidate() {
        cache.withLock { $0 = nil }
    }

    /// Whether `invalidate` can yield a different token.
    public var canRefresh: Bool {
        if case .file = origin { return true }
        return false
    }

    private func read(_ path: String, at now: ContinuousClock.Instant) throws -> String {
        // Re-opened by path every time: the kubelet swaps the file through a symlink.
        let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        cache.withLock { $0 = Cache(token: token, readAt: now) }
        return token
    }
}
