import AsyncHTTPClient
import EuphrosyneApp
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore

/// The reconciler in local mode, built by `ReconcilerApp` from settings as `euphrosyne serve --local` builds it, with
/// real recipe processes, both listeners on OS-picked loopback ports and a fake bot — for end-to-end tests in
/// process.
struct LocalLoop {
    let directory: URL
    let bot = FakeBot()

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("euphrosyne-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Where `swift build` put the executables: beside this test binary.
    static var productsDirectory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }

    static var recipesBinary: String { productsDirectory + "/euphrosyne-recipes" }

    /// Writes an executable script recipe and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try writeExecutableScript(at: url.path, "#!/bin/sh\n" + body + "\n")
        return url.path
    }

    var recordFile: String { directory.appendingPathComponent("actions.jsonl").path }

    struct Endpoints: Sendable {
        var webhook: Int
        var api: Int
        var bot: Int
        let client = HTTPClient.shared

        func post(_ port: Int, _ path: String, _ body: String) async throws -> (status: Int, json: [String: JSONValue]) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            return (Int(response.status.code), (try? JSONValue.parseObject(data)) ?? [:])
        }

        func get(_ port: Int, _ path: String) async throws -> [String: JSONValue] {
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"),
                                                    timeout: .seconds(30))
            return try JSONValue.parseObject(Data(try await response.body.collect(upTo: 16 << 20).readableBytesView))
        }

        func alert(_ payload: String) async throws -> UUID {
            let (status, json) = try await post(webhook, "/webhook", payload)
            guard status == 202, let id = json["uuid"]?.stringValue.flatMap(UUID.init(uuidString:)) else {
                throw TestTimeout(what: "an accepted alert (got \(status) \(json))")
            }
            return id
        }

        func incident(_ id: UUID) async throws -> [String: JSONValue] {
            try await get(api, "/api/incidents/\(id.uuidString.lowercased())")
        }

        func waitForState(_ id: UUID, _ state: String, timeout: Duration = .seconds(60)) async throws {
            do {
                try await waitUntil("incident \(id) to reach \(state)", timeout: timeout, pollEvery: .milliseconds(50)) {
                    try await incident(id)["state"] == .string(state)
                }
            } catch let error as TestTimeout {
                // Say where it got stuck: the incident as the API shows it.
                let seen = (try? await incident(id)).map { "\($0["state"] ?? .null) runs: \($0["runs"] ?? .null)" } ?? "?"
                throw TestTimeout(what: "\(error.what); last seen \(seen)")
            }
        }
    }

    /// Runs the reconciler with this registry (YAML in the ConfigMap format) while `body` runs. With `redis`, it
    /// runs as `serve --local --redis-address` does: results over Redis too, incidents in Redis, recipes left
    /// running across a restart.
    /// With `webex`, the built-in Webex integration posts to that fake Webex too (room `ROOM-OPS`), beside the bot.
    func run<T: Sendable>(
        registry: String, defaultTimeout: Int = 60, redis: RedisServerProcess? = nil, webex: FakeWebex? = nil,
        drainTimeout: Duration = .seconds(5), _ body: @Sendable (Endpoints) async throws -> T
    ) async throws -> T {
        let (_, problems) = RecipeCatalog.load(yaml: registry)
        guard problems.isEmpty else { throw TestTimeout(what: "a clean registry, got \(problems)") }
        let registryFile = directory.appendingPathComponent("recipes-\(UUID().uuidString.prefix(8)).yaml").path
        try registry.write(toFile: registryFile, atomically: true, encoding: .utf8)
        let logger = { var logger = Logger(label: "e2e"); logger.logLevel = .warning; return logger }()
        // The fake bot first: the reconciler is given its URL, as `serve --webex-bot-address` is.
        return try await RunningServer.with([bot.router] + (webex.map { [$0.router] } ?? [])) { botPorts in
            var options = ServeOptions()
            options.local = true
            options.recipes = registryFile
            options.webexBotAddress = "http://127.0.0.1:\(botPorts[0])"
            options.redisAddress = redis.map { "127.0.0.1:\($0.port)" }
            options.recipeTimeout = defaultTimeout
            options.host = "127.0.0.1"
            options.webhookPort = 0
            options.apiPort = 0
            options.logLevel = "warning"
            var environment: [String: String] = [:]
            if let webex {
                options.webexRoom = "ROOM-OPS"
                options.webexApiUrl = FakeWebex.baseURL(port: botPorts[1])
                environment["WEBEX_TOKEN"] = webex.botToken
            }
            var settings = try ServeSettings(options: options, environment: environment)
            settings.drainTimeout = drainTimeout
            let ports = PortCollector(count: 2)
            let reconciler = try ReconcilerApp.build(
                settings: settings, logger: logger,
                hooks: .init(webhookListening: { await ports.set(0, $0) }, apiListening: { await ports.set(1, $0) }),
                shutsDownOnSignals: false
            )
            return try await RunningServer.with(services: [reconciler], ports: ports, logger: logger) { ports in
                try await body(Endpoints(webhook: ports[0], api: ports[1], bot: botPorts[0]))
            }
        }
    }
}
