import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs each recipe as a local process, for local mode: the same argv and data file a Job would get.
///
/// The entrypoint's first word is looked up on `PATH` (plus `extraSearchPaths`, e.g. the directory of the
/// `euphrosyne` binary so the bundled recipes are found) or taken as a path; nothing goes through a shell. Each run
/// gets a private temporary directory holding `data.json` and its stdout/stderr, removed when the run ends; it
/// runs in the reconciler's working directory, so relative paths in a recipe's `env` mean the same to both. The
/// process runs in its own process group, so stopping it at the timeout also stops whatever it started.
///
/// A recipe sees only a few variables of the reconciler's environment: the basics a process needs, the Redis
/// credentials, and the secrets it is entitled to — the variables its `secretEnv` names (local mode has no Secrets,
/// so the reconciler's variables of those names stand in for them), or, when it declares no `secretEnv`, the Jira
/// variables of the original system. Its result key comes as `EUPHROSYNE_RESULT_KEY`.
public struct LocalProcessLauncher: RecipeLauncher {
    /// Where the per-run directories are created.
    public var workDirectory: URL
    /// Searched after `PATH` for an entrypoint without a slash.
    public var extraSearchPaths: [String]
    /// The reconciler's own environment; each run gets only the variables `environment(for:)` picks from it.
    public var reconcilerEnvironment: [String: String]
    /// How long a stopped process gets between SIGTERM and SIGKILL.
    public var terminationGrace: Duration
    /// When the run's task is cancelled (the reconciler is stopping), leave the process running instead of stopping
    /// it: with a durable incident store and Redis results, a restarted reconciler still collects its result.
    public var leavesRunsRunningWhenCancelled: Bool
    /// What the recipe timeout sleeps on; tests give a clock they move themselves.
    public var clock: any Clock<Duration>
    public var logger: Logger

    /// Variables every recipe gets from the reconciler's environment: the basics a process needs, and the Redis
    /// credentials it reports with.
    public static let passedThroughVariableNames = [
        "PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "REDIS_USERNAME", "REDIS_PASSWORD",
    ]
    /// The Jira credentials a cluster would mount from the `euphrosyne-keys` Secret: passed through to recipes that
    /// declare no `secretEnv` (the original behaviour); a recipe that declares one gets what it names instead.
    public static let jiraVariableNames = ["JIRA_URL", "JIRA_USER", "JIRA_TOKEN"]

