import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneSupport
import Foundation
import Hummingbird
import Logging
import Synchronization

/// A server under test running as a child process: the release `euphrosyne serve`, or the hello world below.
/// Both run apart from the load generators (wrk, our open-loop client), the way a deployment would.
struct ServerProcess {
    let process: ChildProcess
    /// The port answering `/readyz` (and, for both, `POST /webhook`).
    let port: Int
    /// `serve`'s API listener; nil for the hello world.
    let apiPort: Int?
    let spawnedAt: ContinuousClock.Instant

    /// `euphrosyne serve` with `arguments` after the listener options, on loopback ports of its own.
    static func serve(_ arguments: [String], environment: [String: String], log: String? = nil) async throws -> ServerProcess {
        let webhook = try freePort()
        var api = try freePort()
        while api == webhook { api = try freePort() }
        let spawnedAt = ContinuousClock.now
        let process = try await ChildProcess.spawn(
            executable: try product("euphrosyne"),
            arguments: ["serve", "--host", "127.0.0.1", "--webhook-port", "\(webhook)", "--api-port", "\(api)"] + arguments,
            environment: environment, standardError: log
        )
        return ServerProcess(process: process, port: webhook, apiPort: api, spawnedAt: spawnedAt)
    }

    /// The reference: a Hummingbird 2 hello world (this executable with `--serve-hello`).
    static func hello(environment: [String: String]) async throws -> ServerProcess {
        let port = try freePort()
        let spawnedAt = ContinuousClock.now
        let process = try await ChildProcess.spawn(
            executable: try product("euphrosyne-bench"), arguments: ["--serve-hello", "\(port)"], environment: environment
        )
        return ServerProcess(process: process, port: port, apiPort: nil, spawnedAt: spawnedAt)
    }

    /// Time from spawn to the first 200 from `/readyz`.
    @discardableResult
    func waitUntilReady() async throws -> Duration {
        try await pollReadyz(port: port, process: process, since: spawnedAt)
    }

    var memory: Memory? { Memory.of(process.pid) }

    var webhookURL: String { url("/webhook") }

    /// The address of `path` on this server.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func stop() async { await process.stop(grace: .seconds(30)) }
}

/// The reference server of the webhook and start-up rows: Hummingbird 2, the HTTP stack of our listeners, with
/// nothing behind it — `POST /webhook` answers a constant without looking at the body, `/readyz` answers 200.
/// `POST /parse` is the floor of any alert intake on this stack: it reads the body and parses it with our JSON
/// parser, then answers a constant.
enum HelloServer {
    static func run(port: Int) async throws {
        var logger = Logger(label: "hello")
        logger.logLevel = .warning
        let router = Router(context: BasicRequestContext.self)
        router.post("/webhook") { _, _ in "Hello, world!" }
        router.post("/parse") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            _ = try body.withUnsafeReadableBytes { try JSONParser.parse($0) }
            return "parsed"
        }
        router.get("/readyz") { _, _ in "ready" }
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hello"),
            logger: logger
        )
        try await application.runService()
    }
}

/// Stands in for the chat bot and for a reconciler's result callback, in this process: records when each
/// incident's analysis arrived (`POST /api/analysis`), and counts results posted to `/results/{uuid}/{secret}`.
final class Peer: Sendable {
    private let analyses = Mutex<[String: (at: ContinuousClock.Instant, text: String)]>([:])
    private let resultCount = Atomic<Int>(0)

    /// Incident uuid → when its first analysis arrived.
    var analysisTimes: [String: ContinuousClock.Instant] { analyses.withLock { $0.mapValues(\.at) } }
    var analysisCount: Int { analyses.withLock { $0.count } }
    /// How many analyses contain `text`.
    func analysesContaining(_ text: String) -> Int { analyses.withLock { $0.values.filter { $0.text.contains(text) }.count } }
    var results: Int { resultCount.load(ordering: .relaxed) }

    var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/api/analysis") { [self] request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let now = ContinuousClock.now
            let json = (try? JSONValue.parseObject(Data(body.readableBytesView))) ?? [:]
            if let uuid = json["uuid"]?.stringValue {
                let text = json["analysis"]?.stringValue ?? ""
                analyses.withLock { if $0[uuid] == nil { $0[uuid] = (now, text) } }
            }
            return .ok
        }
        router.post("/api/status") { _, _ -> HTTPResponse.Status in .ok }
        router.post("/results/{uuid}/{secret}") { [self] request, _ -> HTTPResponse.Status in
            _ = try await request.body.collect(upTo: 1 << 20)
            resultCount.add(1, ordering: .relaxed)
            return .accepted
        }
        return router
    }
}

/// Alert notifications as Alertmanager sends them (webhook version 4), one alert each.
enum Alerts {
    /// A firing notification of group `alertname`/`instance`; ~700 bytes like a real one.
    static func firing(alertname: String, instance: String) -> String {
        #"{"receiver":"euphrosyne","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"\#(alertname)","instance":"\#(instance)","namespace":"shop","severity":"critical"},"annotations":{"runbook":"restart-api","summary":"api pod restarting"},"startsAt":"2026-11-28T21:13:44.511671691Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example/graph?g0.expr=up","fingerprint":"09f827451c0fe9f3"}],"groupLabels":{"alertname":"\#(alertname)","instance":"\#(instance)"},"commonLabels":{"alertname":"\#(alertname)","instance":"\#(instance)","namespace":"shop","severity":"critical"},"commonAnnotations":{"runbook":"restart-api"},"externalURL":"http://alertmanager.example:9093","version":"4","groupKey":"{}:{alertname=\"\#(alertname)\", instance=\"\#(instance)\"}","truncatedAlerts":0}"#
    }

    /// A recipe registry (the ConfigMap manifest, as `--recipes` takes it) with the `dummy` recipe, run for alerts
    /// named `alertname`.
    static func registry(debuggingFor alertname: String, suggest: String = "") -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: orpheus-operator-recipes
        data:
          debugging: |
            dummy:
              enabled: true
              image: "euphrosyne/recipes:latest"
              entrypoint: "euphrosyne-recipes dummy"
              match: 'alertname="\(alertname)"'
              timeout: 120s
              env:
                DUMMY_SUGGEST: "\(suggest)"
          actions: |
            record:
              enabled: true
              image: "euphrosyne/recipes:latest"
              entrypoint: "euphrosyne-recipes record"
              env:
                RECORD_FILE: /dev/null
        """
    }
}
