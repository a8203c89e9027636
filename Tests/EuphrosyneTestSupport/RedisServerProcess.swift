import EuphrosyneSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `redis-server` for one test: started on a free loopback port with persistence off and its own temp
/// `--dir`, ready once it answers PING, stopped (and its directory removed) by ``stop()``. Tests use ``kill()`` and
/// ``restart()`` to simulate a crash and a comeback on the same port. Self-contained (Foundation `Process` + POSIX)
/// so it can move to a shared test-support target.
public actor RedisServerProcess {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public nonisolated let port: Int
    public nonisolated let directory: URL
    private let binary: String
    private let extraArguments: [String]
    private var process: ChildProcess?

    private init(binary: String, port: Int, directory: URL, extraArguments: [String]) {
        self.binary = binary
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
    }

    /// Starts a server with `extra` arguments appended (e.g. `["--requirepass", "s3cret"]`), retrying on another
    /// port in the rare case the free port was taken between probing and binding.
    public static func start(arguments extra: [String] = []) async throws -> RedisServerProcess {
        let binary = try executable(named: "redis-server")
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try freePort()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let server = RedisServerProcess(binary: binary, port: port, directory: directory, extraArguments: extra)
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                await server.stop()
            }
        }
        throw lastError ?? StartError(description: "redis-server did not start")
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after a deadline) and removes its directory.
    public func stop() async {
        await terminate(signal: SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Kills the server abruptly (SIGKILL), as a crash would; ``restart()`` brings it back on the same port.
    public func kill() async {
        await terminate(signal: SIGKILL)
    }

    /// Stops the server if it runs and starts it again on the same port, with the same arguments.
    public func restart() async throws {
        await terminate(signal: SIGTERM)
        // The port was ours a moment ago; a brief retry covers the listener not being released yet.
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try await launch()
                return
            } catch {
                if ContinuousClock.now > deadline { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    public var isRunning: Bool { process.map { !$0.hasExited } ?? false }

    private func launch() async throws {
        let process = try await ChildProcess.spawn(
            executable: binary,
            arguments: [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", directory.path,
                "--logfile", directory.appendingPathComponent("redis.log").path,
            ] + extraArguments,
            environment: ProcessInfo.processInfo.environment
        )
        self.process = process
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if process.hasExited {
                self.process = nil
                let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
                throw StartError(description: "redis-server exited during start-up (port \(port)): \(log.suffix(500))")
            }
            // Any answer means it serves: PONG, or a refusal when the default user needs a password (NOAUTH) or
            // may not PING (NOPERM, with an ACL file).
            if let reply = Self.ping(port: port), reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH") || reply.hasPrefix("-NOPERM") {
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await terminate(signal: SIGKILL)
        throw StartError(description: "redis-server on port \(port) did not answer PING in time")
    }

    private func terminate(signal: Int32) async {
        guard let process else { return }
        self.process = nil
        await process.stop(signal: signal, grace: .seconds(10))
    }

    /// `redis-server` (or another tool) on PATH, else in /usr/bin; a clear failure when it is not installed.
    public static func executable(named name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") + ["/usr/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw StartError(description: "\(name) not found on PATH or in /usr/bin: install it (apt-get install redis-server redis-tools; scripts/test does)")
    }

    /// Ports handed out in this test process. A killed server's port is free again, and another test must not
    /// take it while the first one waits to restart there.
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port that was free a moment ago and never handed out by this process before.
    public static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = try probePort()
            if handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
        throw StartError(description: "no fresh free port")
    }

    /// Binds 127.0.0.1:0, reads the port the kernel chose, closes.
    private static func probePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw StartError(description: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw StartError(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Sends an inline PING over a plain socket and returns the first reply line, or nil when nothing answers.
    public static func ping(port: Int) -> String? {
        loopbackExchange(port: port, request: Array("PING\r\n".utf8), timeoutSeconds: 1, replyLimit: 256)
            .map { String(decoding: $0, as: UTF8.self) }
    }
}


