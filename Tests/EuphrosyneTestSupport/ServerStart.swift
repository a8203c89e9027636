import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a test server (Prometheus, Alertmanager) on a port `nextPort` picks, in a fresh scratch directory, and
/// tries again on another port when the one picked was taken between probing and binding (`isPortTaken`). Any other
/// failure stops the half-started server and is thrown. Shared by `PrometheusProcess` and `AlertmanagerProcess`.
func startOnFreePort<Server: Sendable>(
    name: String, attempts: Int = 5, nextPort: () throws -> Int,
    make: (_ port: Int, _ directory: URL) -> Server,
    launch: (Server) async throws -> Void,
    stop: (Server) async -> Void,
    isPortTaken: (any Error) -> Bool
) async throws -> Server {
    var lastError: (any Error)?
    for _ in 0..<attempts {
        let port = try nextPort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = make(port, directory)
        do {
            try await launch(server)
            return server
        } catch where isPortTaken(error) {
            lastError = error
            await stop(server)
        } catch {
            await stop(server)
            throw error
        }
    }
    throw lastError ?? ServerStartError(description: "\(name) did not start")
}

struct ServerStartError: Error, CustomStringConvertible {
    var description: String
}

/// Sends `request` to 127.0.0.1:`port` over a plain blocking socket and returns the first chunk of the reply, or
/// nil when nothing answers within `timeoutSeconds`. For probes that must not go through a client library (its own
/// start-up or pool would distort them): the bench's start-up timing and the Redis PING.
public func loopbackExchange(port: Int, request: [UInt8], timeoutSeconds: Int, replyLimit: Int) -> [UInt8]? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
    var reply = [UInt8](repeating: 0, count: replyLimit)
    let count = recv(fd, &reply, reply.count, 0)
    guard count > 0 else { return nil }
    return Array(reply[0..<count])
}
