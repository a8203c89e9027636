import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with a clean slate: every signal at its default disposition and none blocked, in a
/// process group of its own, and with no descriptor of ours but the three standard ones.
///
/// Foundation's `Process` hands the child the signal mask of whichever thread started it; threads of a Swift
/// server block most signals, so a child started that way ignores SIGTERM and can only be SIGKILLed. The local
/// launcher (and tests that run servers) start processes through this type instead. Nothing goes through a shell.
///
/// Its exit is learned without polling (`ChildProcessExit`: a thread blocked in `waitpid`), and the process is reaped
/// whether or not anybody waits.
public final class ChildProcess: Sendable {
    public struct SpawnError: Error, CustomStringConvertible {
        /// The `errno` value `posix_spawn` returned.
        public var code: Int32
        public var description: String
    }

    public let pid: pid_t
    private let exitWatch: ChildProcessExit

    private init(pid: pid_t) {
        self.pid = pid
        exitWatch = ChildProcessExit(watching: pid)
    }

    /// Starts `executable` with `arguments` (argv after argv[0]) and exactly `environment`. Standard input is
    /// /dev/null; standard output and error are appended to the given files (created 0600), or go to /dev/null.
    ///
    /// Retries briefly on ETXTBSY: an executable that was just written may still be open for writing in a child
    /// another thread is starting at that instant (the descriptor is only closed when that child execs).
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String],
        standardOutput: String? = nil, standardError: String? = nil
    ) async throws(SpawnError) -> ChildProcess {
        var attempt = 0
        while true {
            let result = spawnOnce(executable: executable, arguments: arguments, environment: environment,
                                   standardOutput: standardOutput, standardError: standardError)
            switch result {
            case .success(let child):
                return child
            case .failure(let error) where error.code == ETXTBSY && attempt < 50:
                attempt += 1
                try? await Task.sleep(for: .milliseconds(10))
            case .failure(let error):
                throw error
            }
        }
    }

    private static func spawnOnce(
        executable: String, arguments: [String], environment: [String: String],
        standardOutput: String?, standardError: String?
    ) -> Result<ChildProcess, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, standardError ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // Descriptors another thread opened without close-on-exec (a file being written, say) must not leak into
        // the child: a leaked write descriptor on a script makes every later exec of it fail with ETXTBSY.
        _ = closeInheritedDescriptors?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)
        )

        let argv = [executable] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(envp) { envpPointers in
                posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envpPointers)
            }
        }
        guard result == 0 else {
            return .failure(SpawnError(code: result,
                                       description: "cannot start \(executable): \(String(cString: strerror(result)))"))
        }
        return .success(ChildProcess(pid: pid))
    }

    /// Whether the process has exited (and been reaped).
    public var hasExited: Bool { exitWatch.hasExited }

    /// Waits for the exit and returns the exit status, or the signal number negated if a signal ended it; nil if
    /// the waiting task is cancelled first.
    public func wait() async -> Int32? {
        await exitWatch.wait()
    }

    /// Waits for the exit even in a cancelled task (a process being stopped must still be reaped); the exit status,
    /// or the signal number negated.
    public func waitIgnoringCancellation() async -> Int32 {
        // Nothing abandons a wait without a limit, so it only ends with the exit.
        await exitWatch.waitIgnoringCancellation(limit: nil) ?? 0
    }

    /// Waits at most `limit` for the exit, even in a cancelled task: the exit status (or the signal number negated),
    /// or nil if the process is still running then. For the grace period between SIGTERM and SIGKILL.
    public func waitIgnoringCancellation(upTo limit: Duration) async -> Int32? {
        await exitWatch.waitIgnoringCancellation(limit: limit)
    }

    /// How many tasks are suspended waiting for the exit now (tests wait for a waiter before cancelling it).
    var suspendedWaiters: Int { exitWatch.suspendedWaiters }

    /// Stops the process: `signal` (SIGTERM unless told) to its process group, then SIGKILL if it has not exited
    /// after `grace`; returns once it is reaped. Works in a cancelled task (a stopped process still gets its grace
    /// and is reaped). The local launcher stops runs this way, and tests and the bench their servers.
    public func stop(signal: Int32 = SIGTERM, grace: Duration) async {
        guard !hasExited else { return }
        signalGroup(signal)
        if await waitIgnoringCancellation(upTo: grace) == nil {
            signalGroup(SIGKILL)
            _ = await waitIgnoringCancellation()
        }
    }

    /// Sends `signal` to the process group (the process and everything it started).
    public func signalGroup(_ signal: Int32) {
        guard !hasExited else { return }
        kill(-pid, signal)
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not expose;
/// nil where the C library lacks it.
private let closeInheritedDescriptors: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    #if canImport(Glibc)
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        return nil
    }
    return unsafeBitCast(
        symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
    )
    #else
    return nil
    #endif
}()

/// Calls `body` with a NULL-terminated array of C strings, valid only during the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