    public init(
        workDirectory: URL = FileManager.default.temporaryDirectory,
        extraSearchPaths: [String] = [],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        terminationGrace: Duration = .seconds(2),
        leavesRunsRunningWhenCancelled: Bool = false,
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "euphrosyne.launcher.local")
    ) {
        self.leavesRunsRunningWhenCancelled = leavesRunsRunningWhenCancelled
        self.clock = clock
        self.workDirectory = workDirectory
        self.extraSearchPaths = extraSearchPaths
        self.reconcilerEnvironment = environment
        self.terminationGrace = terminationGrace
        self.logger = logger
    }

    public func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
        var logger = self.logger
        logger[metadataKey: "incident"] = "\(request.incidentID.uuidString.lowercased())"
        logger[metadataKey: "recipe"] = "\(request.recipe.name)"

        guard let command = request.recipe.arguments.first else {
            return .launchFailed(reason: "the entrypoint is empty")
        }
        guard let executable = resolveExecutable(command) else {
            return .launchFailed(reason: "no executable \"\(command)\" found on PATH")
        }

        let directory: URL
        do {
            directory = try makeRunDirectory(for: request)
        } catch {
            return .launchFailed(reason: "cannot prepare the data file: \(error)")
        }
        let keepDirectory = Flag()
        defer { if !keepDirectory.value { try? FileManager.default.removeItem(at: directory) } }

        let dataFile = directory.appendingPathComponent("data.json")
        let stdoutFile = directory.appendingPathComponent("stdout.log")
        let stderrFile = directory.appendingPathComponent("stderr.log")

        let process: ChildProcess
        do {
            process = try await ChildProcess.spawn(
                executable: executable.path,
                arguments: Array(request.arguments(dataFilePath: dataFile.path).dropFirst()),
                environment: environment(for: request),
                standardOutput: stdoutFile.path, standardError: stderrFile.path
            )
        } catch {
            return .launchFailed(reason: error.description)
        }
        logger.debug("recipe process started", metadata: ["pid": "\(process.pid)", "executable": "\(executable.path)"])
        await started()

        // Whichever comes first: the exit, the deadline, or cancellation of this task.
        enum Ending: Sendable { case exited(Int32), deadline, cancelled }
        let clock = self.clock
        let ending: Ending = await withTaskGroup(of: Ending.self) { group in
            group.addTask { await process.wait().map(Ending.exited) ?? .cancelled }
            group.addTask {
                do {
                    try await clock.sleep(for: request.timeout)
                    return .deadline
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return first
        }

        switch ending {
        case .exited(let status):
            return .exited(status: status, stderrTail: Self.tail(of: stderrFile))
        case .deadline:
            await stop(process)
            logger.warning("recipe timed out and was stopped", metadata: ["timeout": "\(request.run.timeoutSeconds)s"])
            return .timedOut
        case .cancelled where process.hasExited:
            return .exited(status: await process.waitIgnoringCancellation(), stderrTail: Self.tail(of: stderrFile))
        case .cancelled where leavesRunsRunningWhenCancelled && request.cancellation.reason == nil:
            // The process reports over Redis and a restarted reconciler resumes the incident; it keeps its files.
            keepDirectory.set(true)
            logger.info("reconciler stopping; recipe left running", metadata: ["pid": "\(process.pid)"])
            return .cancelled(reason: "left running while the reconciler restarts")
        case .cancelled:
            await stop(process)
            let reason = request.cancellation.reason ?? "the reconciler stopped the run"
            logger.info("recipe run cancelled and stopped", metadata: ["reason": "\(reason)"])
            return .cancelled(reason: reason)
        }
    }

    /// The run's environment: the variables passed through from the reconciler's (the basics, the Redis credentials,
    /// and the `secretEnv` names or else the Jira variables), then the request's, then the result key.
    func environment(for request: LaunchRequest) -> [String: String] {
        let names = Set(Self.passedThroughVariableNames + (request.recipe.secretEnv.map { Array($0.keys) } ?? Self.jiraVariableNames))
        var environment = reconcilerEnvironment.filter { names.contains($0.key) }
        environment.merge(request.environment) { _, recipe in recipe }
        if let key = request.resultKey { environment["EUPHROSYNE_RESULT_KEY"] = key }
        return environment
    }

    /// SIGTERM to the process group, then SIGKILL after the grace period; returns once the process is reaped, even
    /// from a cancelled task (where it is mostly called).
    private func stop(_ process: ChildProcess) async {
        await process.stop(grace: terminationGrace)
    }

    private func makeRunDirectory(for request: LaunchRequest) throws -> URL {
        let directory = workDirectory.appendingPathComponent(
            "euphrosyne-\(request.incidentID.uuidString.lowercased())-\(request.run.name)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        let dataFile = directory.appendingPathComponent("data.json")
        guard FileManager.default.createFile(
            atPath: dataFile.path, contents: request.dataFile, attributes: [.posixPermissions: 0o600]
        ) else {
            throw CocoaError(.fileWriteUnknown)
        }
        // stdout.log and stderr.log are created (0600) by the spawn itself.
        return directory
    }

    /// The executable for the entrypoint's first word: a path as given, or the first match on the search path.
    func resolveExecutable(_ command: String) -> URL? {
        let fileManager = FileManager.default
        if command.contains("/") {
            let url = URL(fileURLWithPath: command)
            return fileManager.isExecutableFile(atPath: url.path) ? url : nil
        }
        let path = (reconcilerEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            .split(separator: ":").map(String.init) + extraSearchPaths
        for directory in path where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(command)
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fileManager.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }

    /// The last lines of a file (at most 20 lines and 2 KiB), for a failure message.
    static func tail(of file: URL, maxLines: Int = 20, maxBytes: Int = 2048) -> String {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var text = String(decoding: data, as: UTF8.self)
        if start > 0, let newline = text.firstIndex(of: "\n") {
            text = String(text[text.index(after: newline)...])
        }
        let lines = text.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\n", omittingEmptySubsequences: false)
        return lines.suffix(maxLines).joined(separator: "\n")
    }
}

/// A flag set from one task and read from another.
final class Flag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set(_ value: Bool) { state.withLock { $0 = value } }
}
