import AsyncHTTPClient
import EuphrosyneSupport
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private, real Alertmanager (Debian's `prometheus-alertmanager`, 0.25) for one test, whose only route sends
/// every alert to one webhook the test names (typically our `/webhook` on a loopback port the OS picked).
///
/// Started on a free loopback port with clustering off (`--cluster.listen-address=`, so no gossip port either), its
/// configuration, storage (`nflog`, `silences`) and log (`alertmanager.log`) in a temp directory of its own; ready
/// once `GET /-/ready` answers 200 and the server on the port is this one; stopped (and its directory removed) by
/// ``stop()``. Tests always stop what they start.
///
/// When notifications come (measured with Alertmanager 0.25 on loopback, group_wait 1s, group_interval 1s):
/// - the first one for a new group: `group_wait` after the first alert was posted (measured 1.00 s, +5 ms at
///   most), but at once (~3 ms) when an alert in it has a `startsAt` more than `group_wait` ago, as an alert that
///   has been firing a while in Prometheus has;
/// - repeats of an unchanged group: only on `group_interval` ticks, at the first tick after more than
///   `repeat_interval` has passed since the last notification. The last notification is logged just after a
///   tick, so a `repeat_interval` that is a multiple of `group_interval` usually waits one tick more:
///   group_interval 1s with repeat_interval 2s repeats every 3 s (now and then 2 s), with 1s every 2 s, with
///   500ms every 1 s;
/// - a change to the group (alerts resolved, a new one joining): at the next `group_interval` tick, so within
///   `group_interval` of the post (measured 0.98 to 1.0 s right after a notification).
///
/// Firing alerts posted without `endsAt` get `now + resolve_timeout` from Alertmanager and resolve by themselves
/// after it; a test whose alerts must stay firing longer re-posts them, as Prometheus does.
public actor AlertmanagerProcess {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        /// Another server had the port, so a retry on another port may succeed.
        var portTaken = false
    }

    /// The Alertmanager API answered a request with a status other than 200.
    public struct RequestError: Error, CustomStringConvertible {
        public var method: String
        public var url: String
        public var status: UInt
        public var body: String
        public var description: String { "\(method) \(url) answered \(status): \(body)" }
    }

    public nonisolated let port: Int
    public nonisolated let directory: URL
    /// Where Alertmanager's standard output and error go (its log, as logfmt lines).
    public nonisolated var logFile: URL { directory.appendingPathComponent("alertmanager.log") }
    public nonisolated var baseURL: String { "http://127.0.0.1:\(port)" }
    private let binary: String
    private let configuration: Configuration
    /// The name of a receiver no route uses: start-up reads it back to tell this server from another on the port.
    private let instanceName = "instance-\(UUID().uuidString)"
    private var process: ChildProcess?

    private init(binary: String, port: Int, directory: URL, configuration: Configuration) {
        self.binary = binary
        self.port = port
        self.directory = directory
        self.configuration = configuration
    }

    /// Last resort for a test that failed before its ``stop()``: the server must not outlive the test process.
    deinit {
        process?.signalGroup(SIGKILL)
    }

    /// Starts an Alertmanager whose single route groups alerts by `groupBy` and posts each notification to
    /// `webhookURL`, retrying on another port in the rare case the free port was taken between probing and binding.
    ///
    /// Durations are Prometheus durations: whole numbers with units from `y w d h m s ms`, largest first
    /// (`1s`, `500ms`, `1m30s`; not `1.5s`), or `0`. Alertmanager 0.25 refuses a zero `group_interval` or
    /// `repeat_interval` ("cannot be zero"), and accepts any positive ones, `repeat_interval` below
    /// `group_interval` included (see the type's documentation for what that means for repeats);
    /// `group_wait` and `resolve_timeout` may be zero. Invalid values throw here, before anything is started.
    public static func start(
        webhookURL: String, groupBy: [String] = ["alertname"], groupWait: String = "1s",
        groupInterval: String = "1s", repeatInterval: String = "2s", sendResolved: Bool = true,
        resolveTimeout: String = "5m"
    ) async throws -> AlertmanagerProcess {
        let configuration = try Configuration(
            webhookURL: webhookURL, groupBy: groupBy, groupWait: groupWait, groupInterval: groupInterval,
            repeatInterval: repeatInterval, sendResolved: sendResolved, resolveTimeout: resolveTimeout
        )
        return try await start(configuration, nextPort: { try RedisServerProcess.freePort() })
    }

    /// `start(webhookURL:…)` with the ports to try given (tests of the retry offer a taken one first).
    static func start(_ configuration: Configuration, nextPort: () throws -> Int) async throws -> AlertmanagerProcess {
        guard let binary = try? RedisServerProcess.executable(named: "prometheus-alertmanager") else {
            throw StartError(description: "prometheus-alertmanager not found on PATH or in /usr/bin: install it (apt-get install prometheus-alertmanager)")
        }
        return try await startOnFreePort(
            name: "alertmanager", nextPort: nextPort,
            make: { AlertmanagerProcess(binary: binary, port: $0, directory: $1, configuration: configuration) },
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

    /// Posts `alerts` to `POST /api/v2/alerts`, as Prometheus does; throws ``RequestError`` unless it answers 200.
    /// Posting an alert again with the same labels updates it; with `endsAt` now or in the past, resolves it.
    public nonisolated func postAlerts(_ alerts: [PostableAlert]) async throws {
        let url = baseURL + "/api/v2/alerts"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(alerts)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw RequestError(method: "POST", url: url, status: response.status.code, body: String(buffer: body))
        }
    }

    /// The end of the server's log (at most `maxCharacters`), for failure messages.
    public nonisolated func logTail(maxCharacters: Int = 2_000) -> String {
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return String(log.suffix(maxCharacters))
    }

    private func launch() async throws {
        let configFile = directory.appendingPathComponent("alertmanager.yml")
        try configuration.yaml(instanceName: instanceName).write(to: configFile, atomically: true, encoding: .utf8)
        let process = try await ChildProcess.spawn(
            executable: binary,
            arguments: [
                "--config.file=\(configFile.path)", "--storage.path=\(directory.path)",
                "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
            ],
            environment: ProcessInfo.processInfo.environment,
            standardOutput: logFile.path, standardError: logFile.path
        )
        self.process = process
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if process.hasExited {
                self.process = nil
                let log = logTail(maxCharacters: 1_000)
                throw StartError(
                    description: "prometheus-alertmanager exited during start-up (port \(port)): \(log)",
                    portTaken: log.contains("address already in use")
                )
            }
            if await get("/-/ready")?.status == 200 {
                // Ours is the only server with this receiver; anyone else on the port means ours cannot bind it.
                if let receivers = await get("/api/v2/receivers"), receivers.body.contains("\"\(instanceName)\"") {
                    return
                }
                await terminate(signal: SIGKILL)
                throw StartError(description: "another server answers on port \(port)", portTaken: true)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await terminate(signal: SIGKILL)
        throw StartError(description: "prometheus-alertmanager on port \(port) was not ready within 20 s: \(logTail(maxCharacters: 1_000))")
    }

    /// `GET path` on this server: status and body, or nil when nothing answers.
    private func get(_ path: String) async -> (status: UInt, body: String)? {
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

    /// The settings of the one route and its webhook receiver, validated.
    struct Configuration: Sendable {
        var webhookURL: String
        var groupBy: [String]
        var groupWait: String
        var groupInterval: String
        var repeatInterval: String
        var sendResolved: Bool
        var resolveTimeout: String

        init(
            webhookURL: String, groupBy: [String], groupWait: String, groupInterval: String, repeatInterval: String,
            sendResolved: Bool, resolveTimeout: String
        ) throws {
            for (name, value, mayBeZero) in [
                ("groupWait", groupWait, true), ("groupInterval", groupInterval, false),
                ("repeatInterval", repeatInterval, false), ("resolveTimeout", resolveTimeout, true),
            ] {
                guard let milliseconds = Self.milliseconds(value) else {
                    throw StartError(description: "\(name) \"\(value)\" is not a Prometheus duration (like 1s, 500ms, 1m30s)")
                }
                guard mayBeZero || milliseconds > 0 else {
                    throw StartError(description: "\(name) cannot be zero: Alertmanager refuses that configuration")
                }
            }
            self.webhookURL = webhookURL
            self.groupBy = groupBy
            self.groupWait = groupWait
            self.groupInterval = groupInterval
            self.repeatInterval = repeatInterval
            self.sendResolved = sendResolved
            self.resolveTimeout = resolveTimeout
        }

        /// alertmanager.yml. Strings from the test are written as JSON strings, which YAML reads as they are.
        func yaml(instanceName: String) -> String {
            """
            global:
              resolve_timeout: \(resolveTimeout)
            route:
              receiver: webhook
              group_by: [\(groupBy.map(Self.quoted).joined(separator: ", "))]
              group_wait: \(groupWait)
              group_interval: \(groupInterval)
              repeat_interval: \(repeatInterval)
            receivers:
              - name: webhook
                webhook_configs:
                  - url: \(Self.quoted(webhookURL))
                    send_resolved: \(sendResolved)
              - name: \(Self.quoted(instanceName))

            """
        }

        private static func quoted(_ string: String) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return String(decoding: (try? encoder.encode(string)) ?? Data("\"\"".utf8), as: UTF8.self)
        }

        /// A Prometheus duration (`[0-9]+` with a unit, units in the order y w d h m s ms, each at most once, or
        /// `0`) in milliseconds; nil when Alertmanager would not parse it.
        static func milliseconds(_ text: String) -> Int? {
            if text == "0" { return 0 }
            let units: [(name: String, milliseconds: Int)] = [
                ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000),
                ("s", 1_000), ("ms", 1),
            ]
            var rest = Substring(text)
            var nextUnit = 0
            var total = 0
            guard !rest.isEmpty else { return nil }
            while !rest.isEmpty {
                let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
                guard !digits.isEmpty, let value = Int(digits) else { return nil }
                rest = rest.dropFirst(digits.count)
                let unit = rest.hasPrefix("ms") ? "ms" : String(rest.prefix(1))
                guard let index = units[nextUnit...].firstIndex(where: { $0.name == unit }) else { return nil }
                let (product, overflow) = value.multipliedReportingOverflow(by: units[index].milliseconds)
                guard !overflow else { return nil }
                total += product
                nextUnit = index + 1
                rest = rest.dropFirst(unit.count)
            }
            return total
        }
    }
}

/// An alert as `POST /api/v2/alerts` takes it. Alertmanager identifies an alert by its labels: posting the same
/// labels again updates that alert.
public struct PostableAlert: Sendable, Hashable, Encodable {
    public var labels: [String: String]
    public var annotations: [String: String]
    /// When it started firing; Alertmanager takes the time it receives the alert when nil.
    public var startsAt: Date?
    /// When it stops (or stopped) firing; nil means `now + resolve_timeout`, renewed by each post.
    public var endsAt: Date?
    public var generatorURL: String?

    public init(
        labels: [String: String], annotations: [String: String] = [:], startsAt: Date? = nil, endsAt: Date? = nil,
        generatorURL: String? = nil
    ) {
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
    }

    /// A firing alert (no `endsAt`).
    public static func firing(
        _ labels: [String: String], annotations: [String: String] = [:], startsAt: Date? = nil,
        generatorURL: String? = nil
    ) -> PostableAlert {
        PostableAlert(labels: labels, annotations: annotations, startsAt: startsAt, generatorURL: generatorURL)
    }

    /// This alert ended at `date`: posting it resolves the alert once `date` has passed. Alertmanager answers 400
    /// when `endsAt` is before a given `startsAt`.
    public func resolved(at date: Date = Date()) -> PostableAlert {
        var copy = self
        copy.endsAt = date
        return copy
    }

    private enum CodingKeys: String, CodingKey {
        case labels, annotations, startsAt, endsAt, generatorURL
    }

    /// Times as RFC 3339 in UTC with milliseconds (`2026-11-28T21:13:44.511Z`); absent fields are left out.
    public func encode(to encoder: any Encoder) throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(labels, forKey: .labels)
        try container.encode(annotations, forKey: .annotations)
        try container.encodeIfPresent(startsAt.map(style.format), forKey: .startsAt)
        try container.encodeIfPresent(endsAt.map(style.format), forKey: .endsAt)
        try container.encodeIfPresent(generatorURL, forKey: .generatorURL)
    }
}
