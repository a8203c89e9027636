import AsyncHTTPClient
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A minimal API client for the tests: AsyncHTTPClient trusting only the emulator's CA.
final class TestClient: Sendable {
    struct Reply: Sendable {
        var status: Int
        var body: JSON
        var text: String
        var headers: HTTPHeaders
    }

    let http: HTTPClient
    let baseURL: String
    let token: String

    init(_ emulator: KubernetesEmulator, token: String? = nil) async throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(emulator.caPEM.utf8)))
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls))
        baseURL = emulator.baseURL
        if let token { self.token = token } else { self.token = await emulator.validToken() }
    }

    func shutdown() async throws { try await http.shutdown() }

    func send(_ method: HTTPMethod, _ path: String, _ body: JSON? = nil, contentType: String = "application/json",
              token: String?? = .none, timeout: Duration = .seconds(20)) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        let bearer: String? = switch token { case .none: self.token; case .some(let explicit): explicit }
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body.serialized()))
        }
        let (seconds, attoseconds) = timeout.components
        let response = try await http.execute(request, timeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: bytes)
        return Reply(status: Int(response.status.code), body: (try? JSON.parse(text)) ?? .null, text: text, headers: response.headers)
    }

    /// Opens a watch and collects its events in the background.
    func watch(_ path: String) async throws -> WatchCollector {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await http.execute(request, timeout: .seconds(60))
        let collector = WatchCollector(status: Int(response.status.code))
        let task = Task {
            var pending = ""
            do {
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<newline])
                        pending = String(pending[pending.index(after: newline)...])
                        if let event = try? JSON.parse(line) { await collector.add(event) }
                    }
                }
            } catch {}
            await collector.finish()
        }
        await collector.setTask(task)
        return collector
    }
}

/// The events of one watch stream.
actor WatchCollector {
    let status: Int
    private(set) var events: [JSON] = []
    private(set) var finished = false
    private var task: Task<Void, Never>?

    init(status: Int) { self.status = status }

    func add(_ event: JSON) { events.append(event) }
    func finish() { finished = true }
    func setTask(_ task: Task<Void, Never>) { self.task = task }
    func cancel() { task?.cancel() }

    var types: [String] { events.compactMap { $0["type"].string } }

    /// Waits until `count` events arrived (or the stream ended).
    func waitFor(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [JSON] {
        let deadline = ContinuousClock.now + timeout
        while events.count < count, !finished {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: "\(count) watch events (have \(types))") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return events
    }
}

/// Starts an emulator and a client, runs `body`, and stops both whatever happens.
func withEmulator<Result: Sendable>(
    namespaces: [String] = ["default"], permissions: Permissions = .all, kubelet: Kubelet.Configuration? = nil,
    options: KubernetesEmulator.Options = .init(),
    _ body: (KubernetesEmulator, TestClient) async throws -> Result
) async throws -> Result {
    let emulator = try await KubernetesEmulator.start(namespaces: namespaces, permissions: permissions, kubelet: kubelet, options: options)
    let client: TestClient
    do {
        client = try await TestClient(emulator)
    } catch {
        await emulator.stop()
        throw error
    }
    do {
        let result = try await body(emulator, client)
        // The emulator first: stopping it answers hung requests, so the client's connections close at once.
        await emulator.stop()
        try await client.shutdown()
        return result
    } catch {
        await emulator.stop()
        try? await client.shutdown()
        throw error
    }
}

/// A temporary directory removed after `body`.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-test-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Runs a program (no shell) off the cooperative pool; returns exit status, stdout, stderr.
func run(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> (Int32, String, String) {
    let run = try await runProgram(executable, arguments, environment: environment)
    return (run.status, run.output, run.errors)
}

func condition(_ job: JSON, _ type: String) -> JSON? {
    (job["status"]["conditions"].array ?? []).first { $0["type"].string == type && $0["status"].string == "True" }
}

/// A Job manifest running `command` in image `image`, with an optional ConfigMap volume at /app.
func jobManifest(generateName: String = "recipe-", image: String = "test/recipes:1", command: [String], backoffLimit: Int = 0,
                 activeDeadlineSeconds: Int? = nil, configMap: String? = nil, labels: [String: String] = ["app": "x"],
                 env: [JSON] = []) -> JSON {
    var container: JSON = ["name": "runner", "image": .string(image), "command": .array(command.map { .string($0) })]
    if !env.isEmpty { container["env"] = .array(env) }
    var podSpec: JSON = ["restartPolicy": "Never", "containers": [container]]
    if let configMap {
        podSpec["containers"] = [{ var c = container; c["volumeMounts"] = [["name": "data", "mountPath": "/app", "readOnly": true]]; return c }()]
        podSpec["volumes"] = [["name": "data", "configMap": ["name": .string(configMap)]]]
    }
    var spec: JSON = ["backoffLimit": .int(Int64(backoffLimit)), "template": ["metadata": ["labels": .object(labels.mapValues { .string($0) })], "spec": podSpec]]
    if let activeDeadlineSeconds { spec["activeDeadlineSeconds"] = .int(Int64(activeDeadlineSeconds)) }
    return ["apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["generateName": .string(generateName), "labels": .object(labels.mapValues { .string($0) })], "spec": spec]
}

/// Processes (not zombies) whose process group is `group`, from /proc.
func liveProcesses(inGroup group: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields: state, ppid, pgrp, ...
        return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == group
    }
}
