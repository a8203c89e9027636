import Foundation
import Testing

@testable import EuphrosyneKubernetes

/// Reading kubeconfig files and the pod's service account, as values (temporary files, no server).
@Suite struct KubernetesConfigurationTests {
    /// A temporary directory removed after the test.
    final class Directory: Sendable {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static let caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    static var caData: String { Data(caPEM.utf8).base64EncodedString() }

    static func kubeconfig(user: String, cluster: String = "certificate-authority-data: \(caData)",
                           current: String = "current-context: dev") -> String {
        """
        apiVersion: v1
        kind: Config
        \(current)
        clusters:
          - name: dev-cluster
            cluster:
              server: https://127.0.0.1:6443
              \(cluster)
        users:
          - name: dev-user
            user:
              \(user)
        contexts:
          - name: dev
            context: {cluster: dev-cluster, user: dev-user, namespace: alerts}
          - name: other
            context: {cluster: dev-cluster, user: dev-user}
        """
    }

    @Test func aTokenUserWithInlineCA() throws {
        let directory = try Directory()
        let file = try directory.write("config", Self.kubeconfig(user: "token: abc.def"))
        let configuration = try KubernetesConfiguration.kubeconfig(paths: [file])
        #expect(configuration.server == "https://127.0.0.1:6443")
        #expect(configuration.caPEM == Self.caPEM)
        #expect(configuration.namespace == "alerts")
        guard case .bearer(let source) = configuration.credentials else {
            Issue.record("expected a bearer token")
            return
        }
        #expect(try source.token() == "abc.def")
        #expect(try KubernetesConfiguration.kubeconfig(paths: [file], context: "other").namespace == nil)
    }

    @Test func filesAreRelativeToTheKubeconfig() throws {
        let directory = try Directory()
        _ = try directory.write("ca.crt", Self.caPEM)
        _ = try directory.write("token", "from-file\n")
        let file = try directory.write("config", Self.kubeconfig(user: "tokenFile: token", cluster: "certificate-authority: ca.crt"))
        let configuration = try KubernetesConfiguration.kubeconfig(paths: [file])
        #expect(configuration.caPEM == Self.caPEM)
        guard case .bearer(let source) = configuration.credentials else {
            Issue.record("expected a bearer token")
            return
        }
        #expect(try source.token() == "from-file")
    }

    @Test func aClientCertificateUser() throws {
        let directory = try Directory()
        let certificate = Data("CERT".utf8).base64EncodedString()
        let key = Data("KEY".utf8).base64EncodedString()
        let file = try directory.write("config", Self.kubeconfig(
            user: "client-certificate-data: \(certificate)\n      client-key-data: \(key)"))
        guard case .clientCertificate(let certificatePEM, let keyPEM) = try KubernetesConfiguration.kubeconfig(paths: [file]).credentials else {
            Issue.record("expected a client certificate")
            return
        }
        #expect(certificatePEM == "CERT" && keyPEM == "KEY")
    }

    @Test func theFirstFileToDefineANameWins() throws {
        let directory = try Directory()
        let first = try directory.write("first", """
            current-context: dev
            users:
              - name: dev-user
                user: {token: first-token}
            """)
        let second = try directory.write("second", Self.kubeconfig(user: "token: second-token", current: "current-context: other"))
        let configuration = try KubernetesConfiguration.kubeconfig(paths: [first, second])
        #expect(configuration.namespace == "alerts", "current-context comes from the first file that sets it")
        guard case .bearer(let source) = configuration.credentials else {
            Issue.record("expected a bearer token")
            return
        }
        #expect(try source.token() == "first-token")
    }

    @Test(arguments: [
        ("insecure", "sets insecure-skip-tls-verify"),
        ("exec", "exec or auth-provider plugin"),
        ("nocontext", "no current-context"),
        ("badca", "is not base64 of a PEM text"),
    ])
    func unusableKubeconfigsAreRefusedWithTheReason(variant: String, expected: String) throws {
        let directory = try Directory()
        let text: String
        switch variant {
        case "insecure": text = Self.kubeconfig(user: "token: x", cluster: "insecure-skip-tls-verify: true")
        case "exec": text = Self.kubeconfig(user: "exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}")
        case "nocontext": text = Self.kubeconfig(user: "token: x", current: "")
        default: text = Self.kubeconfig(user: "token: x", cluster: "certificate-authority-data: '%%%'")
        }
        let file = try directory.write("config", text)
        do {
            _ = try KubernetesConfiguration.kubeconfig(paths: [file])
            Issue.record("accepted a kubeconfig that should be refused")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func inClusterReadsTheServiceAccountAndBracketsIPv6() throws {
        let directory = try Directory()
        _ = try directory.write("token", "sa-token")
        _ = try directory.write("ca.crt", Self.caPEM)
        _ = try directory.write("namespace", "euphrosyne\n")
        let configuration = try #require(try KubernetesConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            directory: directory.path))
        #expect(configuration.server == "https://[fd00::1]:443")
        #expect(configuration.namespace == "euphrosyne")
        #expect(configuration.caPEM == Self.caPEM)
        #expect(try KubernetesConfiguration.inCluster(environment: [:], directory: directory.path) == nil)
    }

    @Test func aTokenFileIsReadAgainOnceInvalidated() throws {
        let directory = try Directory()
        let file = try directory.write("token", "one")
        let source = TokenSource(file: file, refreshInterval: .seconds(3600))
        #expect(try source.token() == "one")
        _ = try directory.write("token", "two")
        #expect(try source.token() == "one", "cached within the refresh interval")
        source.invalidate()
        #expect(try source.token() == "two")
        // With no interval, every call reads the file: rotation is picked up without a 401.
        let eager = TokenSource(file: file, refreshInterval: .zero)
        _ = try directory.write("token", "three")
        #expect(try eager.token() == "three")
    }
}
