import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// Cluster mode end to end: the real `euphrosyne serve` with a kubeconfig for the Kubernetes API emulator (whose
/// kubelet runs each Job's pod as a local process: the built `euphrosyne-recipes`, or a script "image"), a real
/// `redis-server` for results and incidents, and the fake bot.
@Suite struct ClusterModeEndToEndTests {
    static let namespace = "euphrosyne"

    /// The registry ConfigMap: `dummy` (fast), `slow` (2 s), `broken` (crashes with a message on stderr), and the
    /// `record` action.
    static func registry(recordFile: String) -> String {
        let data = [
            "debugging": """
                dummy:
                  enabled: true
                  image: euphrosyne/recipes:latest
                  entrypoint: euphrosyne-recipes dummy
                  description: Proves the loop works
                  env: {DUMMY_SUGGEST: record}
                slow:
                  enabled: true
                  image: euphrosyne/recipes:latest
                  entrypoint: euphrosyne-recipes dummy
                  description: Takes its time
                  env: {DUMMY_DELAY_SECONDS: "2", DUMMY_SUGGEST: record}
                broken:
                  enabled: true
                  image: example/broken:1.0
                  entrypoint: crash
                  description: Always crashes
                """,
            "actions": """
                record:
                  enabled: true
                  image: euphrosyne/recipes:latest
                  entrypoint: euphrosyne-recipes record
                  env: {RECORD_FILE: \(recordFile)}
                """,
        ]
        let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
        return #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"orpheus-operator-recipes"},"data":"# + encoded + "}"
    }

    /// The emulator with the recipes image (the built binaries) and a crashing script image.
    static func emulator(_ loop: LocalLoop, permissions: Permissions = .all,
                         images extra: [String: Kubelet.Image] = [:]) async throws -> KubernetesEmulator {
        let brokenImage = loop.directory.appendingPathComponent("broken-image")
        try FileManager.default.createDirectory(at: brokenImage, withIntermediateDirectories: true)
        try writeExecutableScript(at: brokenImage.appendingPathComponent("crash").path,
                                  "#!/bin/sh\necho \"disk exploded while reading $2\" >&2\nexit 3\n")
        return try await KubernetesEmulator.start(
            namespaces: [namespace], permissions: permissions,
            kubelet: Kubelet.Configuration(
                images: ["euphrosyne/recipes:latest": .init(directory: LocalLoop.productsDirectory),
                         "example/broken:1.0": .init(directory: brokenImage.path)].merging(extra) { $1 },
                environment: ["PATH": "/usr/bin:/bin", "HOME": loop.directory.path]
            )
        )
    }

    /// Starts `euphrosyne serve` in cluster mode (no `--local`; the kubeconfig makes it a cluster).
    /// `serve` in cluster mode against the emulator (through the kubeconfig the test wrote), with Redis and the bot.
    static func serveArguments(redisPort: Int, botPort: Int, _ extra: [String] = []) -> [String] {
        ["--redis-address", "127.0.0.1:\(redisPort)", "--webex-bot-address", "http://127.0.0.1:\(botPort)"] + extra
    }

    /// Only the kubeconfig, a home and a PATH: nothing of the test process' own environment leaks into the mode.
    static func serveEnvironment(_ loop: LocalLoop) -> [String: String] {
        ["KUBECONFIG": loop.directory.appendingPathComponent("kubeconfig").path, "HOME": loop.directory.path,
         "PATH": "/usr/bin:/bin"]
    }

