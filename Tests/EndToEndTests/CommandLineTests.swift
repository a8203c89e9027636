import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

/// The `euphrosyne` binary as a user runs it: `serve --local`, `alert`, `approve`, `incidents`,
/// `recipes validate`, and a clean stop on SIGTERM.
@Suite struct CommandLineTests {
    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var euphrosyne: String { LocalLoop.productsDirectory + "/euphrosyne" }

    /// Runs the CLI to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Finished {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: euphrosyne)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        try await waitUntil("euphrosyne \(arguments.first ?? "") to exit", timeout: .seconds(60)) { !process.isRunning }
        return Finished(status: process.terminationStatus,
                        stdout: try String(contentsOf: out, encoding: .utf8),
                        stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// A `/metrics` page, read back.
    struct Scrape: Sendable {
        var text: String

        /// The value of the sample `name` whose labels include `labels`, summed over the rest.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            var total: Double?
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                guard parts.count >= 2, let number = Double(parts[parts.count - 1]) else { continue }
                let series = parts.dropLast().joined(separator: " ")
                let sampleName = series.split(separator: "{").first.map(String.init) ?? series
                guard sampleName == name else { continue }
                var found: [String: String] = [:]
                if let open = series.firstIndex(of: "{"), let close = series.lastIndex(of: "}") {
                    for pair in series[series.index(after: open)..<close].split(separator: ",") {
                        let keyValue = pair.split(separator: "=", maxSplits: 1)
                        if keyValue.count == 2 { found[String(keyValue[0])] = keyValue[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                    }
                }
                guard labels.allSatisfy({ found[$0.key] == $0.value }) else { continue }
                total = (total ?? 0) + number
            }
            return total
        }
    }

    static func scrape(_ port: Int) async throws -> Scrape {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"),
                                                           timeout: .seconds(10))
        #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        return Scrape(text: String(buffer: try await response.body.collect(upTo: 4 << 20)))
    }

    /// The port a listener reported in the log, text (`port=NNN`) or JSON (`"port":"NNN"`).
    static func port(named listener: String, in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("\(listener) listener ready") {
            if line.hasPrefix("{"), let object = try? JSONValue.parseObject(Data(line.utf8)),
               let port = object["port"]?.stringValue.flatMap(Int.init) {
                return port
            }
            if let range = line.range(of: #"port=(\d+)"#, options: .regularExpression) {
                return Int(line[range].dropFirst("port=".count))
            }
        }
        return nil
    }

