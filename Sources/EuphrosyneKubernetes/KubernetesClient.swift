import AsyncHTTPClient
import CoreMetrics
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import Synchronization

/// A typed client for the few Kubernetes resources Euphrosyne uses: get, list (label and field selectors), create
/// (with `generateName`), delete, deletecollection (with a propagation policy), watch, pod logs and
/// SelfSubjectAccessReview.
///
/// Built on AsyncHTTPClient with TLS verified against the configured CA. Every request carries fresh credentials
/// (a 401 re-reads the token file and retries once); failures the server calls temporary (429, 5xx) and transport
/// errors are retried with jittered back-off, up to `retries` times, then thrown.
public final class KubernetesClient: Sendable {
    public let configuration: KubernetesConfiguration
    /// Attempts after the first for a request that failed in a retryable way.
    public let retries: Int
    /// The clock retry pauses run on (the continuous clock unless a test injects a manual one).
    let retryClock: any Clock<Duration>
    /// The limit for one request (not for watches, which last `timeoutSeconds`).
    public let requestTimeout: TimeAmount
    private let httpClient: HTTPClient
    private let logger: Logger
    /// Counts every request as `euphrosyne_kubernetes_requests_total{verb, code}`.
    private let metricsFactory: any MetricsFactory
    /// Requests in a row that got no answer at all; any answer resets it.
    private let consecutiveTransportFailures = Atomic<Int>(0)

    /// Whether the API server answers: false after three requests in a row got no answer (for `/readyz`).
    public var isReachable: Bool { consecutiveTransportFailures.load(ordering: .relaxed) < 3 }

    public enum PropagationPolicy: String, Sendable {
        case background = "Background"
        case foreground = "Foreground"
        case orphan = "Orphan"
    }

    /// `connectTimeout` bounds establishing a connection. With `retryConnectionEstablishment` (the default, right
    /// for a long-running reconciler) a refused connection is tried again until then; without it, it fails the
    /// attempt at once and only `retries` try again: what a short-lived caller (a recipe) wants from an API server
    /// that is down.
    public init(
        configuration: KubernetesConfiguration, retries: Int = 4, requestTimeout: TimeAmount = .seconds(30),
        connectTimeout: TimeAmount = .seconds(10), retryConnectionEstablishment: Bool = true,
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger = Logger(label: "euphrosyne.kubernetes"), retryClock: any Clock<Duration> = ContinuousClock()
    ) throws(KubernetesError) {
        self.retryClock = retryClock
        self.metricsFactory = metricsFactory
        self.configuration = configuration
        self.retries = retries
        self.requestTimeout = requestTimeout
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.caPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if case .clientCertificate(let certificate, let key) = configuration.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw KubernetesError(.credentials, message: "cannot load the TLS certificates: \(error)")
        }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        http.timeout = .init(connect: connectTimeout, read: .seconds(600))
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        http.connectionPool.retryConnectionEstablishment = retryConnectionEstablishment
        httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    /// Closes the connections. Call once, when the client is no longer used.
    public func shutdown() async throws {
        try await httpClient.shutdown()
    }

    // MARK: - Typed verbs

