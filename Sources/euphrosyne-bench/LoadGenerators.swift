import AsyncHTTPClient
import Foundation
import NIOCore

/// `wrk` (closed loop: each connection sends its next request when the answer arrives), for maximum throughput.
enum Wrk {
    struct Result {
        var requestsPerSecond: Double
        /// Answers other than 2xx/3xx, and socket errors: a server that refuses or drops requests is not faster.
        var failures: Int
    }

    /// A Lua script posting `body(id)` to the URL, where `id` is "<thread>-<request number>" when `distinct`, so
    /// every request is a new alert group; otherwise every request carries the same body.
    static func script(body: (String) -> String, distinct: Bool) -> String {
        let marker = "\u{1}ID\u{1}"
        let parts = body(marker).components(separatedBy: marker)
        let luaParts = parts.map { "[==[\($0)]==]" }.joined(separator: ",\n  ")
        return """
            -- Written by euphrosyne-bench.
            local parts = {
              \(luaParts)
            }
            local headers = { ["Content-Type"] = "application/json" }
            local threads = 0
            function setup(thread)
              thread:set("tid", threads)
              threads = threads + 1
            end
            local counter = 0
            local fixed = nil
            function request()
              if \(distinct ? "false" : "true") then
                if fixed == nil then fixed = wrk.format("POST", nil, headers, table.concat(parts, "fixed")) end
                return fixed
              end
              counter = counter + 1
              return wrk.format("POST", nil, headers, table.concat(parts, tid .. "-" .. counter))
            end
            """
    }

    static func run(url: String, script: String, threads: Int, connections: Int, seconds: Int,
                    in directory: URL) async throws -> Result {
        let scriptFile = directory.appendingPathComponent("wrk-\(UUID().uuidString.prefix(6)).lua")
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        let output = try await capture(try executable("wrk"), [
            "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--timeout", "10s", "-s", scriptFile.path, url,
        ], in: directory)
        var result = Result(requestsPerSecond: 0, failures: 0)
        for line in output.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("Requests/sec:") {
                result.requestsPerSecond = Double(line.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            } else if line.hasPrefix("Non-2xx or 3xx responses:") {
                result.failures += Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            } else if line.hasPrefix("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                result.failures += line.split(separator: ",").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
                    .reduce(0, +)
            }
        }
        guard result.requestsPerSecond > 0 else { throw BenchError("cannot read wrk's output: \(output)") }
        return result
    }
}

/// An open-loop load generator: request `i` is due at `start + i / rate` whether or not earlier answers came back,
/// and its latency counts from when it was due (so a stalled server cannot hide its stall by slowing the sender, the
/// "coordinated omission" wrk's closed loop suffers from). wrk has no fixed-rate mode and wrk2 is not in Debian.
enum OpenLoop {
    struct Result {
        var latencies: [Duration]
        var failures: Int
        var p50: Double { percentile(50, of: latencies) }
        var p99: Double { percentile(99, of: latencies) }
    }

    static func run(client: HTTPClient, url: String, rate: Int, count: Int,
                    body: @escaping @Sendable (Int) -> ByteBuffer) async throws -> Result {
        let interval = Duration.seconds(1) / rate
        let start = ContinuousClock.now + .milliseconds(20)
        return try await withThrowingTaskGroup(of: Duration?.self) { group in
            for index in 0..<count {
                let due = start + interval * index
                try await Task.sleep(until: due, tolerance: .microseconds(10), clock: .continuous)
                group.addTask {
                    let status = try? await post(client, url, body(index), timeout: .seconds(10))
                    guard let status, (200..<300).contains(status) else { return nil }
                    return ContinuousClock.now - due
                }
            }
            var result = Result(latencies: [], failures: 0)
            result.latencies.reserveCapacity(count)
            for try await latency in group {
                if let latency { result.latencies.append(latency) } else { result.failures += 1 }
            }
            return result
        }
    }
}
