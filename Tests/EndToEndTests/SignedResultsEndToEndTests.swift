import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import Testing

/// Cluster mode with `--require-signed-results`, end to end: the real `euphrosyne serve` against the Kubernetes
/// emulator and a real `redis-server`. A recipe's pod gets its incident's key from a Secret and signs its result; a
/// neighbour on the same Redis publishes forgeries for the same incident (unsigned, and signed with a wrong key),
/// which are refused and counted while the incident finishes with the honest result; the Secret goes with the
/// incident's clean-up.
@Suite struct SignedResultsEndToEndTests {
    static let namespace = ClusterModeEndToEndTests.namespace

    /// `gated` waits for the test's word, then runs the built-in dummy recipe (RecipeKit, which signs).
    static func registry() -> String {
        let data = ["debugging": """
            gated:
              enabled: true
              image: example/gated:1.0
              entrypoint: gated
              description: Waits for the test, then reports
            """]
        let encoded = String(decoding: try! JSONEncoder().encode(data), as: UTF8.self)
        return #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"orpheus-operator-recipes"},"data":"# + encoded + "}"
    }

    static func objects(_ resource: Resource, _ emulator: KubernetesEmulator, incident: String) async -> [JSON] {
        await emulator.objects(resource, namespace: namespace).filter { $0["metadata"]["labels"]["uuid"].string == incident }
    }