    @Test func serveRunsTheLoopAndStopsCleanlyOnSIGTERM() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = loop.directory.appendingPathComponent("recipes.yaml").path
        try LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile)
            .write(toFile: registryPath, atomically: true, encoding: .utf8)
        let alertPath = try #require(Bundle.module.url(forResource: "alertmanager-firing", withExtension: "json",
                                                       subdirectory: "Fixtures")).path
        try await RunningServer.with([loop.bot.router]) { botPorts in
            let stopped = try await ServeProcess.with(
                ["--local", "--recipes", registryPath, "--webex-bot-address", "http://127.0.0.1:\(botPorts[0])"],
                directory: loop.directory
            ) { serve in
                let webhook = serve.webhookPort, api = serve.apiPort

                let alert = try await Self.run(["alert", alertPath, "--webhook-url", "http://127.0.0.1:\(webhook)"])
                #expect(alert.status == 0, "\(alert.stderr)")
                let id = try #require(try JSONValue.parseObject(Data(alert.stdout.utf8))["uuid"]?.stringValue)

                try await waitUntil("the analysis at the bot") { !loop.bot.received(path: "/api/analysis").isEmpty }
                let shown = try await Self.run(["incidents", id, "--api-url", "http://127.0.0.1:\(api)"])
                #expect(shown.stdout.contains("incident \(id): analysed"))
                #expect(shown.stdout.contains("suggested actions: record"))

                let refused = try await Self.run(["approve", id, "jira", "--api-url", "http://127.0.0.1:\(api)"])
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("action \"jira\" is not a registered action recipe"))

                let approved = try await Self.run(["approve", id, "record", "--data", "ticket=OPS-9",
                                                   "--api-url", "http://127.0.0.1:\(api)"])
                #expect(approved.status == 0, "\(approved.stderr)")
                try await waitUntil("the action outcome at the bot") { loop.bot.received(path: "/api/analysis").count == 2 }
                #expect(try String(contentsOfFile: loop.recordFile, encoding: .utf8).contains(#""ticket":"OPS-9""#))

                let listed = try await Self.run(["incidents", "--api-url", "http://127.0.0.1:\(api)"])
                #expect(listed.stdout.contains(id) && listed.stdout.contains("done"))

                // The group resolves: the incident says so, and so does the bot.
                let resolvedPath = try #require(Bundle.module.url(forResource: "alertmanager-resolved", withExtension: "json",
                                                                  subdirectory: "Fixtures")).path
                let resolved = try await Self.run(["alert", resolvedPath, "--webhook-url", "http://127.0.0.1:\(webhook)"])
                let answer = try JSONValue.parseObject(Data(resolved.stdout.utf8))
                #expect(answer["outcome"] == .string("resolved") && answer["uuid"] == .string(id), "\(resolved.stdout)")
                try await waitUntil("the resolve at the bot") { loop.bot.received(path: "/api/analysis").count == 3 }
                let told = loop.bot.received(path: "/api/analysis").last?.json
                #expect(told?["analysis"]?.stringValue?.hasPrefix("Resolved: PodCrashLooping") == true)
                #expect(told?["actions"] == .array([]))

                // The counters moved as the incident went: scraped from both listeners, in Prometheus' format.
                let scraped = try await Self.scrape(api)
                #expect(scraped.value("euphrosyne_incidents_opened_total") == 1, "\(scraped.text)")
                #expect(scraped.value("euphrosyne_notifications_received_total") == 2)
                #expect(scraped.value("euphrosyne_incidents_resolved_total") == 1)
                #expect(scraped.value("euphrosyne_recipe_runs_total", ["recipe": "dummy", "outcome": "reported"]) == 1)
                #expect(scraped.value("euphrosyne_recipe_runs_total", ["recipe": "record", "kind": "action"]) == 1)
                #expect(scraped.value("euphrosyne_recipe_run_duration_seconds_count", ["recipe": "dummy"]) == 1)
                #expect(scraped.value("euphrosyne_approvals_total", ["outcome": "accepted"]) == 1)
                #expect(scraped.value("euphrosyne_approvals_total", ["outcome": "rejected"]) == 1)
                #expect(scraped.value("euphrosyne_notifications_sent_total", ["kind": "analysis", "outcome": "delivered"]) == 1)
                #expect(scraped.value("euphrosyne_incidents_closed_total", ["state": "resolved"]) == 1)
                #expect(scraped.value("euphrosyne_http_requests_total", ["listener": "webhook", "route": "/webhook", "status": "202"]) == 2)
                #expect(scraped.value("euphrosyne_runs_in_flight") == 0)
                #expect(scraped.value("euphrosyne_intake_queue_depth") == 0)
                #expect(try await Self.scrape(webhook).value("euphrosyne_incidents_opened_total") == 1)
                return serve
            }
            // Stopped by SIGTERM, with status 0 (ServeProcess checks), after draining.
            #expect(stopped.log.contains("draining"))
        }
    }

    @Test func serveExplainsBadConfiguration() async throws {
        let missing = try await Self.run(["serve", "--local", "--recipes", "/nonexistent/recipes.yaml",
                                          "--webhook-port", "0", "--api-port", "0"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read the recipe registry /nonexistent/recipes.yaml"))
        let badPort = try await Self.run(["serve", "--local", "--recipes", "x", "--webhook-port", "70000"])
        #expect(badPort.status != 0)
        #expect(badPort.stderr.contains("WEBHOOK_PORT must be between 0 and 65535"))
        let badSecret = try await Self.run(["serve", "--local", "--recipes", "x"],
                                           environment: ["RECIPE_REDIS_SECRET": "Redis_Secret"])
        #expect(badSecret.status != 0)
        #expect(badSecret.stderr.contains(#"RECIPE_REDIS_SECRET must be a Secret name (a DNS-1123 subdomain), not "Redis_Secret""#))
        // The settings of recipe integrity are documented in the help, with their variables.
        let help = try await Self.run(["serve", "--help"])
        for text in ["--require-signed-results", "REQUIRE_SIGNED_RESULTS=1", "--recipe-redis-secret", "RECIPE_REDIS_SECRET",
                     "--recipe-redis-username", "RECIPE_REDIS_USERNAME"] {
            #expect(help.stdout.contains(text), "\(text)")
        }
    }

    @Test func serveWithAPITokensRefusesAnonymousCallsAndTheCLISendsEUPHROSYNE_API_TOKEN() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = loop.directory.appendingPathComponent("recipes.yaml").path
        try LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile)
            .write(toFile: registryPath, atomically: true, encoding: .utf8)
        let tokensPath = loop.directory.appendingPathComponent("tokens").path
        try "# name:token\nops:s3cret-ops-token\n".write(toFile: tokensPath, atomically: true, encoding: .utf8)
        let stopped = try await ServeProcess.with(["--local", "--recipes", registryPath, "--api-tokens-file", tokensPath],
                                                  directory: loop.directory) { serve in
            let url = serve.apiURL

            let anonymous = try await Self.run(["incidents", "--api-url", url])
            #expect(anonymous.status == 1)
            #expect(anonymous.stderr.contains("401"), "\(anonymous.stderr)")
            let wrong = try await Self.run(["incidents", "--api-url", url], environment: ["EUPHROSYNE_API_TOKEN": "guess"])
            #expect(wrong.status == 1)
            let authorised = try await Self.run(["incidents", "--api-url", url],
                                                environment: ["EUPHROSYNE_API_TOKEN": "s3cret-ops-token"])
            #expect(authorised.status == 0, "\(authorised.stderr)")
            return serve
        }
        let text = stopped.log
        #expect(text.contains("API authentication on") && text.contains("ops"))
        #expect(!text.contains("s3cret-ops-token"), "a secret reached the log")
    }

    @Test func localModeListensOnLoopbackByDefaultAndWarnsOfWhatIsOpen() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = loop.directory.appendingPathComponent("recipes.yaml").path
        try LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile)
            .write(toFile: registryPath, atomically: true, encoding: .utf8)
        let stopped = try await ServeProcess.with(["--local", "--recipes", registryPath], host: nil,
                                                  directory: loop.directory) { serve in
            // Nothing refused on the way in: a well-behaved client is not touched by the guards.
            let scraped = try await Self.scrape(serve.webhookPort)
            #expect(scraped.value("euphrosyne_http_refused_total") == nil)
            return serve
        }
        let ready = stopped.log.split(separator: "\n").filter { $0.contains("listener ready") }
        #expect(ready.count == 2 && ready.allSatisfy { $0.contains("host=127.0.0.1") }, "\(stopped.log)")
        #expect(stopped.log.contains("the API listener is open"))
        #expect(stopped.log.contains("the webhook listener is open"))
    }

    @Test func serveExplainsABadCredentialsFileWithoutShowingIt() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString.prefix(8))").path
        try "only-a-secret-value\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bad = try await Self.run(["serve", "--local", "--recipes", "x", "--api-tokens-file", path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("\(path), entry 1: expected name:secret"), "\(bad.stderr)")
        #expect(!bad.stderr.contains("only-a-secret-value"))
        // A file that is there but holds no entry would leave the API open: refused.
        let emptyPath = path + "-empty"
        try "# nobody yet\n".write(toFile: emptyPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: emptyPath) }
        let empty = try await Self.run(["serve", "--local", "--recipes", "x", "--api-tokens-file", emptyPath])
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("holds no name:secret entry; refusing to run with the listener open"), "\(empty.stderr)")
        let missing = try await Self.run(["serve", "--local", "--recipes", "x", "--api-hmac-keys-file", "/nonexistent/keys"])
        #expect(missing.stderr.contains("cannot read API_HMAC_KEYS_FILE file /nonexistent/keys"), "\(missing.stderr)")
    }

    @Test func serveExplainsABadWebexConfiguration() async throws {
        let cases: [([String: String], String)] = [
            (["WEBEX_TOKEN": "t0ken-value"], "needs the room to post in: --webex-room (WEBEX_ROOM_ID)"),
            (["WEBEX_ROOM_ID": "R"], "needs the bot token: set WEBEX_TOKEN or WEBEX_TOKEN_FILE"),
            (["WEBEX_TOKEN": "t0ken-value", "WEBEX_ROOM_ID": "R", "WEBEX_WEBHOOK_URL": "ftp://x"],
             "WEBEX_WEBHOOK_URL must be an http(s) URL"),
        ]
        for (environment, message) in cases {
            let run = try await Self.run(["serve", "--local", "--recipes", "x"], environment: environment)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(environment): \(run.stderr)")
            #expect(!run.stderr.contains("t0ken-value"))
        }
    }

    @Test func serveExplainsABadSlackConfiguration() async throws {
        let cases: [([String: String], String)] = [
            (["SLACK_BOT_TOKEN": "xoxb-t0ken-value"], "needs the channel to post in: --slack-channel (SLACK_CHANNEL)"),
            (["SLACK_CHANNEL": "C0123ALERTS"], "needs the bot token: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE"),
            (["SLACK_BOT_TOKEN": "xoxp-t0ken-value", "SLACK_CHANNEL": "C0123ALERTS"], "must be the app's bot token (xoxb-…)"),
            (["SLACK_BOT_TOKEN": "xoxb-t0ken-value", "SLACK_CHANNEL": "C0123ALERTS", "SLACK_API_URL": "ftp://x"],
             "SLACK_API_URL must be an http(s) URL"),
            (["SLACK_BOT_TOKEN": "xoxb-t0ken-value", "SLACK_CHANNEL": "C0123ALERTS", "SLACK_SIGNING_SECRET_FILE": "/nonexistent/secret"],
             "cannot read SLACK_SIGNING_SECRET_FILE file /nonexistent/secret"),
        ]
        for (environment, message) in cases {
            let run = try await Self.run(["serve", "--local", "--recipes", "x"], environment: environment)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(environment): \(run.stderr)")
            #expect(!run.stderr.contains("t0ken-value"))
        }
    }

    @Test func serveExplainsABadRoutesFile() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let routes = loop.directory.appendingPathComponent("routes.yaml").path
        let slack = ["SLACK_BOT_TOKEN": "xoxb-t0ken-value", "SLACK_CHANNEL": "C0123ALERTS"]
        let cases: [(String?, [String: String], String)] = [
            (nil, slack, "cannot read the chat routes file"),
            ("routes:\n  - match: 'team=~\"(\"'\n    slack: C1\n", slack, "route 1: \"match\""),
            ("routes:\n  - match: 'team=\"web\"'\n", slack, "route 1: names no destination"),
            ("routes:\n  - webex: ROOM-WEB\n", slack, "route 1 names a Webex room, but Webex is not configured"),
        ]
        for (text, environment, message) in cases {
            try? FileManager.default.removeItem(atPath: routes)
            if let text { try text.write(toFile: routes, atomically: true, encoding: .utf8) }
            let run = try await Self.run(["serve", "--local", "--recipes", "x", "--chat-routes-file", routes], environment: environment)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(text ?? "no file"): \(run.stderr)")
        }
    }

    @Test func recipesValidateListsEveryProblem() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let bad = loop.directory.appendingPathComponent("bad.yaml").path
        try """
            debugging:
              Bad_Name:
                enabled: true
                entrypoint: "x"
              fine:
                enabled: true
                entrypoint: "euphrosyne-recipes dummy"
              broken:
                enabled: "yes"
                entrypoint: "x"
            actions:
              jira:
                enabled: true
            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try await Self.run(["recipes", "validate", bad])
        #expect(result.status == 1)
        #expect(result.stdout.contains("debugging fine: enabled"))
        #expect(result.stdout.contains("\"Bad_Name\""))
        #expect(result.stdout.contains("\"broken\""))
        #expect(result.stdout.contains("\"jira\""))
        #expect(result.stdout.contains("3 problems found"))

        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/recipes.yaml").path
        let good = try await Self.run(["recipes", "validate", examples])
        #expect(good.status == 0, "\(good.stdout)")
        #expect(good.stdout.contains("ok (1 debugging, 3 action recipes)"))
    }

    @Test func readinessIsFalseWhileRedisIsUnreachable() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registryPath = loop.directory.appendingPathComponent("recipes.yaml").path
        try LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile)
            .write(toFile: registryPath, atomically: true, encoding: .utf8)
        let log = loop.directory.appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let deadRedis = try RedisServerProcess.freePort()

        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: Self.euphrosyne)
        serve.arguments = ["serve", "--local", "--recipes", registryPath, "--host", "127.0.0.1", "--webhook-port", "0",
                           "--api-port", "0", "--redis-address", "127.0.0.1:\(deadRedis)"]
        serve.standardError = try FileHandle(forWritingTo: log)
        serve.standardOutput = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }  // only when the test failed before its own SIGTERM
        try await waitUntil("the API listener") {
            Self.port(named: "API", in: try String(contentsOf: log, encoding: .utf8)) != nil || !serve.isRunning
        }
        let api = try #require(Self.port(named: "API", in: try String(contentsOf: log, encoding: .utf8)))
        let endpoints = LocalLoop.Endpoints(webhook: 0, api: api, bot: 0)
        let ready = try await endpoints.get(api, "/readyz")
        #expect(ready["status"] == .string("not ready"))
        #expect(ready["problems"]?["redis"] == .string("Redis is unreachable"))
        let healthy = try await endpoints.get(api, "/healthz")
        #expect(healthy["status"] == .string("ok"))
        kill(serve.processIdentifier, SIGTERM)
        try await waitUntil("serve to stop", timeout: .seconds(30)) { !serve.isRunning }
    }
}
