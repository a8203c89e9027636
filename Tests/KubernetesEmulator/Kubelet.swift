import EuphrosyneSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The emulator's stand-in for nodes: a job controller plus a "kubelet" that runs each pod container as a local
/// process (posix_spawn, own process group, never a shell).
///
/// A pod whose `spec.serviceAccountName` names an account registered with
/// ``KubernetesEmulator/addServiceAccount(namespace:name:permissions:)`` in its namespace (and that does not set
/// `automountServiceAccountToken: false`) gets that account's credentials: a kubeconfig (this server, its CA, the
/// account's token, the pod's namespace) in the pod's scratch directory, named by `KUBECONFIG` in every container's
/// environment (the container's own `env` still wins). That stands in for the projected token volume, so a recipe's
/// pod talks to the API as its own ServiceAccount. A pod naming an unregistered account gets no credentials.
public enum Kubelet {
    /// What an image "contains": a directory searched for the container's command (like PATH inside the image),
    /// and the image's ENTRYPOINT/CMD used when the container does not set `command`/`args`.
    public struct Image: Sendable, ExpressibleByStringLiteral {
        public var directory: String
        public var entrypoint: [String]
        public var command: [String]

        public init(directory: String, entrypoint: [String] = [], command: [String] = []) {
            self.directory = directory
            self.entrypoint = entrypoint
            self.command = command
        }

        /// An image that is just a directory of executables.
        public init(stringLiteral directory: String) {
            self.init(directory: directory)
        }
    }

    /// Enables the job controller and the kubelet.
    ///
    /// ```swift
    /// Kubelet.Configuration(images: ["euphrosyne/recipes:latest": .init(directory: bin, entrypoint: ["euphrosyne-recipes"])],
    ///                       environment: ["EUPHROSYNE_URL": url])
    /// ```
    public struct Configuration: Sendable {
        /// Image reference (exactly as in the pod spec) → image. A pod with an image not listed stays Pending with
        /// `ErrImagePull`, then `ImagePullBackOff`.
        public var images: [String: Image]
        /// Searched after the image directory for a command without `/`; also the pods' default PATH.
        public var searchPath: [String]
        /// Extra environment for every container (applied before the container's own `env`, which wins).
        public var environment: [String: String]
        /// The delay before a failed pod is replaced, doubling per failure (real Kubernetes: 10 s).
        public var retryBackoff: Duration
        /// Caps a pod's `terminationGracePeriodSeconds` (default 30 s) between SIGTERM and SIGKILL.
        public var maxTerminationGracePeriod: Duration
        /// How long a pod with an unknown image shows `ErrImagePull` before `ImagePullBackOff`.
        public var imagePullBackOffAfter: Duration

        public init(
            images: [String: Image] = [:], searchPath: [String] = ["/usr/local/bin", "/usr/bin", "/bin"],
            environment: [String: String] = [:], retryBackoff: Duration = .milliseconds(200),
            maxTerminationGracePeriod: Duration = .seconds(2), imagePullBackOffAfter: Duration = .milliseconds(200)
        ) {
            self.images = images
            self.searchPath = searchPath
            self.environment = environment
            self.retryBackoff = retryBackoff
            self.maxTerminationGracePeriod = maxTerminationGracePeriod
            self.imagePullBackOffAfter = imagePullBackOffAfter
        }
    }
}

/// The kubelet's record of one pod it runs.
struct PodRun: Sendable {
    var directory: String
    var processes: [String: ChildProcess] = [:]
    var logPaths: [String: String] = [:]
    var terminationRequested = false
    /// The SIGKILL that follows a SIGTERM once the grace has passed, carried out by the pod's kubelet task.
    let termination = PodTermination()

    var isRunning: Bool { processes.values.contains { !$0.hasExited } }

    /// SIGTERM to every container's process group now, SIGKILL after `grace` (at once when `grace` is zero). The
    /// pod's kubelet task, which waits for its processes, sends the late SIGKILL; a shorter grace asked for later
    /// (a forced delete) kills at once.
    func terminate(grace: Duration) {
        let processes = Array(processes.values)
        guard !processes.isEmpty else { return }
        for process in processes { process.signalGroup(grace == .zero ? SIGKILL : SIGTERM) }
        if grace == .zero {
            Self.killGroups(processes)
        } else {
            termination.request(killAt: .now + grace)
        }
    }