    public func get<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String?
    ) async throws(KubernetesError) -> Object {
        try decode(Object.self, from: try await send(.GET, Object.resource.objectPath(name: name, namespace: namespace)))
    }

    /// One page of objects, or every page when `limit` is nil.
    public func list<Object: KubernetesObject>(
        _ type: Object.Type, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        limit: Int? = 500
    ) async throws(KubernetesError) -> KubernetesList<Object> {
        var items: [Object] = []
        var token: String?
        var meta = KubernetesList<Object>.Meta()
        repeat {
            var query: [(String, String)] = []
            if let labelSelector { query.append(("labelSelector", labelSelector)) }
            if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
            if let limit { query.append(("limit", String(limit))) }
            if let token { query.append(("continue", token)) }
            let page = try decode(
                KubernetesList<Object>.self,
                from: try await send(.GET, Object.resource.collectionPath(namespace: namespace), query: query)
            )
            items += page.items
            meta = page.metadata
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return KubernetesList(metadata: meta, items: items)
    }

    /// Creates the object and returns it as stored, with its server-chosen name when it had a `generateName`.
    public func create<Object: KubernetesObject>(
        _ object: Object, namespace: String?
    ) async throws(KubernetesError) -> Object {
        var object = object
        object.apiVersion = Object.resource.apiVersion
        object.kind = Object.resource.kind
        let body = try encode(object)
        return try decode(Object.self, from: try await send(
            .POST, Object.resource.collectionPath(namespace: namespace), body: body))
    }

    /// Replaces the object named by its `metadata.name` (`PUT`) and returns it as stored. The API server checks `metadata.resourceVersion`:
    /// when someone else wrote the object since it was read, the update is refused with `409 Conflict`
    /// (`KubernetesError.isConflict`) and nothing changes. Leader election depends on exactly that.
    public func update<Object: KubernetesObject>(
        _ object: Object, namespace: String?
    ) async throws(KubernetesError) -> Object {
        let name = object.metadata.name ?? ""
        var object = object
        object.apiVersion = Object.resource.apiVersion
        object.kind = Object.resource.kind
        let body = try encode(object)
        return try decode(Object.self, from: try await send(
            .PUT, Object.resource.objectPath(name: name, namespace: namespace), body: body))
    }

    /// Deletes one object. A Job's pods go with it unless `propagation` is `.orphan` (the API's own default for
    /// Jobs is to orphan them). An object already gone counts as deleted.
    public func delete<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String?, propagation: PropagationPolicy = .background
    ) async throws(KubernetesError) {
        do {
            _ = try await send(.DELETE, Object.resource.objectPath(name: name, namespace: namespace),
                               query: [("propagationPolicy", propagation.rawValue)])
        } catch where error.isNotFound {
            return
        }
    }

    /// Deletes every object the selector matches.
    public func deleteCollection<Object: KubernetesObject>(
        _ type: Object.Type, namespace: String?, labelSelector: String,
        propagation: PropagationPolicy = .background
    ) async throws(KubernetesError) {
        _ = try await send(.DELETE, Object.resource.collectionPath(namespace: namespace),
                           query: [("labelSelector", labelSelector), ("propagationPolicy", propagation.rawValue)])
    }

    /// The last lines of a pod's log (`text/plain`); with `previous`, of the container's last terminated instance
    /// (what a crash-looping container printed before it died).
    public func podLog(
        name: String, namespace: String, container: String? = nil, tailLines: Int = 50, limitBytes: Int = 16_384,
        previous: Bool = false
    ) async throws(KubernetesError) -> String {
        var query = [("tailLines", String(tailLines)), ("limitBytes", String(limitBytes))]
        if let container { query.append(("container", container)) }
        if previous { query.append(("previous", "true")) }
        let body = try await send(.GET, Pod.resource.objectPath(name: name, namespace: namespace) + "/log", query: query)
        return String(decoding: body, as: UTF8.self)
    }

    /// Asks whether this client's identity may do `attributes`.
    public func review(_ attributes: ResourceAttributes) async throws(KubernetesError) -> SelfSubjectAccessReview.Status {
        let answer = try await create(SelfSubjectAccessReview(attributes), namespace: nil)
        guard let status = answer.status else {
            throw KubernetesError(.unexpectedResponse, message: "a SelfSubjectAccessReview came back without a status")
        }
        return status
    }

    // MARK: - Watch

    /// One watch request: the events after `resourceVersion` until the server ends the stream (after
    /// `timeoutSeconds`) or the connection drops. The request is made here; the events are read as the caller
    /// iterates (`WatchEvents`), in the caller's task. A 410 (as an HTTP status or as an `ERROR` event) is thrown as
    /// a `KubernetesError` whose `isGone` is true. `Informer` adds re-listing and reconnecting on top.
    public func watch<Object: KubernetesObject>(
        _ type: Object.Type, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String?, timeoutSeconds: Int = 300
    ) async throws(KubernetesError) -> WatchEvents<Object> {
        var query: [(String, String)] = [("watch", "true"), ("allowWatchBookmarks", "true"),
                                         ("timeoutSeconds", String(timeoutSeconds))]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let path = Object.resource.collectionPath(namespace: namespace)
        let response = try await execute(.GET, path, query: query, body: nil,
                                         timeout: .seconds(Int64(timeoutSeconds) + 30), allowRefresh: true)
        guard (200..<300).contains(Int(response.status.code)) else {
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: 1 << 20)
            } catch {
                throw KubernetesError(.transport, message: "reading the answer to a watch of \(path): \(error)", underlying: error)
            }
            throw apiError(status: Int(response.status.code), body: Data(buffer: body))
        }
        return WatchEvents(body: response.body)
    }

    // MARK: - Transport

    /// Sends a request and returns the body of a 2xx answer; retries what is worth retrying (`retries` times, with
    /// the shared back-off; a `Retry-After` the server sends is honoured up to 30 s). A cancelled task stops
    /// retrying and throws the last failure.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String = "application/json"
    ) async throws(KubernetesError) -> Data {
        var policy = Self.retryPolicy(maxAttempts: retries + 1)
        policy.clock = retryClock
        var lastFailure: KubernetesError?
        return try await policy.runThroughCancellation({ (_: Int) throws(KubernetesError) -> RetryPolicy.Attempt<Data> in
            if let lastFailure, Task.isCancelled { throw lastFailure }
            do throws(KubernetesError) {
                return .done(try await sendOnce(method, path, query: query, body: body, contentType: contentType))
            } catch {
                guard error.isRetryable, method != .POST || Self.creationSurelyFailed(error) else { throw error }
                lastFailure = error
                let retryAfter = error.apiStatus?.details?.retryAfterSeconds.flatMap { $0 > 0 ? Duration.seconds(min($0, 30)) : nil }
                return .retry(problem: "\(error)", retryAfter: retryAfter)
            }
        }, willRetry: { attempt, problem, _ in
            logger.notice("Kubernetes request failed; retrying", metadata: [
                "method": "\(method)", "path": "\(path)", "attempt": "\(attempt)", "error": "\(problem)",
            ])
        }, giveUp: { _, problem in
            lastFailure ?? KubernetesError(.transport, message: problem)
        })
    }

    /// One attempt of `send`.
    private func sendOnce(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String
    ) async throws(KubernetesError) -> Data {
        let response = try await execute(method, path, query: query, body: body, contentType: contentType,
                                         timeout: requestTimeout, allowRefresh: true)
        let data: Data
        do {
            data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
        } catch {
            throw KubernetesError(.transport, message: "reading the answer to \(method) \(path): \(error)", underlying: error)
        }
        if let warning = response.headers.first(name: "Warning") {
            logger.warning("Kubernetes API warning", metadata: ["path": "\(path)", "warning": "\(warning)"])
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else { throw apiError(status: status, body: data) }
        return data
    }

    /// Whether a failed POST certainly created nothing, so sending it again cannot create a second object: the
    /// server refused it (429, 500, 503). A lost connection or a 504 may have come after the object was stored.
    static func creationSurelyFailed(_ error: KubernetesError) -> Bool {
        guard error.code == .api, let status = error.statusCode else { return false }
        return status == 429 || status == 500 || status == 503
    }

    /// The back-off of every retry against the API server: from 200 ms, doubling, capped at 5 s, jittered.
    static func retryPolicy(maxAttempts: Int) -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, initialDelay: .milliseconds(200), maxDelay: .seconds(5))
    }

    /// One HTTP exchange with credentials; on 401 re-reads a token file and tries once more.
    private func execute(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?,
        contentType: String = "application/json", timeout: TimeAmount, allowRefresh: Bool
    ) async throws(KubernetesError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: configuration.server + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "euphrosyne")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        switch configuration.credentials {
        case .bearer(let source):
            do {
                request.headers.add(name: "Authorization", value: "Bearer \(try source.token())")
            } catch {
                throw KubernetesError(.credentials, message: "cannot read the token: \(error)")
            }
        case .basic(let username, let password):
            let encoded = Data("\(username):\(password)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(encoded)")
        case .none, .clientCertificate:
            break
        }
        let response: HTTPClientResponse
        let verb = Self.verb(method, path: path, query: query)
        do {
            response = try await httpClient.execute(request, timeout: timeout)
        } catch {
            Counter(label: "euphrosyne_kubernetes_requests_total", dimensions: [("verb", verb), ("code", "none")],
                    factory: metricsFactory).increment()
            consecutiveTransportFailures.add(1, ordering: .relaxed)
            throw KubernetesError(.transport, message: "\(method) \(path): \(error)", underlying: error)
        }
        Counter(label: "euphrosyne_kubernetes_requests_total",
                dimensions: [("verb", verb), ("code", String(response.status.code))], factory: metricsFactory).increment()
        consecutiveTransportFailures.store(0, ordering: .relaxed)
        if response.status == .unauthorized, allowRefresh, case .bearer(let source) = configuration.credentials,
           source.canRefresh {
            // The token may have rotated under us: read it again and retry once.
            source.invalidate()
            return try await execute(method, path, query: query, body: body, contentType: contentType, timeout: timeout,
                                     allowRefresh: false)
        }
        return response
    }

    private func apiError(status: Int, body: Data) -> KubernetesError {
        let decoded = try? JSONDecoder().decode(APIStatus.self, from: body)
        let message = decoded?.message ?? String(decoding: body.prefix(300), as: UTF8.self)
        return .api(status: status, apiStatus: decoded, message: message)
    }

    /// The RBAC verb of a request: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or
    /// `deletecollection`.
    static func verb(_ method: HTTPMethod, path: String, query: [(String, String)]) -> String {
        let collections: Set<String> = ["configmaps", "jobs", "pods", "selfsubjectaccessreviews", "events", "deployments",
                                        "nodes", "poddisruptionbudgets", "daemonsets", "replicasets"]
        let isCollection = collections.contains(String(path.split(separator: "/").last ?? ""))
        switch method {
        case .GET:
            if query.contains(where: { $0.0 == "watch" }) { return "watch" }
            return isCollection ? "list" : "get"
        case .POST: return "create"
        case .DELETE: return isCollection ? "deletecollection" : "delete"
        default: return method.rawValue.lowercased()
        }
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+,;!()/?:@$'*")
        return "?" + query.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }

    func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws(KubernetesError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch {
            throw KubernetesError(.unexpectedResponse, message: "cannot decode \(Value.self): \(error)")
        }
    }

    func encode<Value: Encodable>(_ value: Value) throws(KubernetesError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw KubernetesError(.unexpectedResponse, message: "cannot encode \(Value.self): \(error)")
        }
    }
}
