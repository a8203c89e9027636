import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP connection to a loopback listener that sends bytes exactly as given, for tests of how a listener treats
/// malformed, slow or hostile HTTP: no client library normalises paths, fixes framing or times anything out.
///
/// Reads are recorded as they arrive (on NIO's event loop, never blocking a test's thread); `response()` waits,
/// with a deadline, for the next whole response.
public final class RawHTTPConnection: Sendable {
    private let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to 127.0.0.1:`port`. `sending` goes out the moment the connection is up, from NIO's event loop:
    /// a test of the server's read deadlines then does not depend on how soon a busy machine resumes the test.
    public static func open(port: Int, sending initial: String? = nil) async throws -> RawHTTPConnection {
        let inbox = Inbox()
        let initialBytes = initial.map { Array($0.utf8) }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Recorder(inbox: inbox, initial: initialBytes))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawHTTPConnection(channel: channel, inbox: inbox)
    }

    /// Opens a connection, runs `body` with it and closes it, on every path.
    public static func with<T: Sendable>(
        port: Int, sending initial: String? = nil, _ body: (RawHTTPConnection) async throws -> T
    ) async throws -> T {
        let connection = try await open(port: port, sending: initial)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// One request on a fresh connection and its answer. The request goes out from NIO's event loop as soon as the
    /// connection is up, so a listener with a short read timeout never sees an idle connection on a busy machine.
    public static func exchange(port: Int, _ request: String, timeout: Duration = .seconds(30)) async throws -> RawHTTPResponse {
        try await with(port: port, sending: request) { try await $0.response(timeout: timeout) }
    }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Whether the server closed the connection.
    public var isClosed: Bool { inbox.isClosed }

    /// Waits until the server closes the connection; throws `TestTimeout` after `timeout`.
    public func waitUntilClosed(timeout: Duration = .seconds(10)) async throws {
        try await waitUntil("the server to close the connection", timeout: timeout, pollEvery: .milliseconds(10)) {
            inbox.isClosed
        }
    }

    /// The next whole response (its body framed by Content-Length, chunked encoding, or the connection closing);
    /// throws `TestTimeout` when none is complete within `timeout`.
    public func response(timeout: Duration = .seconds(10)) async throws -> RawHTTPResponse {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let response = inbox.takeResponse() { return response }
            guard ContinuousClock.now < deadline else {
                throw TestTimeout(what: "a whole HTTP response (closed: \(inbox.isClosed))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Nothing arrived that forms a response, up to now.
    public var hasNoResponse: Bool { inbox.isEmpty }

    public func close() async {
        try? await channel.close()
    }

    final class Inbox: Sendable {
        private let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))

        func append(_ bytes: [UInt8]) { state.withLock { $0.bytes += bytes } }
        func markClosed() { state.withLock { $0.closed = true } }
        var isClosed: Bool { state.withLock { $0.closed } }
        var isEmpty: Bool { state.withLock { $0.bytes.isEmpty } }

        /// Removes and returns the first whole response, if one has arrived.
        func takeResponse() -> RawHTTPResponse? {
            state.withLock { state in
                guard let (response, used) = RawHTTPResponse.parse(state.bytes, closed: state.closed) else { return nil }
                state.bytes.removeFirst(used)
                return response
            }
        }
    }

    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let inbox: Inbox
        let initial: [UInt8]?

        init(inbox: Inbox, initial: [UInt8]?) {
            self.inbox = inbox
            self.initial = initial
        }

        func channelActive(context: ChannelHandlerContext) {
            if let initial { context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: initial)), promise: nil) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            inbox.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.markClosed()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset by the server counts as closing; the test sees it through `isClosed`.
            context.close(promise: nil)
        }
    }
}

/// A response as `RawHTTPConnection` read it off the wire.
public struct RawHTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased, in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name == name.lowercased() }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The `code` of a JSON error body (`{"error": {"code": …}}`).
    public var errorCode: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let error = object["error"] as? [String: Any]
        else { return nil }
        return error["code"] as? String
    }

    /// The response at the start of `bytes` and how many bytes it took, or nil when it is not complete yet.
    static func parse(_ bytes: [UInt8], closed: Bool) -> (RawHTTPResponse, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = RawHTTPResponse(status: status, headers: headers, body: [])
        let bodyStart = headEnd.upperBound
        if let length = response.header("content-length").flatMap(Int.init) {
            guard bytes.count - bodyStart >= length else { return nil }
            response.body = Array(bytes[bodyStart..<(bodyStart + length)])
            return (response, bodyStart + length)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var index = bodyStart
            while true {
                guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { return nil }
                let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { return nil }
                let dataStart = lineEnd.upperBound
                guard bytes.count >= dataStart + size + 2 else { return nil }
                if size == 0 { return (response, dataStart + 2) }
                response.body += bytes[dataStart..<(dataStart + size)]
                index = dataStart + size + 2
            }
        }
        // Neither: the body runs to the close (or is empty for statuses that have none).
        if [204, 304].contains(status) || (100..<200).contains(status) { return (response, bodyStart) }
        guard closed else { return nil }
        response.body = Array(bytes[bodyStart...])
        return (response, bytes.count)
    }
}
