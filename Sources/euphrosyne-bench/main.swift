import Foundation
import Logging

// `euphrosyne-bench`: measures Euphrosyne against a reference run on the same machine at the same moment, and prints
// one table of ratios (absolute numbers alone mean little on a noisy shared box). Run it through `scripts/bench`,
// which installs the tools and builds `euphrosyne`, `euphrosyne-recipes` and this in release mode.
//
//   euphrosyne-bench [--only redis,webhook,storm,cluster,failover,notify,startup,dashboard] [options below]
//
// The servers under test run as child processes (the built `euphrosyne serve`, and this executable with
// `--serve-hello PORT` as the Hummingbird hello world); every child is stopped before the program exits.

/// The command line: which rows, and how big.
struct BenchOptions {
    static let allRows = ["redis", "webhook", "storm", "cluster", "failover", "notify", "startup", "dashboard"]

    private let arguments: ArraySlice<String>

    init(_ arguments: ArraySlice<String>) { self.arguments = arguments }

    func value(of flag: String) -> String? {
        guard let index = arguments.firstIndex(of: flag), arguments.index(after: index) < arguments.endIndex else { return nil }
        return arguments[arguments.index(after: index)]
    }

    func integer(_ flag: String, default fallback: Int) -> Int { value(of: flag).flatMap { Int($0) } ?? fallback }

    /// `--serve-hello PORT`: run as the hello-world reference server instead.
    var helloPort: Int? { value(of: "--serve-hello").flatMap { Int($0) } }

    /// `--only a,b`: the rows to run (default: all).
    var rows: [String] {
        value(of: "--only").map { $0.split(separator: ",").map { String($0) } } ?? Self.allRows
    }

    // Redis row.
    var channels: Int { integer("--channels", default: 1_000) }
    var messages: Int { integer("--messages", default: 100_000) }
    /// Diagnostic: count messages without decoding them, to see the transport alone.
    var skipDecode: Bool { arguments.contains("--no-decode") }
    // Webhook rows.
    var wrkSeconds: Int { integer("--wrk-seconds", default: 8) }
    var wrkThreads: Int { integer("--wrk-threads", default: 2) }
    /// Alternating rounds each webhook throughput comparison is split into.
    var wrkRounds: Int { integer("--wrk-rounds", default: 4) }
    var wrkConnections: Int { integer("--wrk-connections", default: 64) }
    var rateSeconds: Int { integer("--rate-seconds", default: 5) }
    // Storm rows.
    var stormAlerts: Int { integer("--storm-alerts", default: 1_000) }
    var clusterAlerts: Int { integer("--cluster-alerts", default: 1_000) }
    // Notification latency row.
    var notifySamples: Int { integer("--notify-samples", default: 1_000) }
    // Start-up rows.
    var startupRuns: Int { integer("--startup-runs", default: 3) }
}

let options = BenchOptions(CommandLine.arguments.dropFirst())

if let port = options.helloPort {
    try await HelloServer.run(port: port)
    exit(0)
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}

let unknown = options.rows.filter { !BenchOptions.allRows.contains($0) }
guard unknown.isEmpty else {
    FileHandle.standardError.write(Data("unknown row \(unknown.joined(separator: ", ")); rows: \(BenchOptions.allRows.joined(separator: ","))\n".utf8))
    exit(2)
}

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("euphrosyne-bench-\(UUID().uuidString.prefix(8))")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

func progress(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }

var rows: [Row] = []
var failed = false
let began = ContinuousClock.now
for name in BenchOptions.allRows where options.rows.contains(name) {
    let started = ContinuousClock.now
    progress("\(name)…")
    do {
        switch name {
        case "redis":
            rows.append(try await redisRow(directory: directory, channels: options.channels, messages: options.messages,
                                           skipDecode: options.skipDecode))
        case "webhook":
            rows += try await WebhookRows(wrkSeconds: options.wrkSeconds, rounds: options.wrkRounds,
                                          wrkThreads: options.wrkThreads,
                                          wrkConnections: options.wrkConnections, rateSeconds: options.rateSeconds)
                .rows(directory: directory)
        case "storm":
            rows.append(try await StormRows(localAlerts: options.stormAlerts, clusterAlerts: options.clusterAlerts)
                .localRow(directory: directory))
        case "cluster":
            rows += try await StormRows(localAlerts: options.stormAlerts, clusterAlerts: options.clusterAlerts)
                .clusterRows(directory: directory)
        case "failover":
            rows.append(try await FailoverRow().row(directory: directory))
        case "notify":
            rows.append(try await NotifyLatencyRow(samples: options.notifySamples).row())
        case "startup":
            rows += try await StartupRows(runs: options.startupRuns).rows(directory: directory)
        case "dashboard":
            rows.append(try await DashboardRow().row())
        default:
            break
        }
        progress("\(name) done in \(Int((ContinuousClock.now - started).asSeconds)) s")
    } catch {
        failed = true
        progress("\(name) failed: \(error)")
    }
}
progress("all done in \(Int((ContinuousClock.now - began).asSeconds)) s")

print("| benchmark | ours | reference (same run) | ratio | target |")
print("|---|---|---|---|---|")
for row in rows { print(row.markdown) }
print("\nratio = ours ÷ reference: above 1 is better for rates, below 1 is better for times and memory.")

if !failed { try? FileManager.default.removeItem(at: directory) } else { progress("logs kept in \(directory.path)") }
exit(failed ? 1 : 0)