    /// SIGKILL to every container's process group, including whatever the container left behind in it.
    static func killGroups(_ processes: [ChildProcess]) {
        for process in processes { kill(-process.pid, SIGKILL) }
    }

    func killAndReap() async {
        for process in processes.values {
            kill(-process.pid, SIGKILL)
            _ = await process.waitIgnoringCancellation()
        }
    }
}

struct LaunchPlan: Sendable {
    var container: String
    var executable: String
    var arguments: [String]
    var environment: [String: String]
    var logPath: String
}

enum KubeletStep: Sendable {
    case stop
    case retry
    case launch([LaunchPlan])
}

extension KubernetesEmulator {
    func startKubelet(_ ref: ObjectRef, uid: String) {
        guard kubelet != nil, !stopped, kubeletTasks[uid] == nil else { return }
        kubeletTasks[uid] = Task { [weak self] in
            await self?.runKubelet(ref, uid: uid)
            await self?.kubeletTaskEnded(uid)
        }
    }

    private func kubeletTaskEnded(_ uid: String) {
        kubeletTasks.removeValue(forKey: uid)
    }

    nonisolated func runKubelet(_ ref: ObjectRef, uid: String) async {
        let started = ContinuousClock.now
        while !Task.isCancelled {
            switch await kubeletPrepare(ref, uid: uid, since: started) {
            case .stop:
                return
            case .retry:
                do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
            case .launch(let plans):
                var processes: [String: ChildProcess] = [:]
                var failures: [String: String] = [:]
                for plan in plans {
                    do {
                        processes[plan.container] = try await ChildProcess.spawn(
                            executable: plan.executable, arguments: plan.arguments, environment: plan.environment,
                            standardOutput: plan.logPath, standardError: plan.logPath
                        )
                    } catch {
                        failures[plan.container] = error.description
                    }
                }
                let termination = await kubeletStarted(ref, uid: uid, processes: processes, failures: failures)
                let started = Array(processes.values)
                await withTaskGroup(of: (String, Int32?)?.self) { group in
                    for (name, process) in processes {
                        group.addTask { (name, await process.wait()) }
                    }
                    if let termination, !started.isEmpty {
                        // A termination's SIGKILL, once its grace has passed, unless every process ended first.
                        group.addTask {
                            guard let killAt = await termination.requested() else { return nil }
                            do { try await Task.sleep(until: killAt) } catch { return nil }
                            PodRun.killGroups(started)
                            return nil
                        }
                    }
                    var running = processes.count
                    for await next in group {
                        guard let (name, code) = next else { continue }
                        running -= 1
                        if let code { await kubeletExited(ref, uid: uid, container: name, code: code) }
                        if running == 0 { group.cancelAll() }
                    }
                }
                // Terminated: what the containers left behind in their groups goes too.
                if termination?.wasRequested == true { PodRun.killGroups(started) }
                return
            }
        }
    }

    // MARK: Pod status helpers

    private func updatePod(_ ref: ObjectRef, uid: String, _ change: (inout JSON) -> Void) {
        guard var pod = stored(.pods, ref.namespace, ref.name), pod["metadata"]["uid"].string == uid,
              !statusOverridden.contains(uid) else { return }
        change(&pod)
        storeUpdate(.pods, ref.namespace, pod)
    }

    private static func condition(_ type: String, _ value: Bool, reason: String? = nil, at time: String) -> JSON {
        var condition: JSON = ["type": .string(type), "status": value ? "True" : "False", "lastProbeTime": .null,
                               "lastTransitionTime": .string(time)]
        if let reason { condition["reason"] = .string(reason) }
        return condition
    }

    /// Conditions, keeping `lastTransitionTime` of those whose status did not change.
    private static func podConditions(_ old: JSON, ready: Bool, reason: String?, now: String) -> JSON {
        let previous = old.array ?? []
        func keep(_ fresh: JSON) -> JSON {
            if let match = previous.first(where: { $0["type"] == fresh["type"] && $0["status"] == fresh["status"] && $0["reason"] == fresh["reason"] }) {
                return match
            }
            return fresh
        }
        // Conditions others own (DisruptionTarget from an eviction) stay.
        let owned: Set<String> = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        let others = previous.filter { !owned.contains($0["type"].string ?? "") }
        return .array(others + [
            keep(condition("PodReadyToStartContainers", true, at: now)),
            keep(condition("Initialized", true, at: now)),
            keep(condition("Ready", ready, reason: ready ? nil : reason, at: now)),
            keep(condition("ContainersReady", ready, reason: ready ? nil : reason, at: now)),
            keep(condition("PodScheduled", true, at: now)),
        ])
    }

