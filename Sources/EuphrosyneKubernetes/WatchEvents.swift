import AsyncHTTPClient
import Foundation
import NIOCore

/// The events of one watch request (`KubernetesClient.watch`), read from its response body as the caller iterates:
/// newline-delimited JSON framed across chunks, each event decoded once. No task runs behind it and nothing is
/// buffered beyond the line being read (at most `maxEventBytes`), so a slow reader slows the server's stream
/// instead of growing memory.
public struct WatchEvents<Object: KubernetesObject>: AsyncSequence {
    public typealias Element = WatchEvent<Object>

    /// The largest event a watch may carry (an object the API server would store is far smaller).
    public static var maxEventBytes: Int { 16 << 20 }

    let body: HTTPClientResponse.Body

    public func makeAsyncIterator() -> Iterator {
        Iterator(chunks: body.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        var pending = ByteBuffer()
        var ended = false

        public mutating func next() async throws -> WatchEvent<Object>? {
            while true {
                if let line = nextLine() {
                    if let event = try WatchEvents.decode(line) { return event }
                    continue
                }
                guard !ended else { return nil }
                let chunk: ByteBuffer?
                do {
                    chunk = try await chunks.next()
                } catch {
                    throw KubernetesError(.transport, message: "the watch stream broke: \(error)", underlying: error)
                }
                guard var chunk else {
                    ended = true
                    // The last event may lack its newline.
                    guard pending.readableBytes > 0 else { return nil }
                    let rest = pending.readSlice(length: pending.readableBytes)!
                    pending.clear()
                    return try WatchEvents.decode(rest)
                }
                pending.writeBuffer(&chunk)
                guard pending.readableBytes <= WatchEvents.maxEventBytes else {
                    throw KubernetesError(.unexpectedResponse, message: "a watch event is larger than \(WatchEvents.maxEventBytes) bytes")
                }
            }
        }

        /// The next complete line of the pending bytes, without its newline.
        mutating func nextLine() -> ByteBuffer? {
            guard let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let length = newline - pending.readerIndex
            let line = pending.readSlice(length: length)!
            pending.moveReaderIndex(forwardBy: 1)
            if pending.readableBytes == 0 { pending.clear() } else if pending.readerIndex > 1 << 16 { pending.discardReadBytes() }
            return line
        }
    }

    /// One watch event line, decoded once: its type, and its object as `Object` (or as a `Status` for an `ERROR`,
    /// thrown). Nil for a blank line.
    static func decode(_ line: ByteBuffer) throws(KubernetesError) -> WatchEvent<Object>? {
        guard line.readableBytesView.contains(where: { !($0 == 32 || $0 == 9 || $0 == 13 || $0 == 10) }) else { return nil }
        let wire: WireEvent
        do {
            wire = try JSONDecoder().decode(WireEvent.self, from: Data(line.readableBytesView))
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw KubernetesError(.unexpectedResponse, message: "cannot decode a watch event of \(Object.self): \(error)")
        }
        return wire.event
    }

    /// `{"type": …, "object": …}`: the object decoded as what the type says it is.
    struct WireEvent: Decodable {
        var event: WatchEvent<Object>

        enum CodingKeys: String, CodingKey { case type, object }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let type = try container.decode(String.self, forKey: .type)
            if type == "ERROR" {
                let status = try? container.decode(APIStatus.self, forKey: .object)
                throw KubernetesError.api(status: status?.code ?? 500, apiStatus: status,
                                          message: status?.message ?? "watch error")
            }
            guard let kind = WatchEvent<Object>.Kind(rawValue: type) else {
                throw KubernetesError(.unexpectedResponse, message: "unknown watch event type \(type)")
            }
            event = WatchEvent(kind: kind, object: try container.decode(Object.self, forKey: .object))
        }
    }
}