    @Test func aSignedResultIsTakenAndANeighboursForgeriesAreRefused() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let image = loop.directory.appendingPathComponent("gated-image")
        let release = loop.directory.appendingPathComponent("release").path
        try FileManager.default.createDirectory(at: image, withIntermediateDirectories: true)
        // The script's own paths are the host's (the kubelet rewrites mounted paths in argv and env only); it gives up
        // once the test's directory is gone, so a failed test leaves no process behind.
        try writeExecutableScript(at: image.appendingPathComponent("gated").path, """
            #!/bin/sh
            while [ ! -f \(release) ]; do [ -d \(loop.directory.path) ] || exit 1; sleep 0.05; done
            exec \(LocalLoop.recipesBinary) dummy "$@"
            """)
        let emulator = try await ClusterModeEndToEndTests.emulator(
            loop, images: ["example/gated:1.0": .init(directory: image.path)])
        do {
            try await emulator.writeKubeconfig(to: loop.directory.appendingPathComponent("kubeconfig").path,
                                               namespace: Self.namespace)
            _ = try await emulator.seed(.configMaps, namespace: Self.namespace, JSON.parse(Self.registry()))
            try await withRedisServer { redis in
                try await RunningServer.with([loop.bot.router]) { botPorts in
                    try await ServeProcess.with(
                        ClusterModeEndToEndTests.serveArguments(redisPort: redis.port, botPort: botPorts[0],
                                                                ["--require-signed-results"]),
                        environment: ClusterModeEndToEndTests.serveEnvironment(loop), inheritingEnvironment: false,
                        directory: loop.directory
                    ) { serve in
                        let endpoints = LocalLoop.Endpoints(webhook: serve.webhookPort, api: serve.apiPort, bot: botPorts[0])
                        try await Self.exercise(endpoints, emulator, redis, loop, release: release)
                        // Refusals are logged with the incident and recipe, never with the key or the signature.
                        let refusals = serve.log.split(separator: "\n").filter { $0.contains("result refused") }
                        #expect(refusals.count == 2, "\(serve.log)")
                        #expect(refusals.allSatisfy { $0.contains(#""recipe":"gated""#) && !$0.contains("sha256=") })
                    }
                }
            }
        } catch {
            await emulator.stop()
            throw error
        }
        await emulator.stop()
    }

    static func exercise(_ endpoints: LocalLoop.Endpoints, _ emulator: KubernetesEmulator, _ redis: RedisServerProcess,
                         _ loop: LocalLoop, release: String) async throws {
        let id = try await endpoints.alert(#"{"check":"signed results"}"#)
        let uuid = id.uuidString.lowercased()

        // The Job reads its key from the Secret beside its data ConfigMap; the spec holds no plain copy.
        try await waitUntil("the Job") { await objects(.jobs, emulator, incident: uuid).count == 1 }
        let job = try #require(await objects(.jobs, emulator, incident: uuid).first)
        let env = job["spec"]["template"]["spec"]["containers"][0]["env"].array ?? []
        let keyVariable = try #require(env.first { $0["name"].string == "EUPHROSYNE_RESULT_KEY" })
        #expect(keyVariable["value"].isNull)
        let secretName = try #require(keyVariable["valueFrom"]["secretKeyRef"]["name"].string)
        #expect(keyVariable["valueFrom"]["secretKeyRef"]["key"].string == "result-key")
        let dataConfigMap = try #require(await objects(.configMaps, emulator, incident: uuid).first)
        #expect(secretName == dataConfigMap["metadata"]["name"].string)
        let secret = try #require(await emulator.object(.secrets, namespace: namespace, name: secretName))
        #expect(secret["metadata"]["ownerReferences"][0]["uid"] == dataConfigMap["metadata"]["uid"])
        let key = String(decoding: Data(base64Encoded: secret["data"]["result-key"].string ?? "") ?? Data(), as: UTF8.self)
        #expect(key.utf8.count == 64)
        #expect(!job.serialized().contains(key))
        #expect(job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"].bool == true)
        #expect(job["spec"]["template"]["spec"]["automountServiceAccountToken"].bool == false)

        // A neighbour on the same Redis publishes for this incident and this recipe while it runs: once unsigned, once
        // signed with a key that is not the incident's.
        try await waitUntil("the reconciler to listen on the incident's channel") {
            try await redis.cli(["PUBSUB", "NUMSUB", uuid]).split(separator: "\n").last == "1"
        }
        let forged = RecipeResult(incident: uuid, name: "gated", status: .successful,
                                  results: .init(actions: ["delete-everything"], analysis: "forged by a neighbour"))
        for message in [forged, ResultSignature.signed(forged, key: String(key.reversed()))] {
            let receivers = try await redis.cli(["PUBLISH", uuid, String(decoding: message.encoded(), as: UTF8.self)])
            #expect(receivers.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        }
        try await waitUntil("both forgeries refused and counted") {
            let scraped = try await CommandLineTests.scrape(endpoints.webhook)
            return scraped.value("euphrosyne_results_refused_total", ["reason": "unsigned"]) == 1
                && scraped.value("euphrosyne_results_refused_total", ["reason": "bad_signature"]) == 1
        }
        let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
        #expect(runs.map { $0["state"]?.stringValue } == ["running"], "\(runs)")

        // The recipe itself reports, signed with the key from its Secret: the incident finishes with that.
        _ = FileManager.default.createFile(atPath: release, contents: nil)
        try await waitUntil("the analysis at the bot", timeout: .seconds(60)) {
            !loop.bot.received(path: "/api/analysis").isEmpty
        }
        let analysis = try #require(loop.bot.received(path: "/api/analysis").first?.json)
        let text = analysis["analysis"]?.stringValue ?? ""
        #expect(text.contains("gated: Dummy analysis"), "\(text)")
        #expect(!text.contains("forged"), "\(text)")
        #expect(analysis["actions"]?.arrayValue?.contains(.string("delete-everything")) != true)
        #expect(try await endpoints.incident(id)["runs"]?.arrayValue?.first?["state"] == .string("reported"))

        // The diagnosis is over: Job, data ConfigMap and the key's Secret are gone.
        try await waitUntil("the diagnosis cleaned up") {
            let jobs = await objects(.jobs, emulator, incident: uuid)
            let configMaps = await objects(.configMaps, emulator, incident: uuid)
            let secrets = await objects(.secrets, emulator, incident: uuid)
            return jobs.isEmpty && configMaps.isEmpty && secrets.isEmpty
        }
        let scraped = try await CommandLineTests.scrape(endpoints.webhook)
        #expect(scraped.value("euphrosyne_results_refused_total") == 2)
    }
}