    private static func containerStatus(_ container: JSON, state: JSON, ready: Bool, started: Bool, containerID: String? = nil) -> JSON {
        var status: JSON = [
            "name": container["name"], "image": container["image"], "imageID": "", "ready": .bool(ready),
            "restartCount": 0, "started": .bool(started), "state": state, "lastState": [:],
        ]
        if let containerID { status["containerID"] = .string(containerID) }
        return status
    }

    // MARK: Kubelet steps (actor side)

    func kubeletPrepare(_ ref: ObjectRef, uid: String, since started: ContinuousClock.Instant) -> KubeletStep {
        guard !stopped, let configuration = kubelet, let pod = stored(.pods, ref.namespace, ref.name),
              pod["metadata"]["uid"].string == uid, !statusOverridden.contains(uid) else { return .stop }
        defer { settle() }
        if !pod["metadata"]["deletionTimestamp"].isNull {
            podRuns.removeValue(forKey: uid)
            storeRemove(.pods, ref.namespace, ref.name)
            return .stop
        }
        // Once Node objects exist, a pod runs only when the scheduler has bound it.
        guard isSchedulingSettled(pod) else { return .retry }
        let now = Timestamp.rfc3339()
        let spec = pod["spec"]
        let containers = spec["containers"].array ?? []
        let imageWaiting = ContinuousClock.now - started < configuration.imagePullBackOffAfter ? "ErrImagePull" : "ImagePullBackOff"

        // Why each container cannot start yet, if it cannot.
        var waiting: [String: (reason: String, message: String)] = [:]
        for container in containers {
            let image = container["image"].string ?? ""
            if configuration.images[image] == nil {
                waiting[container["name"].string ?? ""] = (imageWaiting, imageWaiting == "ErrImagePull"
                    ? "rpc error: code = NotFound desc = failed to pull and unpack image \(quoted(image)): not found"
                    : "Back-off pulling image \(quoted(image))")
            }
        }
        if waiting.isEmpty, let missing = missingVolumeSource(pod) {
            for container in containers { waiting[container["name"].string ?? ""] = ("ContainerCreating", missing) }
        }
        let directory = "\(workDirectory)/pods/\(ref.namespace)_\(ref.name)_\(uid.prefix(8))"
        // The pod's ServiceAccount credentials, in place of the projected token volume (see `podKubeconfig`).
        let credentials = podKubeconfig(pod)
        let kubeconfigPath = credentials == nil ? nil : "\(directory)/serviceaccount/kubeconfig"
        var environments: [String: [String: String]] = [:]
        if waiting.isEmpty {
            for container in containers {
                switch containerEnvironment(pod, container, kubeconfig: kubeconfigPath) {
                case .success(let environment): environments[container["name"].string ?? ""] = environment
                case .failure(let error): waiting[container["name"].string ?? ""] = ("CreateContainerConfigError", error.description)
                }
            }
        }
        if !waiting.isEmpty {
            updatePod(ref, uid: uid) { pod in
                if pod["spec"]["nodeName"].isNull { pod["spec"]["nodeName"] = "emulator-node" }
                var status = pod["status"]
                status["phase"] = "Pending"
                if status["startTime"].isNull { status["startTime"] = .string(now) }
                status["hostIP"] = "127.0.0.1"
                status["conditions"] = Self.podConditions(status["conditions"], ready: false, reason: "ContainersNotReady", now: now)
                status["containerStatuses"] = .array(containers.map { container in
                    let name = container["name"].string ?? ""
                    var state: JSON = ["reason": .string(waiting[name]?.reason ?? "ContainerCreating")]
                    if let message = waiting[name]?.message, !message.isEmpty { state["message"] = .string(message) }
                    return Self.containerStatus(container, state: ["waiting": state], ready: false, started: false)
                })
                pod["status"] = status
            }
            return .retry
        }

        // Everything is there: materialise volumes and credentials, resolve commands.
        var run = PodRun(directory: directory)
        var mounts: [String: String] = [:]  // volume name → host directory
        do {
            try FileManager.default.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)
            if let credentials, let kubeconfigPath {
                try FileManager.default.createDirectory(atPath: "\(directory)/serviceaccount", withIntermediateDirectories: true)
                try Data(credentials.utf8).write(to: URL(fileURLWithPath: kubeconfigPath))
                chmod(kubeconfigPath, 0o600)
            }
            for volume in spec["volumes"].array ?? [] {
                let name = volume["name"].string ?? ""
                let path = "\(directory)/volumes/\(name)"
                if try materialise(volume, namespace: ref.namespace, at: path) { mounts[name] = path }
            }
        } catch {
            updatePod(ref, uid: uid) { $0["status"]["message"] = .string("emulator: cannot prepare volumes: \(error)") }
            return .retry
        }
        var plans: [LaunchPlan] = []
        var startErrors: [String: String] = [:]
        for container in containers {
            let name = container["name"].string ?? ""
            let image = configuration.images[container["image"].string ?? ""]!
            var mountMap: [(String, String)] = []
            for mount in container["volumeMounts"].array ?? [] {
                guard let volume = mount["name"].string, let host = mounts[volume], let mountPath = mount["mountPath"].string else { continue }
                let subPath = mount["subPath"].string.map { "/" + $0 } ?? ""
                mountMap.append((mountPath.hasSuffix("/") && mountPath.count > 1 ? String(mountPath.dropLast()) : mountPath, host + subPath))
            }
            mountMap.sort { $0.0.count > $1.0.count }
            var environment = environments[name] ?? [:]
            for (key, value) in environment { environment[key] = Self.rewrite(value, mountMap) }
            // The credentials file is a path of this machine, not of the container: a container mount such as
            // `/tmp` must not rewrite it (the scratch directory itself may lie under /tmp).
            if let kubeconfigPath, environment["KUBECONFIG"] == Self.rewrite(kubeconfigPath, mountMap),
               (container["env"].array ?? []).allSatisfy({ $0["name"].string != "KUBECONFIG" }) {
                environment["KUBECONFIG"] = kubeconfigPath
            }
            let command = (container["command"].array ?? []).compactMap(\.string)
            let args = (container["args"].array ?? []).compactMap(\.string)
            var argv: [String]
            if !command.isEmpty { argv = command + args } else if !args.isEmpty { argv = image.entrypoint + args } else { argv = image.entrypoint + image.command }
            argv = argv.map { Self.rewrite(Self.expand($0, environments[name] ?? [:]), mountMap) }
            let logPath = "\(directory)/logs/\(name).log"
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            run.logPaths[name] = logPath
            guard let program = argv.first else {
                startErrors[name] = "failed to start container \(quoted(name)): no command specified"
                continue
            }
            guard let executable = Self.resolveExecutable(program, image: image, searchPath: configuration.searchPath) else {
                startErrors[name] = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \(quoted(program)): executable file not found in $PATH: unknown"
                continue
            }
            plans.append(LaunchPlan(container: name, executable: executable, arguments: Array(argv.dropFirst()),
                                    environment: environment, logPath: logPath))
        }
        podRuns[uid] = run
        if !startErrors.isEmpty {
            updatePod(ref, uid: uid) { pod in
                var status = pod["status"]
                status["phase"] = "Failed"
                if status["startTime"].isNull { status["startTime"] = .string(now) }
                status["conditions"] = Self.podConditions(status["conditions"], ready: false, reason: "PodFailed", now: now)
                status["containerStatuses"] = .array(containers.map { container in
                    let name = container["name"].string ?? ""
                    let state: JSON = ["terminated": ["exitCode": 128, "reason": "StartError", "message": .string(startErrors[name] ?? "not started"),
                                                      "startedAt": "1970-01-01T00:00:00Z", "finishedAt": .string(now)]]
                    return Self.containerStatus(container, state: state, ready: false, started: false)
                })
                pod["status"] = status
            }
            return .stop
        }
        return .launch(plans)
    }

    /// Records the pod's processes and its status; returns the pod's termination, which the kubelet task carries
    /// out (nil when the pod is gone).
    @discardableResult
    func kubeletStarted(
        _ ref: ObjectRef, uid: String, processes: [String: ChildProcess], failures: [String: String]
    ) -> PodTermination? {
        defer { settle() }
        podRuns[uid]?.processes = processes
        let termination = podRuns[uid]?.termination
        let now = Timestamp.rfc3339()
        guard let pod = stored(.pods, ref.namespace, ref.name), pod["metadata"]["uid"].string == uid,
              podRuns[uid]?.terminationRequested != true, !stopped else {
            for process in processes.values { process.signalGroup(SIGKILL) }
            return termination
        }
        if !pod["metadata"]["deletionTimestamp"].isNull {
            podRuns[uid]?.terminate(grace: kubelet?.maxTerminationGracePeriod ?? .seconds(1))
        }
        let containers = pod["spec"]["containers"].array ?? []
        let address = pod["status"]["podIP"].string ?? allocatePodIP(node: pod["spec"]["nodeName"].string ?? "emulator-node")
        updatePod(ref, uid: uid) { pod in
            var status = pod["status"]
            let allStarted = failures.isEmpty
            status["phase"] = allStarted ? "Running" : "Failed"
            if status["startTime"].isNull { status["startTime"] = .string(now) }
            if pod["spec"]["nodeName"].isNull { pod["spec"]["nodeName"] = "emulator-node" }
            // An address on the pod network (the processes themselves listen on the host's loopback).
            status["podIP"] = .string(address)
            status["podIPs"] = [["ip": .string(address)]]
            status["conditions"] = Self.podConditions(status["conditions"], ready: allStarted, reason: "ContainersNotReady", now: now)
            status["containerStatuses"] = .array(containers.map { container in
                let name = container["name"].string ?? ""
                if let process = processes[name] {
                    return Self.containerStatus(container, state: ["running": ["startedAt": .string(now)]], ready: true, started: true,
                                                containerID: "emulator://\(process.pid)")
                }
                let state: JSON = ["terminated": ["exitCode": 128, "reason": "StartError", "message": .string(failures[name] ?? ""),
                                                  "startedAt": "1970-01-01T00:00:00Z", "finishedAt": .string(now)]]
                return Self.containerStatus(container, state: state, ready: false, started: false)
            })
            pod["status"] = status
        }
        if !failures.isEmpty { for process in processes.values { process.signalGroup(SIGKILL) } }
        return termination
    }

    func kubeletExited(_ ref: ObjectRef, uid: String, container name: String, code: Int32) {
        guard !stopped else { return }
        let now = Timestamp.rfc3339()
        let exitCode = code >= 0 ? Int(code) : 128 + Int(-code)
        updatePod(ref, uid: uid) { pod in
            var status = pod["status"]
            var statuses = status["containerStatuses"].array ?? []
            for index in statuses.indices where statuses[index]["name"].string == name {
                let startedAt = statuses[index]["state"]["running"]["startedAt"]
                var terminated: JSON = ["exitCode": .int(Int64(exitCode)), "reason": exitCode == 0 ? "Completed" : "Error",
                                        "startedAt": startedAt.isNull ? .string(now) : startedAt, "finishedAt": .string(now)]
                if let id = statuses[index]["containerID"].string { terminated["containerID"] = .string(id) }
                if code < 0 { terminated["signal"] = .int(Int64(-code)) }
                statuses[index]["state"] = ["terminated": terminated]
                statuses[index]["ready"] = false
                statuses[index]["started"] = false
            }
            let terminatedCodes = statuses.compactMap { $0["state"]["terminated"]["exitCode"].int }
            if terminatedCodes.count == statuses.count {
                status["phase"] = terminatedCodes.allSatisfy { $0 == 0 } ? "Succeeded" : "Failed"
                status["conditions"] = Self.podConditions(status["conditions"], ready: false, reason: "PodCompleted", now: now)
            } else {
                status["conditions"] = Self.podConditions(status["conditions"], ready: false, reason: "ContainersNotReady", now: now)
            }
            status["containerStatuses"] = .array(statuses)
            pod["status"] = status
        }
        settle()
        if let pod = stored(.pods, ref.namespace, ref.name), pod["metadata"]["uid"].string == uid,
           !pod["metadata"]["deletionTimestamp"].isNull, podRuns[uid]?.isRunning != true
        {
            storeRemove(.pods, ref.namespace, ref.name)
            settle()
        }
    }

    // MARK: Volumes and environment

    /// A description of the first missing, non-optional ConfigMap/Secret (or key) a volume needs; nil when all exist.
    private func missingVolumeSource(_ pod: JSON) -> String? {
        let namespace = pod["metadata"]["namespace"].string ?? ""
        for volume in pod["spec"]["volumes"].array ?? [] {
            for (field, resource, nameField) in [("configMap", Resource.configMaps, "name"), ("secret", Resource.secrets, "secretName")] {
                let source = volume[field]
                guard !source.isNull, source["optional"].bool != true else { continue }
                let name = source[nameField].string ?? ""
                guard let object = stored(resource, namespace, name) else {
                    return "MountVolume.SetUp failed for volume \(quoted(volume["name"].string ?? "")) : \(resource.singular) \(quoted(name)) not found"
                }
                let keys = Set((object["data"].object ?? [:]).keys).union((object["binaryData"].object ?? [:]).keys)
                for item in source["items"].array ?? [] where !keys.contains(item["key"].string ?? "") {
                    return "MountVolume.SetUp failed for volume \(quoted(volume["name"].string ?? "")) : configmap references non-existent config key: \(item["key"].string ?? "")"
                }
            }
        }
        return nil
    }

    /// Writes a configMap/secret/emptyDir volume's files under `path`; false for volume types left alone.
    private func materialise(_ volume: JSON, namespace: String, at path: String) throws -> Bool {
        let fileManager = FileManager.default
        if !volume["emptyDir"].isNull {
            try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
            return true
        }
        for (field, resource, nameField) in [("configMap", Resource.configMaps, "name"), ("secret", Resource.secrets, "secretName")] {
            let source = volume[field]
            guard !source.isNull else { continue }
            try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
            guard let object = stored(resource, namespace, source[nameField].string ?? "") else { return true }
            var entries: [String: Data] = [:]
            for (key, value) in object["data"].object ?? [:] {
                let text = value.string ?? ""
                entries[key] = resource == .secrets ? (Data(base64Encoded: text) ?? Data()) : Data(text.utf8)
            }
            for (key, value) in object["binaryData"].object ?? [:] { entries[key] = Data(base64Encoded: value.string ?? "") ?? Data() }
            let defaultMode = source["defaultMode"].int ?? 0o644
            var files: [(String, Data, Int)] = []
            if let items = source["items"].array {
                for item in items {
                    guard let key = item["key"].string, let data = entries[key] else { continue }
                    files.append((item["path"].string ?? key, data, item["mode"].int ?? defaultMode))
                }
            } else {
                files = entries.map { ($0.key, $0.value, defaultMode) }
            }
            for (relative, data, mode) in files {
                let file = "\(path)/\(relative)"
                try fileManager.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: file))
                chmod(file, mode_t(mode))
            }
            return true
        }
        return false
    }

    struct EnvironmentError: Error, CustomStringConvertible { var description: String }

    /// The container's environment: configured extras, PATH and HOSTNAME, `KUBECONFIG` when the pod gets its
    /// ServiceAccount's credentials, `envFrom`, then `env` (values, `secretKeyRef` (decoded), `configMapKeyRef`,
    /// `fieldRef`), with `$(VAR)` expansion.
    private func containerEnvironment(_ pod: JSON, _ container: JSON, kubeconfig: String?) -> Result<[String: String], EnvironmentError> {
        guard let configuration = kubelet else { return .success([:]) }
        let namespace = pod["metadata"]["namespace"].string ?? ""
        let image = configuration.images[container["image"].string ?? ""]
        var environment: [String: String] = [
            "PATH": ([image?.directory].compactMap { $0 } + configuration.searchPath).joined(separator: ":"),
            "HOSTNAME": pod["metadata"]["name"].string ?? "",
        ]
        environment.merge(configuration.environment) { _, new in new }
        if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
        func lookup(_ resource: Resource, _ name: String, _ key: String, optional: Bool) -> Result<String?, EnvironmentError> {
            guard let object = stored(resource, namespace, name) else {
                return optional ? .success(nil) : .failure(EnvironmentError(description: "\(resource.singular) \(quoted(name)) not found"))
            }
            if let value = object["data"][key].string {
                return .success(resource == .secrets ? Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) } ?? "" : value)
            }
            if let value = object["binaryData"][key].string {
                return .success(Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) } ?? "")
            }
            return optional ? .success(nil) : .failure(EnvironmentError(description: "couldn't find key \(key) in \(resource.kind) \(namespace)/\(name)"))
        }
        for source in container["envFrom"].array ?? [] {
            let prefix = source["prefix"].string ?? ""
            for (field, resource) in [("configMapRef", Resource.configMaps), ("secretRef", Resource.secrets)] where !source[field].isNull {
                let name = source[field]["name"].string ?? ""
                guard let object = stored(resource, namespace, name) else {
                    if source[field]["optional"].bool == true { continue }
                    return .failure(EnvironmentError(description: "\(resource.singular) \(quoted(name)) not found"))
                }
                for (key, value) in object["data"].object ?? [:] {
                    let text = value.string ?? ""
                    environment[prefix + key] = resource == .secrets ? Data(base64Encoded: text).map { String(decoding: $0, as: UTF8.self) } ?? "" : text
                }
            }
        }
        var own: [String: String] = [:]
        for variable in container["env"].array ?? [] {
            guard let name = variable["name"].string else { continue }
            if let value = variable["value"].string {
                own[name] = Self.expand(value, own)
                continue
            }
            let from = variable["valueFrom"]
            var value: String?
            if !from["secretKeyRef"].isNull || !from["configMapKeyRef"].isNull {
                let isSecret = !from["secretKeyRef"].isNull
                let reference = isSecret ? from["secretKeyRef"] : from["configMapKeyRef"]
                switch lookup(isSecret ? .secrets : .configMaps, reference["name"].string ?? "", reference["key"].string ?? "",
                              optional: reference["optional"].bool == true) {
                case .failure(let error): return .failure(error)
                case .success(let found): value = found
                }
            } else if let path = from["fieldRef"]["fieldPath"].string {
                value = Self.fieldValue(pod, path)
            } else {
                value = variable["value"].isNull ? "" : nil
            }
            if let value { own[name] = value }
        }
        environment.merge(own) { _, new in new }
        return .success(environment)
    }

    private static func fieldValue(_ pod: JSON, _ path: String) -> String {
        if path.hasPrefix("metadata.labels['"), path.hasSuffix("']") {
            return pod["metadata"]["labels"][String(path.dropFirst(17).dropLast(2))].string ?? ""
        }
        if path.hasPrefix("metadata.annotations['"), path.hasSuffix("']") {
            return pod["metadata"]["annotations"][String(path.dropFirst(22).dropLast(2))].string ?? ""
        }
        switch path {
        case "status.podIP", "status.hostIP": return "127.0.0.1"
        case "spec.nodeName": return pod["spec"]["nodeName"].string ?? "emulator-node"
        default: return pod[path: path].string ?? ""
        }
    }

    /// Kubernetes `$(VAR)` expansion (`$$` escapes); unknown references stay as written.
    static func expand(_ text: String, _ variables: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "$", next < text.endIndex {
                if text[next] == "$" {
                    result.append("$")
                    index = text.index(after: next)
                    continue
                }
                if text[next] == "(", let close = text[next...].firstIndex(of: ")") {
                    let name = String(text[text.index(after: next)..<close])
                    if let value = variables[name] {
                        result += value
                        index = text.index(after: close)
                        continue
                    }
                }
            }
            result.append(character)
            index = next
        }
        return result
    }

    /// Rewrites a path under a volume's `mountPath` (the whole argument, or after `=` as in `--file=/etc/x`) to
    /// the directory the volume was materialised in.
    static func rewrite(_ argument: String, _ mounts: [(String, String)]) -> String {
        for (mountPath, host) in mounts {
            if argument == mountPath || argument.hasPrefix(mountPath + "/") {
                return host + argument.dropFirst(mountPath.count)
            }
            if let equals = argument.firstIndex(of: "=") {
                let value = argument[argument.index(after: equals)...]
                if value == mountPath || value.hasPrefix(mountPath + "/") {
                    return argument[...equals] + host + value.dropFirst(mountPath.count)
                }
            }
        }
        return argument
    }

    /// Finds the program: `name` in the image directory, then the search path; an absolute path inside the image
    /// directory, then by its last component there, then on the host.
    static func resolveExecutable(_ name: String, image: Kubelet.Image, searchPath: [String]) -> String? {
        let candidates: [String]
        if name.hasPrefix("/") {
            candidates = [image.directory + name, image.directory + "/" + (name as NSString).lastPathComponent, name]
        } else if name.contains("/") {
            candidates = [image.directory + "/" + name]
        } else {
            candidates = ([image.directory] + searchPath).map { "\($0)/\(name)" }
        }
        return candidates.first { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && FileManager.default.isExecutableFile(atPath: path)
        }
    }
}
