import AsyncHTTPClient
import EuphrosyneSupport
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private, real Prometheus (Debian's `prometheus`, 2.42) for one test, scraping itself every second and
/// evaluating a small rule file every second, so it has series and firing alerts a few seconds after it starts.
///
/// Started on a free loopback port (Prometheus cannot listen on port 0: a port is probed, and the start retried on
/// another when Prometheus logs "address already in use" or another server answers there), with its TSDB, its
/// configuration and its log (`prometheus.log`) in a temp directory of its own; ready once `GET /-/ready` answers
/// 200, the server on the port is this one (its `storage.tsdb.path` flag is our directory), and the first scrape
/// is stored (`up` is not empty). Stopped (SIGTERM, then SIGKILL) and its directory removed by ``stop()``. Tests
/// always stop what they start, and never use a system Prometheus (Debian's package may run one on :9090).
///
/// Start-up takes about 6 s, nearly all of it Prometheus's scrape manager, which applies its targets on a 5 s tick.
///
/// The default rules (``defaultRules(startedAt:)``):
/// - `euphrosyne_test_seconds{job="prometheus"}`: seconds since the start, a recording rule: a series that rises
///   by one a second from the start, before the first scrape;
/// - `PrometheusUp` (`up == 1`, label `severity="info"`), `PrometheusScraped` (`up{job="prometheus"} > 0`): alerts
///   for the server's own job and instance that fire at the evaluation after the first scrape;
/// - `AlwaysFiring` (`vector(1)`): an alert with neither `job` nor `instance`.
public actor PrometheusProcess {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        /// Another server had the port, so a retry on another port may succeed.
        var portTaken = false
    }

    public nonisolated let port: Int
    public nonisolated let directory: URL
    /// When the process was started; `euphrosyne_test_seconds` counts from it.
    public nonisolated let startedAt: Date
    public nonisolated var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The `instance` label of the server's own scrape target.
    public nonisolated var instance: String { "127.0.0.1:\(port)" }
    /// Where Prometheus's standard output and error go (its log, as logfmt lines).
    public nonisolated var logFile: URL { directory.appendingPathComponent("prometheus.log") }
    private let binary: String
    private let rules: String?
    private var process: ChildProcess?

    private init(binary: String, port: Int, directory: URL, rules: String?) {
        self.binary = binary
        self.port = port
        self.directory = directory
        self.rules = rules
        startedAt = Date()
    }

    /// Last resort for a test that failed before its ``stop()``: the server must not outlive the test process.
    deinit {
        process?.signalGroup(SIGKILL)
    }

    /// Starts a Prometheus with `rules` as its rule file (nil: ``defaultRules(startedAt:)``), retrying on another
    /// port in the rare case the free port was taken between probing and binding.
    public static func start(rules: String? = nil) async throws -> PrometheusProcess {
        try await start(rules: rules, nextPort: { try RedisServerProcess.freePort() })
    }

    /// `start(rules:)` with the ports to try given (a test of the retry offers a taken one first).
    static func start(rules: String?, nextPort: () throws -> Int) async throws -> PrometheusProcess {
        guard let binary = try? RedisServerProcess.executable(named: "prometheus") else {
            throw StartError(description: "prometheus not found on PATH or in /usr/bin: install it (apt-get install prometheus; scripts/test does)")
        }
        return try await startOnFreePort(
            name: "prometheus", nextPort: nextPort,
            make: { PrometheusProcess(binary: binary, port: $0, directory: $1, rules: rules) },
            launch: { try await $0.launch() }, stop: { await $0.stop() },
            isPortTaken: { ($0 as? StartError)?.portTaken == true }
        )
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a deadline) and removes its directory.
    public func stop() async {
        await terminate(signal: SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    public var isRunning: Bool { process.map { !$0.hasExited } ?? false }

    /// The rule file the server gets by default (see the type's documentation).
    public static func defaultRules(startedAt: Date) -> String {
        let start = Int64(startedAt.timeIntervalSince1970.rounded(.down))
        return """
        groups:
          - name: euphrosyne-test
            interval: 1s
            rules:
              - record: euphrosyne_test_seconds
                expr: vector(time() - \(start))
                labels:
                  job: prometheus
              - alert: PrometheusUp
                expr: up == 1
                labels:
                  severity: info
                annotations:
                  summary: "{{ $labels.instance }} is up"
              - alert: PrometheusScraped
                expr: up{job="prometheus"} > 0
                annotations:
                  summary: "{{ $labels.instance }} was scraped"
              - alert: AlwaysFiring
                expr: vector(1)

        """
    }

    /// Polls the instant query `expression` until its result is not empty, or throws after `timeout`: how a test
    /// waits for an alert to fire (`ALERTS{alertname="PrometheusScraped", alertstate="firing"}`) without sleeping.
    public nonisolated func waitForResult(of expression: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            if let answer = await get("/api/v1/query?query=" + Self.encoded(expression)) {
                last = answer.body
                if answer.status == 200, !answer.body.contains("\"result\":[]") { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw StartError(description: "\(expression) had no result within \(timeout) on \(baseURL): \(last.prefix(300))")
    }

    /// The end of the server's log (at most `maxCharacters`), for failure messages.
    public nonisolated func logTail(maxCharacters: Int = 2_000) -> String {
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return String(log.suffix(maxCharacters))
    }

    private func launch() async throws {
        let configFile = directory.appendingPathComponent("prometheus.yml")
        let rulesFile = directory.appendingPathComponent("rules.yml")
        let storage = directory.appendingPathComponent("data")
        try (rules ?? Self.defaultRules(startedAt: startedAt)).write(to: rulesFile, atomically: true, encoding: .utf8)
        try """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        rule_files:
          - \(Self.quoted(rulesFile.path))
        scrape_configs:
          - job_name: prometheus
            static_configs:
              - targets: ["\(instance)"]

        """.write(to: configFile, atomically: true, encoding: .utf8)
        let process = try await ChildProcess.spawn(
            executable: binary,
            arguments: [
                "--config.file=\(configFile.path)", "--storage.tsdb.path=\(storage.path)",
                "--storage.tsdb.retention.time=1h", "--web.listen-address=\(instance)",
            ],
            environment: ProcessInfo.processInfo.environment,
            standardOutput: logFile.path, standardError: logFile.path
        )
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        var identified = false
        while ContinuousClock.now < deadline {
            if process.hasExited {
                self.process = nil
                let log = logTail(maxCharacters: 1_000)
                throw StartError(
                    description: "prometheus exited during start-up (port \(port)): \(log)",
                    portTaken: log.contains("address already in use")
                )
            }
            if !identified, await get("/-/ready")?.status == 200 {
                // Ours is the only server with this storage path; anyone else on the port means ours cannot bind it.
                guard let flags = await get("/api/v1/status/flags"),
                      flags.body.contains(Self.quoted(storage.path))
                else {
                    await terminate(signal: SIGKILL)
                    throw StartError(description: "another server answers on port \(port)", portTaken: true)
                }
                identified = true
            }
            if identified, let up = await get("/api/v1/query?query=up"), up.status == 200,
               up.body.contains("\"success\""), !up.body.contains("\"result\":[]") {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await terminate(signal: SIGKILL)
        throw StartError(description: "prometheus on port \(port) had not scraped itself within 30 s: \(logTail(maxCharacters: 1_000))")
    }

    /// `GET path` on this server: status and body, or nil when nothing answers.
    private nonisolated func get(_ path: String) async -> (status: UInt, body: String)? {
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(2))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (response.status.code, String(buffer: body))
        } catch {
            return nil
        }
    }

    private func terminate(signal: Int32) async {
        guard let process else { return }
        self.process = nil
        await process.stop(signal: signal, grace: .seconds(10))
    }

    /// A string as JSON writes it, which YAML reads as it is.
    private static func quoted(_ string: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return String(decoding: (try? encoder.encode(string)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    private static func encoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
