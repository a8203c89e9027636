import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `euphrosyne serve` run as a user runs it, a process of its own on OS-picked loopback ports, for the tests that
/// hold the real binary to something (the hostile suite, the CLI). It is stopped with SIGTERM when the body ends,
/// whether it returned or threw, and killed if it does not stop within 30 s.
struct ServeProcess: Sendable {
    let webhookPort: Int
    let apiPort: Int
    let logFile: URL
    private let process: ProcessBox

    var webhookURL: String { "http://127.0.0.1:\(webhookPort)" }
    var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    var isRunning: Bool { process.value.isRunning }
    /// For tests that signal it (SIGSTOP, SIGKILL).
    var processIdentifier: Int32 { process.value.processIdentifier }
    /// Only once it stopped running.
    var terminationStatus: Int32 { process.value.terminationStatus }
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Every thread's stack, as gdb prints them (when gdb is installed), for a failure that must say where the process
    /// is stuck. Waits at most 60 s for gdb.
    func threadStacks() async -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return "(no gdb to print the stacks)" }
        let output = logFile.deletingLastPathComponent().appendingPathComponent("stacks-\(UUID().uuidString.prefix(8)).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
        gdb.arguments = ["-p", String(processIdentifier), "-batch", "-nx", "-ex", "set pagination off",
                         "-ex", "thread apply all bt 40"]
        do {
            let handle = try FileHandle(forWritingTo: output)
            gdb.standardOutput = handle
            gdb.standardError = handle
            try gdb.run()
            try await waitUntil("gdb to print the stacks", timeout: .seconds(60)) { !gdb.isRunning }
        } catch {
            if gdb.isRunning { gdb.terminate() }
            return "(gdb failed: \(error))"
        }
        return (try? String(contentsOf: output, encoding: .utf8)) ?? "(no output from gdb)"
    }

    /// Runs `serve` with `arguments` (both ports 0 and `--host host` are added) while `body` runs; the log goes to
    /// a file in `directory`. The environment is ours plus `environment`, or only `environment` when
    /// `inheritingEnvironment` is false (cluster mode with a kubeconfig of the test's own).
    static func with<T: Sendable>(
        _ arguments: [String], environment: [String: String] = [:], inheritingEnvironment: Bool = true,
        host: String? = "127.0.0.1", directory: URL, _ body: @Sendable (ServeProcess) async throws -> T
    ) async throws -> T {
        let logFile = directory.appendingPathComponent("serve-\(UUID().uuidString.prefix(8)).log")
        let process = try launch(arguments, environment: environment, inheritingEnvironment: inheritingEnvironment,
                                 host: host, logFile: logFile)
        let box = ProcessBox(process)
        do {
            try await waitUntil("both listeners to be ready", timeout: .seconds(60)) {
                let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                return (CommandLineTests.port(named: "webhook", in: text) != nil
                        && CommandLineTests.port(named: "API", in: text) != nil) || !process.isRunning
            }
            let text = try String(contentsOf: logFile, encoding: .utf8)
            guard let webhook = CommandLineTests.port(named: "webhook", in: text),
                  let api = CommandLineTests.port(named: "API", in: text)
            else { throw TestTimeout(what: "serve to listen; it stopped: \(text)") }
            let serve = ServeProcess(webhookPort: webhook, apiPort: api, logFile: logFile, process: box)
            let result = try await body(serve)
            try await serve.stop()
            return result
        } catch {
            try? await ServeProcess(webhookPort: 0, apiPort: 0, logFile: logFile, process: box).stop()
            throw error
        }
    }

    /// Starts `serve` with its stderr in `logFile`, for tests that watch it fail to start.
    static func launch(
        _ arguments: [String], environment: [String: String] = [:], inheritingEnvironment: Bool = true,
        host: String? = "127.0.0.1", logFile: URL
    ) throws -> Process {
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTests.euphrosyne)
        process.arguments = ["serve", "--webhook-port", "0", "--api-port", "0"] + (host.map { ["--host", $0] } ?? [])
            + arguments
        process.environment = inheritingEnvironment
            ? ProcessInfo.processInfo.environment.merging(environment) { _, new in new } : environment
        process.standardError = try FileHandle(forWritingTo: logFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// SIGTERM, then the wait for a clean exit (SIGKILL after 30 s); throws when it did not exit with status 0.
    func stop() async throws {
        let process = self.process.value
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        do {
            try await waitUntil("serve to stop after SIGTERM", timeout: .seconds(30)) { !process.isRunning }
        } catch {
            kill(process.processIdentifier, SIGKILL)
            throw error
        }
        guard process.terminationStatus == 0 else {
            throw TestTimeout(what: "a clean exit (status \(process.terminationStatus)); log: \(log.suffix(2_000))")
        }
    }

    /// `Process` is not Sendable; this one is only started, polled and signalled.
    final class ProcessBox: @unchecked Sendable {
        let value: Process
        init(_ value: Process) { self.value = value }
    }
}