    @Test func anAlertRunsAsJobsReportsOverRedisAndIsCleanedUp() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let emulator = try await Self.emulator(loop)
        do {
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: Self.namespace)
            _ = try await emulator.seed(.configMaps, namespace: Self.namespace,
                                        JSON.parse(Self.registry(recordFile: loop.recordFile)))
            try await withRedisServer { redis in
                try await RunningServer.with([loop.bot.router]) { botPorts in
                    try await ServeProcess.with(Self.serveArguments(redisPort: redis.port, botPort: botPorts[0]),
                                                environment: Self.serveEnvironment(loop), inheritingEnvironment: false,
                                                directory: loop.directory) { serve in
                        let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: botPorts[0])
                        let incident = try await Self.exercise(endpoints, emulator, loop)
                        // Cluster mode logs one JSON object per line, with the incident's uuid on its lines.
                        let lines = serve.log.split(separator: "\n")
                        let objects = lines.compactMap { try? JSONValue.parseObject(Data($0.utf8)) }
                        #expect(!lines.isEmpty && objects.count == lines.count,
                                "not JSON: \(lines.filter { (try? JSONValue.parseObject(Data($0.utf8))) == nil }.prefix(3))")
                        #expect(objects.allSatisfy { $0["time"] != nil && $0["level"] != nil && $0["message"] != nil })
                        #expect(objects.contains { $0["incident"] == .string(incident) && $0["message"] == .string("incident opened") })
                        #expect(objects.contains { $0["recipe"] != nil && $0["incident"] == .string(incident) })
                    }
                }
            }
        } catch {
            await emulator.stop()
            throw error
        }
        await emulator.stop()
    }

    static func jobs(_ emulator: KubernetesEmulator, incident: String) async -> [JSON] {
        await emulator.objects(.jobs, namespace: namespace).filter { $0["metadata"]["labels"]["uuid"].string == incident }
    }

    /// Drives one incident through the cluster and returns its uuid.
    static func exercise(_ endpoints: LocalLoop.Endpoints, _ emulator: KubernetesEmulator, _ loop: LocalLoop) async throws -> String {
        let alert = try LocalModeEndToEndTests.fixture("alertmanager-firing.json")
        let id = try await endpoints.alert(alert)
        let uuid = id.uuidString.lowercased()

        // One Job per recipe, in the original shape.
        try await waitUntil("three Jobs") { await jobs(emulator, incident: uuid).count == 3 }
        let all = await jobs(emulator, incident: uuid)
        let dummy = try #require(all.first { $0["metadata"]["labels"]["recipe"].string == "dummy" })
        #expect(dummy["metadata"]["name"].string?.hasPrefix("dummy-") == true)
        #expect(dummy["metadata"]["labels"]["app"].string == "euphrosyne")
        #expect(dummy["metadata"]["annotations"]["description"].string == "Proves the loop works")
        #expect(dummy["spec"]["backoffLimit"].int == 0)
        #expect(dummy["spec"]["activeDeadlineSeconds"].int == 300)
        #expect(dummy["metadata"]["ownerReferences"][0]["kind"].string == "ConfigMap")
        let container = dummy["spec"]["template"]["spec"]["containers"][0]
        #expect(dummy["spec"]["template"]["spec"]["restartPolicy"].string == "Never")
        let argv = (container["command"].array ?? []) + (container["args"].array ?? [])
        #expect(argv.compactMap(\.string) == [
            "euphrosyne-recipes", "dummy", "--data-file-path", "/app/data.json", "--aggregator-address", "",
            "--redis-address", argv.last?.string ?? "",
        ])

        // While `slow` runs, /api/status answers from the Jobs.
        let (statusCode, _) = try await endpoints.post(endpoints.api, "/api/status", #"{"uuid":"\#(uuid)"}"#)
        #expect(statusCode == 200)
        try await waitUntil("the Job states at the bot") { !loop.bot.received(path: "/api/status").isEmpty }
        let states = loop.bot.received(path: "/api/status").first?.json?.arrayValue ?? []
        let creations = await emulator.requestLog.filter { $0.method == "POST" && $0.path.hasSuffix("/jobs") }
        #expect(Set(states.compactMap { $0["name"]?.stringValue }) == Set(all.compactMap { $0["metadata"]["name"].string }),
                "Job creations: \(creations)")
        #expect(states.allSatisfy { $0["labels"]?["app"] == .string("euphrosyne") })

        // The crashing recipe is reported as soon as its Job fails, with the end of its log.
        try await waitUntil("the broken Job to fail") {
            await jobs(emulator, incident: uuid).contains { job in
                job["metadata"]["labels"]["recipe"].string == "broken"
                    && (job["status"]["conditions"].array ?? []).contains { $0["type"].string == "Failed" }
            }
        }
        let failedAt = ContinuousClock.now
        try await waitUntil("the broken run to be reported failed", timeout: .seconds(10), pollEvery: .milliseconds(10)) {
            let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
            return runs.contains { $0["recipe"] == .string("broken") && $0["state"] == .string("failed") }
        }
        #expect(ContinuousClock.now - failedAt < .seconds(2))

        // The analysis reaches the bot: the two dummies over Redis, the crash with its reason.
        try await waitUntil("the analysis at the bot", timeout: .seconds(60)) {
            !loop.bot.received(path: "/api/analysis").isEmpty
        }
        let analysis = try #require(loop.bot.received(path: "/api/analysis").first?.json)
        #expect(analysis["actions"] == .array([.string("record")]))
        let text = analysis["analysis"]?.stringValue ?? ""
        #expect(text.contains("dummy: Dummy analysis of PodCrashLooping"), "\(text)")
        #expect(text.contains("broken"), "\(text)")
        #expect(text.contains("disk exploded while reading"), "\(text)")

        // The diagnosis is over: its Jobs and data ConfigMap are cleaned up.
        try await waitUntil("the diagnosis cleaned up") {
            let jobsLeft = await jobs(emulator, incident: uuid)
            let configMaps = await emulator.objects(.configMaps, namespace: namespace)
            return jobsLeft.isEmpty && configMaps.allSatisfy { $0["metadata"]["labels"]["uuid"].string != uuid }
        }

        // An approval runs the action as a Job; its outcome reaches the bot.
        let (approved, _) = try await endpoints.post(endpoints.api, "/api/actions",
                                                     #"{"uuid":"\#(uuid)","actions":[{"name":"record","data":{"ticket":"OPS-42"}}]}"#)
        #expect(approved == 202)
        try await waitUntil("the action outcome at the bot", timeout: .seconds(60)) {
            loop.bot.received(path: "/api/analysis").count == 2
        }
        // RECORD_FILE is under /tmp, which in the pod is its own emptyDir (the root filesystem is read-only): the
        // record is there, where the outcome says it is, not in the test's directory.
        let outcome = loop.bot.received(path: "/api/analysis").last?.json?["analysis"]?.stringValue ?? ""
        let written = try #require(outcome.range(of: #"/\S+/actions\.jsonl"#, options: .regularExpression)
            .map { String(outcome[$0]) }, "\(outcome)")
        #expect(written != loop.recordFile && written.hasSuffix("/actions.jsonl"), "\(written)")
        #expect(try String(contentsOfFile: written, encoding: .utf8).contains(#""ticket":"OPS-42""#))
        try await waitUntil("everything cleaned up") {
            let jobsLeft = await jobs(emulator, incident: uuid)
            let configMaps = await emulator.objects(.configMaps, namespace: namespace)
            return jobsLeft.isEmpty && configMaps.allSatisfy { $0["metadata"]["labels"]["uuid"].string != uuid }
        }

        // The metrics saw the cluster: Jobs and ConfigMaps created, watches opened, runs by outcome.
        let scraped = try await CommandLineTests.scrape(endpoints.webhook)
        #expect((scraped.value("euphrosyne_kubernetes_requests_total", ["verb": "create", "code": "201"]) ?? 0) >= 6,
                "\(scraped.text)")
        #expect((scraped.value("euphrosyne_kubernetes_requests_total", ["verb": "watch"]) ?? 0) >= 3)
        #expect(scraped.value("euphrosyne_kubernetes_requests_total", ["verb": "deletecollection", "code": "200"]) != nil)
        #expect(scraped.value("euphrosyne_recipe_runs_total", ["recipe": "broken", "outcome": "failed"]) == 1)
        #expect(scraped.value("euphrosyne_recipe_runs_total", ["outcome": "reported"]) == 3)

        // The registry was watched, never fetched per alert.
        let registryGets = await emulator.requestLog.filter {
            $0.method == "GET" && $0.path.hasSuffix("/configmaps/orpheus-operator-recipes")
        }
        #expect(registryGets.isEmpty)
        return uuid
    }

    @Test func aDeniedPermissionStopsStartupNamingIt() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let emulator = try await Self.emulator(loop, permissions: Permissions.all
            .denying(verbs: ["deletecollection"], group: "batch", resources: ["jobs"])
            .denying(verbs: ["get"], resources: ["pods/log"]))
        do {
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: Self.namespace)
            let log = loop.directory.appendingPathComponent("serve.log")
            let serve = try ServeProcess.launch(Self.serveArguments(redisPort: 1, botPort: 1),
                                                environment: Self.serveEnvironment(loop), inheritingEnvironment: false,
                                                logFile: log)
            defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
            try await waitUntil("serve to refuse to start", timeout: .seconds(30)) { !serve.isRunning }
            #expect(serve.terminationStatus == 1)
            let text = try String(contentsOf: log, encoding: .utf8)
            let messages = text.split(separator: "\n").compactMap { try? JSONValue.parseObject(Data($0.utf8))["message"]?.stringValue }
            #expect(messages.contains { $0.contains(#"missing Kubernetes permissions: deletecollection jobs.batch in "euphrosyne", get pods/log in "euphrosyne""#) },
                    "\(text)")
        } catch {
            await emulator.stop()
            throw error
        }
        await emulator.stop()
    }
}
