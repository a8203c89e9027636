import NIOCore

/// One complete, validated RESP2/RESP3 reply frame, kept as a view over its bytes (a `ByteBuffer` slice that shares
/// storage with the read buffer). The connection handler produces tokens with ``init(consuming:)``; commands' response
/// types decode them through ``RESPTokenDecodable``; tests and tools look at ``value``. Decoding is one level at a time
/// and on demand, so a large reply is never turned into a recursive tree up front.
public struct RESPToken: Hashable, Sendable, CustomStringConvertible {
    /// The bytes of the whole frame, type byte through final CRLF.
    public let base: ByteBuffer

    /// Frames the first complete token at the reader index of `buffer` and advances past it. Returns `nil`, leaving
    /// `buffer` untouched, when the frame is not complete yet (feed more bytes and call again). Throws
    /// ``RedisError/Code/protocolError`` for bytes that can never become valid RESP; the caller should close the
    /// connection then, since it can no longer tell where the next reply starts.
    public init?(consuming buffer: inout ByteBuffer) throws(RedisError) {
        let scanned = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(RedisError) -> Int? in try RESPFrameScanner.frameEnd(in: bytes, from: 0, depth: 0) }
        }
        guard let length = try scanned.get() else { return nil }
        // The scanner proved `length` readable bytes exist, so the slice cannot fail.
        guard let slice = buffer.readSlice(length: length) else { return nil }
        self.base = slice
    }

    /// Wraps a frame already known to be complete and valid (children of validated aggregates).
    init(validated base: ByteBuffer) {
        self.base = base
    }

    /// The RESP type byte of this frame (`+`, `-`, `:`, `$`, `*`, `_`, `#`, `,`, `(`, `!`, `=`, `%`, `~`, `>`, `|`).
    public var typeByte: UInt8 { base.getInteger(at: base.readerIndex, as: UInt8.self) ?? 0 }

    /// True for `>` push frames (RESP3 out-of-band data such as pub/sub messages).
    public var isPush: Bool { typeByte == UInt8(ascii: ">") }

    /// True for `|` attribute frames, which carry metadata about the next reply and are skipped by the client.
    public var isAttribute: Bool { typeByte == UInt8(ascii: "|") }

    /// The raw frame, for logs and test failures; control characters are escaped.
    public var description: String {
        var text = ""
        for byte in base.readableBytesView.prefix(256) {
            switch byte {
            case UInt8(ascii: "\r"): text += "\\r"
            case UInt8(ascii: "\n"): text += "\\n"
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default: text += "\\x" + String(byte, radix: 16)
            }
        }
        if base.readableBytes > 256 { text += "…(\(base.readableBytes) bytes)" }
        return "RESPToken(\(text))"
    }
}
