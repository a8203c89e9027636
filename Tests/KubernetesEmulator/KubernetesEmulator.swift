import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// An in-process Kubernetes API server for tests: HTTPS on 127.0.0.1 (OS-chosen port) with a fresh CA, bearer-token
/// auth (an admin identity plus ServiceAccounts), ConfigMaps, Secrets, Pods (+ logs, evictions), Jobs, Leases, Events,
/// Deployments (rolled out through ReplicaSets by a deployment controller), ReplicaSets, StatefulSets, DaemonSets,
/// PodDisruptionBudgets, Nodes, Services (with EndpointSlices kept from the pods), NetworkPolicies and SelfSubjectAccessReviews, with the API conventions of
/// PROTOCOLS §3 (Status errors, resourceVersions, label selectors, watch with bookmarks and 410 Expired, propagation
/// policies, ownerReference garbage collection, TTL after finished). With a ``Kubelet/Configuration`` it also runs
/// Jobs: a job controller makes pods and a local "kubelet" runs each container as a process (no shell).
///
/// ```swift
/// let k8s = try await KubernetesEmulator.start(namespaces: ["alerts"], kubelet: .init(images: ["recipes:1": binDir]))
/// defer { Task { await k8s.stop() } }   // or call `await k8s.stop()` at the end of the test
/// try await k8s.writeKubeconfig(to: path, namespace: "alerts")
/// ```
///
/// Every test must ``stop()`` the emulators it starts: that ends watches, kills pod processes and closes the port.
public actor KubernetesEmulator {
    /// Knobs beyond the API itself.
    public struct Options: Sendable {
        /// How many watch events are kept for `resourceVersion` watches; older ones answer 410 `Expired`.
        public var historyLimit: Int
        /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK (real servers: about a minute; nil: only
        /// when ``KubernetesEmulator/sendBookmarks()`` is called).
        public var bookmarkInterval: Duration?

        public init(historyLimit: Int = 1000, bookmarkInterval: Duration? = .seconds(1)) {
            self.historyLimit = historyLimit
            self.bookmarkInterval = bookmarkInterval
        }
    }

    /// One request the server answered (authenticated or not), in arrival order.
    public struct LoggedRequest: Sendable, Hashable, CustomStringConvertible {
        public var method: String
        /// The path without the query, e.g. `/api/v1/namespaces/alerts/configmaps`.
        public var path: String
        /// Decoded query parameters.
        public var query: [String: String]
        /// The HTTP status answered (200 for a watch stream, even one that carries an ERROR event).
        public var status: Int
        /// Who made the request: `system:serviceaccount:<namespace>:<name>` for a ServiceAccount's token, the
        /// admin's `system:serviceaccount:default:emulator` for ``KubernetesEmulator/validToken()``, `""` when the
        /// request did not authenticate. Lets tests prove which identity (e.g. a recipe's own account) acted.
        public var user: String = ""
        /// The RBAC permission the request was authorised against, as `Permissions.grantedPermissions` names one
        /// (`patch nodes`, `create pods/eviction`, `list poddisruptionbudgets.policy`); `""` when none was checked
        /// (discovery, a 401).
        public var permission: String = ""
        /// The request's `Content-Type` without parameters (`application/strategic-merge-patch+json` for kubectl's
        /// cordon), `""` without one.
        public var contentType: String = ""

        public var isWatch: Bool { query["watch"] == "true" || query["watch"] == "1" }
        public var description: String { "\(method) \(path)\(query.isEmpty ? "" : "?" + query.keys.sorted().map { "\($0)=\(query[$0]!)" }.joined(separator: "&")) → \(status)" }
    }

    public struct EmulatorError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: Public state

    /// The CA certificate (PEM) that signed the server certificate; trust it and nothing else.
    public nonisolated let caPEM: String
    private nonisolated let portBox = PortBox()
    /// The port the OS chose.
    public nonisolated var port: Int { portBox.value }
    /// `https://127.0.0.1:<port>`.
    public nonisolated var baseURL: String { "https://127.0.0.1:\(port)" }

    // MARK: Internal state

    let certificates: EmulatorCertificates
    let kubelet: Kubelet.Configuration?
    let options: Options
    /// Per-emulator scratch space: pod volumes and logs.
    let workDirectory: String
    var serviceGroup: ServiceGroup?
    var serverTask: Task<Void, Never>?
    var stopped = false

    var token: String
    var permissions: Permissions
    var serviceAccounts: [ObjectKey: ServiceAccountIdentity] = [:]
    var injections: [Injection] = []
    var hangs: [CheckedContinuation<Void, Never>] = []
    var logEntries: [LoggedRequest] = []
    /// The permission the request being answered was checked against (for its log entry).
    var checkedPermission = ""

    var namespaces: [String: JSON] = [:]
    var store: [Resource: [String: [String: JSON]]] = [:]
    var revision = 1000
    var history: [StoredEvent] = []
    var compactedRevision = 1000
    var watchers: [UUID: Watcher] = [:]
    var bookmarkTask: Task<Void, Never>?

    var jobTracking: [String: JobTracking] = [:]
    var ttlTimers: [String: UUID] = [:]
    var pendingJobSyncs: [ObjectKey] = []
    var pendingNodeSyncs: [String] = []
    var schedulingPending = false
    var pendingBudgetSyncs: Set<String> = []
    var pendingDeploymentSyncs: [ObjectKey] = []
    var pendingReplicaSetSyncs: [ObjectKey] = []
    /// ReplicaSet uid → how many of its pods ended, and when it may replace the next one.
    var replicaSetBackoffs: [String: (failures: Int, next: ContinuousClock.Instant?)] = [:]
    /// ReplicaSets (by uid) with a timer pending to look at them again.
    var replicaSetTimers: Set<String> = []
    /// Namespaces whose EndpointSlices the endpoint-slice controller must look at again.
    var pendingEndpointSyncs: Set<String> = []
    /// Deployment uid → the timer that looks again when its progress deadline passes.
    var progressTimers: [String: (id: UUID, due: String)] = [:]
    /// Deployments whose progress deadline ``expireProgressDeadline(namespace:name:)`` declared passed.
    var expiredProgressDeadlines: Set<String> = []
    var timers: [UUID: Task<Void, Never>] = [:]
    var podRuns: [String: PodRun] = [:]
    var kubeletTasks: [String: Task<Void, Never>] = [:]
    var statusOverridden: Set<String> = []
    var logOverrides: [String: String] = [:]
    var previousLogOverrides: [String: String] = [:]
    var foregroundPending: [String: ObjectRef] = [:]

    struct Injection {
        var status: Int
        var matching: String?
        var remaining: Int
    }

    private init(certificates: EmulatorCertificates, namespaces: [String], permissions: Permissions,
                 kubelet: Kubelet.Configuration?, options: Options, workDirectory: String) {
        self.certificates = certificates
        self.caPEM = certificates.caPEM
        self.permissions = permissions
        self.kubelet = kubelet
        self.options = options
        self.workDirectory = workDirectory
        self.token = Self.newToken()
        let now = Timestamp.rfc3339()
        for namespace in namespaces {
            self.namespaces[namespace] = Self.namespaceObject(namespace, created: now)
        }
    }

    /// Starts an emulator with the given namespaces and permissions; with `kubelet`, Jobs run as local processes.
    public static func start(
        namespaces: [String] = ["default"], permissions: Permissions = .all, kubelet: Kubelet.Configuration? = nil,
        options: Options = Options()
    ) async throws -> KubernetesEmulator {
        let certificates = try EmulatorCertificates.generate()
        let workDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("k8s-emulator-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let emulator = KubernetesEmulator(certificates: certificates, namespaces: namespaces, permissions: permissions,
                                          kubelet: kubelet, options: options, workDirectory: workDirectory)
        do {
            try await emulator.startServer()
        } catch {
            await emulator.stop()
            throw error
        }
        return emulator
    }

    private func startServer() async throws {
        var logger = Logger(label: "kubernetes-emulator")
        logger.logLevel = .critical
        let portBox = self.portBox
        let application = Application(
            responder: EmulatorResponder(emulator: self),
            server: try .tls(.http1(), tlsConfiguration: certificates.serverTLSConfiguration()),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in portBox.set(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: application)], gracefulShutdownSignals: [], logger: logger
        ))
        serviceGroup = group
        serverTask = Task { try? await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while port == 0 {
            guard ContinuousClock.now < deadline else { throw EmulatorError(description: "the emulator's server did not start listening") }
            try await Task.sleep(for: .milliseconds(5))
        }
        if let interval = options.bookmarkInterval {
            bookmarkTask = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self, !Task.isCancelled else { return }
                    await self.sendBookmarks()
                }
            }
        }
    }

    /// Stops the server: ends watches and hung requests, kills every pod process (SIGTERM, then SIGKILL), closes
    /// the port and removes the scratch directory. Idempotent.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        bookmarkTask?.cancel()
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers = [:]
        for hang in hangs { hang.resume() }
        hangs = []
        for timer in timers.values { timer.cancel() }
        timers = [:]
        for run in podRuns.values { run.terminate(grace: .milliseconds(500)) }
        let tasks = Array(kubeletTasks.values)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for run in podRuns.values { await run.killAndReap() }
        podRuns = [:]
        if let group = serviceGroup {
            await group.triggerGracefulShutdown()
            let task = serverTask
            let finished = await withTaskGroup(of: Bool.self) { tasks in
                tasks.addTask { await task?.value; return true }
                // The graceful shutdown closes the listener and idle keep-alive connections, and every stream
                // (watches, followed logs) has ended above, so it finishes quickly. Cancelling the server instead is
                // a last resort after a generous wait: cancelling while accepted connections are still queued
                // traps in NIO ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2813).
                tasks.addTask { try? await Task.sleep(for: .seconds(20)); return false }
                let first = await tasks.next() ?? false
                tasks.cancelAll()
                return first
            }
            if !finished { serverTask?.cancel(); await serverTask?.value }
        }
        serviceGroup = nil
        try? FileManager.default.removeItem(atPath: workDirectory)
    }

    // MARK: Auth

    static func newToken() -> String {
        "emulator-" + (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
    }

    /// The bearer token the server currently accepts.
    public func validToken() -> String { token }

    /// Replaces the token; the old one answers 401 `Unauthorized` from now on. Returns the new token.
    @discardableResult
    public func rotateToken() -> String {
        token = Self.newToken()
        return token
    }

    /// Writes a kubeconfig for this server: `server`, `certificate-authority-data` (base64 of the CA PEM), the
    /// current `token` and a `current-context` with `namespace`. kubectl and our client can use it as is.
    public func writeKubeconfig(to path: String, namespace: String) throws {
        try Data(kubeconfigText(token: token, namespace: namespace).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    // MARK: Test hooks

    /// Replaces the admin identity's permission set: both what `SelfSubjectAccessReview` answers and what is
    /// enforced (403). ServiceAccounts keep their own (``addServiceAccount(namespace:name:permissions:)``).
    public func setPermissions(_ permissions: Permissions) {
        self.permissions = permissions
    }

    /// Makes the next `count` authenticated requests (whose `"METHOD /path"` contains `matching`, if given) fail
    /// with `status` and a Status body of the matching reason (500 `InternalError`, 503 `ServiceUnavailable`, 429
    /// `TooManyRequests` with `Retry-After: 1`, 504 `Timeout`, ...), without side effects. `status == 0` makes them
    /// hang without an answer until the client gives up (or the emulator stops).
    public func failNextRequests(_ count: Int, status: Int = 500, matching: String? = nil) {
        injections.append(Injection(status: status, matching: matching, remaining: count))
    }

    /// Every request answered so far.
    public var requestLog: [LoggedRequest] { logEntries }

    /// Forgets the request log (e.g. after setup, before counting).
    public func clearRequestLog() { logEntries = [] }

    /// The stored objects of `resource` in `namespace`, sorted by name, each with `kind` and `apiVersion`.
    public func objects(_ resource: Resource, namespace: String) -> [JSON] {
        (store[resource]?[namespace] ?? [:]).keys.sorted().map { store[resource]![namespace]![$0]! }
    }

    /// One stored object, or nil.
    public func object(_ resource: Resource, namespace: String, name: String) -> JSON? {
        store[resource]?[namespace]?[name]
    }

    /// Creates (or, when it exists, does nothing with) a namespace.
    public func createNamespace(_ name: String) {
        if namespaces[name] == nil { namespaces[name] = Self.namespaceObject(name, created: Timestamp.rfc3339()) }
    }

    /// Creates an object as a POST would (defaults, validation, generateName, events), bypassing auth and
    /// injected failures; for seeding Secrets and the like. Throws on a non-2xx answer.
    @discardableResult
    public func seed(_ resource: Resource, namespace: String, _ object: JSON) throws -> JSON {
        let response = create(resource, namespace: namespace, body: Array(object.serializedData()), query: [:])
        defer { settle() }
        guard case .json(let status, let body, _) = response, (200..<300).contains(status) else {
            throw EmulatorError(description: "seeding \(resource.rawValue) failed: \(response)")
        }
        return body
    }

    /// Replaces a pod's `status` (e.g. a `CrashLoopBackOff` waiting state or an `OOMKilled` termination): a
    /// MODIFIED event, and the job controller reacts to the phase. The kubelet stops managing that pod (its
    /// process, if any, is killed).
    public func setPodStatus(namespace: String, name: String, status: JSON) throws {
        guard var pod = store[.pods]?[namespace]?[name] else { throw EmulatorError(description: "no pod \(namespace)/\(name)") }
        let uid = pod["metadata"]["uid"].string ?? ""
        statusOverridden.insert(uid)
        podRuns[uid]?.terminate(grace: .zero)
        pod["status"] = status
        storeUpdate(.pods, namespace, pod)
        settle()
    }

    /// Replaces a Job's `status` (for tests without a kubelet): a MODIFIED event; a terminal condition starts
    /// the `ttlSecondsAfterFinished` clock.
    public func setJobStatus(namespace: String, name: String, status: JSON) throws {
        guard var job = store[.jobs]?[namespace]?[name] else { throw EmulatorError(description: "no job \(namespace)/\(name)") }
        job["status"] = status
        storeUpdate(.jobs, namespace, job)
        scheduleTTLIfFinished(namespace, name)
        settle()
    }

    /// Replaces the `status` of an object no controller here maintains (a StatefulSet's or a DaemonSet's ready
    /// counts): a MODIFIED event.
    public func setStatus(_ resource: Resource, namespace: String, name: String, status: JSON) throws {
        guard var object = store[resource]?[namespace]?[name] else {
            throw EmulatorError(description: "no \(resource.singular) \(namespace)/\(name)")
        }
        object["status"] = status
        storeUpdate(resource, namespace, object)
        settle()
    }

    /// Sets the text `pods/{name}/log` returns for `container` (for pods the kubelet does not run); with `previous`,
    /// what `previous=true` returns: the log of the container's last terminated instance, which is all a crash-looping
    /// container has to show. Without one, `previous=true` answers 400 as a container that never restarted does.
    public func setPodLog(namespace: String, name: String, container: String, log: String, previous: Bool = false) {
        if previous {
            previousLogOverrides["\(namespace)/\(name)/\(container)"] = log
        } else {
            logOverrides["\(namespace)/\(name)/\(container)"] = log
        }
    }

    /// Forgets the whole watch history: any watch from a resourceVersion older than now gets 410 `Expired`.
    public func compactHistory() {
        history = []
        compactedRevision = revision
    }

    /// The current (global) resourceVersion.
    public var currentResourceVersion: String { String(revision) }

    /// Sends a BOOKMARK now to every watch that asked for them.
    public func sendBookmarks() {
        for watcher in watchers.values where watcher.bookmarks {
            let line: JSON = ["type": "BOOKMARK", "object": [
                "kind": .string(watcher.resource.kind), "apiVersion": .string(watcher.resource.apiVersion),
                "metadata": ["resourceVersion": .string(String(revision)), "creationTimestamp": .null],
            ]]
            watcher.continuation.yield(line.serialized() + "\n")
        }
    }

    /// Process ids of a pod's running containers (empty when none runs); for checking that processes are gone.
    public func processIDs(namespace: String, pod name: String) -> [Int32] {
        guard let uid = store[.pods]?[namespace]?[name]?["metadata"]["uid"].string, let run = podRuns[uid] else { return [] }
        return run.processes.values.filter { !$0.hasExited }.map(\.pid)
    }

    /// How many pod processes run right now, across namespaces.
    public var runningProcessCount: Int {
        podRuns.values.reduce(0) { $0 + $1.processes.values.filter { !$0.hasExited }.count }
    }

    /// Number of open watch streams.
    public var openWatchCount: Int { watchers.count }

    static func namespaceObject(_ name: String, created: String) -> JSON {
        [
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": ["name": .string(name), "uid": .string(UUID().uuidString.lowercased()), "resourceVersion": "1",
                         "creationTimestamp": .string(created), "labels": ["kubernetes.io/metadata.name": .string(name)]],
            "spec": ["finalizers": ["kubernetes"]],
            "status": ["phase": "Active"],
        ]
    }

    /// Suspends the calling request until ``stop()`` (a request that never gets an answer).
    func hangUntilStopped() async {
        if stopped { return }
        await withCheckedContinuation { hangs.append($0) }
    }
}

/// The listening port, readable without hopping onto the actor.
final class PortBox: Sendable {
    private let mutex = Mutex<Int>(0)
    var value: Int { mutex.withLock { $0 } }
    func set(_ port: Int) { mutex.withLock { $0 = port } }
}
