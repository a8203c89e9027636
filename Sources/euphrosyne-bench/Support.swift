import AsyncHTTPClient
import EuphrosyneEngine
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

// What every row shares: the table row, finding executables, ports, child processes, /proc readings, a raw HTTP
// probe, and percentiles.

struct BenchError: Error, CustomStringConvertible {
    var description: String

    init(description: String) { self.description = description }
    init(_ description: String) { self.description = description }
}

/// One row of the table: ours against a reference measured in the same run, where there is one.
struct Row {
    var name: String
    var ours: String
    /// "—" when the row has no reference.
    var reference: String = "—"
    /// Ours relative to the reference (what "better" means is in the row's name); nil without a reference.
    var ratio: Double?
    /// "—" when the issue sets no target for this figure.
    var target: String = "—"
    /// Whether the target was met; nil without a target.
    var met: Bool?

    var markdown: String {
        let ratioText = ratio.map { String(format: "%.2f×", $0) } ?? "—"
        let targetText = met.map { "\(target) \($0 ? "met" : "NOT met")" } ?? target
        return "| \(name) | \(ours) | \(reference) | \(ratioText) | \(targetText) |"
    }
}

/// Where `swift build` put the products: beside this executable (`euphrosyne`, `euphrosyne-recipes`).
let productsDirectory: String = {
    let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: path).deletingLastPathComponent().path
}()

func product(_ name: String) throws -> String {
    let path = productsDirectory + "/" + name
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError("\(path) is missing: build it in release mode (scripts/bench does)")
    }
    return path
}

func executable(_ name: String) throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") + ["/usr/bin"] {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw BenchError(description: "\(name) is not installed (scripts/bench installs it)")
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs a command to completion and returns its standard output.
func capture(_ executable: String, _ arguments: [String], in directory: URL) async throws -> String {
    let output = directory.appendingPathComponent("out-\(UUID().uuidString.prefix(6))")
    let child = try await ChildProcess.spawn(executable: executable, arguments: arguments,
                                             environment: ProcessInfo.processInfo.environment,
                                             standardOutput: output.path)
    guard let status = await child.wait(), status == 0 else {
        throw BenchError(description: "\(executable) \(arguments.prefix(3).joined(separator: " ")) failed")
    }
    return try String(contentsOf: output, encoding: .utf8)
}

/// The environment a child server gets: enough to find its tools, nothing else from ours.
func childEnvironment(home: URL, extra: [String: String] = [:]) -> [String: String] {
    ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home.path]
        .merging(extra) { $1 }
}

/// A process's resident memory now and at its peak, from `/proc/<pid>/status` (VmRSS, VmHWM).
struct Memory {
    var residentKB: Int
    var peakKB: Int

    static func of(_ pid: pid_t) -> Memory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            // "VmRSS:\t   4220 kB"
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
        }
        guard let resident = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return Memory(residentKB: resident, peakKB: peak)
    }
}

/// `GET path` on 127.0.0.1:`port` over a plain blocking socket; the status code, or nil when nothing answers. Used
/// to time start-up: no client library (and its own start-up or connection pool) sits between us and the server.
func httpStatus(port: Int, path: String) -> Int? {
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard let reply = loopbackExchange(port: port, request: request, timeoutSeconds: 2, replyLimit: 512),
          reply.count > 12 else { return nil }
    // "HTTP/1.1 200 OK"
    return Int(String(decoding: reply[9..<12], as: UTF8.self))
}

/// Polls `GET /readyz` every millisecond until it answers 200; how long that took from `since`.
func pollReadyz(port: Int, process: ChildProcess, since start: ContinuousClock.Instant,
                    timeout: Duration = .seconds(60)) async throws -> Duration {
    while ContinuousClock.now - start < timeout {
        if httpStatus(port: port, path: "/readyz") == 200 { return ContinuousClock.now - start }
        if process.hasExited { throw BenchError("the server on port \(port) exited before it was ready") }
        try await Task.sleep(for: .milliseconds(1))
    }
    throw BenchError("the server on port \(port) was not ready within \(timeout)")
}

/// Waits until `condition` holds, polling, or throws naming `what`.
func waitFor(_ what: String, timeout: Duration, every interval: Duration = .milliseconds(20),
             _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw BenchError("timed out waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

extension Duration {
    var asMilliseconds: Double { Double(components.seconds) * 1e3 + Double(components.attoseconds) / 1e15 }
    var asSeconds: Double { asMilliseconds / 1e3 }
}

/// The middle value (the mean of the two middle ones for an even count); NaN for none.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The nearest-rank percentile of durations, in milliseconds.
func percentile(_ p: Double, of samples: [Duration]) -> Double {
    guard !samples.isEmpty else { return .nan }
    let sorted = samples.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)].asMilliseconds
}

func formatMilliseconds(_ value: Double) -> String {
    value < 10 ? String(format: "%.2f ms", value) : String(format: "%.1f ms", value)
}

func formatMegabytes(kB: Int) -> String { String(format: "%.1f MB", Double(kB) / 1024) }

func formatRate(_ perSecond: Double) -> String { "\(Int(perSecond.rounded()).formatted())/s" }

/// POSTs JSON with our HTTP client; the status code.
func post(_ client: HTTPClient, _ url: String, _ body: ByteBuffer, timeout: TimeAmount = .seconds(30)) async throws -> Int {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(body)
    let response = try await client.execute(request, timeout: timeout)
    _ = try await response.body.collect(upTo: 1 << 20)
    return Int(response.status.code)
}

func get(_ client: HTTPClient, _ url: String) async throws -> (status: Int, body: Data) {
    let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 16 << 20)
    return (Int(response.status.code), Data(body.readableBytesView))
}

/// Runs `work` with `sampler` beside it as a child task, stops the sampler (by cancelling it) once `work` ends, and
/// returns both results: what a row measures while it loads the server.
func whileSampling<Sample: Sendable, Outcome: Sendable>(
    _ sampler: @escaping @Sendable () async -> Sample, during work: () async throws -> Outcome
) async throws -> (Outcome, Sample) {
    try await withThrowingTaskGroup(of: Sample.self) { group in
        group.addTask { await sampler() }
        let outcome: Outcome
        do {
            outcome = try await work()
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
        guard let sample = try await group.next() else { throw BenchError("the sampler ended without a sample") }
        return (outcome, sample)
    }
}
