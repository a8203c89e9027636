import NIOCore

/// Writes commands the way Redis wants them from clients: an array of bulk strings. Each ``RedisCommand`` encodes
/// itself into one; the connection sends the resulting ``buffer``; tests build expected bytes with it too.
public struct RESPCommandEncoder: Sendable {
    public private(set) var buffer: ByteBuffer

    public init(buffer: ByteBuffer = ByteBuffer()) {
        self.buffer = buffer
    }

    /// Appends one command, `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` for each argument.
    public mutating func encodeArray(_ arguments: [any RESPBulkStringEncodable]) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments { argument.encodeBulkString(into: &buffer) }
    }

    public mutating func encodeArray(_ arguments: any RESPBulkStringEncodable...) {
        encodeArray(arguments)
    }
}

/// A value that can be one bulk-string argument of a command: strings, byte buffers, integers and doubles.
public protocol RESPBulkStringEncodable: Sendable {
    func encodeBulkString(into buffer: inout ByteBuffer)
}

extension RESPBulkStringEncodable {
    fileprivate func writeBulk(_ bytes: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("$")
        buffer.writeString(String(bytes.count))
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }
}

extension String: RESPBulkStringEncodable {
    public func encodeBulkString(into buffer: inout ByteBuffer) { writeBulk(utf8, into: &buffer) }
}

extension Substring: RESPBulkStringEncodable {
    public func encodeBulkString(into buffer: inout ByteBuffer) { writeBulk(utf8, into: &buffer) }
}

extension ByteBuffer: RESPBulkStringEncodable {
    public func encodeBulkString(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("$")
        buffer.writeString(String(readableBytes))
        buffer.writeStaticString("\r\n")
        buffer.writeImmutableBuffer(self)
        buffer.writeStaticString("\r\n")
    }
}

extension Int: RESPBulkStringEncodable {
    public func encodeBulkString(into buffer: inout ByteBuffer) { String(self).encodeBulkString(into: &buffer) }
}

extension Int64: RESPBulkStringEncodable {
    public func encodeBulkString(into buffer: inout ByteBuffer) { String(self).encodeBulkString(into: &buffer) }
}

extension Double: RESPBulkStringEncodable {
    /// Redis parses scores with strtod: `inf`/`-inf` for infinities, Swift's shortest round-trip text otherwise.
    public func encodeBulkString(into buffer: inout ByteBuffer) {
        let text: String
        if self == .infinity {
            text = "+inf"
        } else if self == -.infinity {
            text = "-inf"
        } else {
            text = String(self)
        }
        text.encodeBulkString(into: &buffer)
    }
}
