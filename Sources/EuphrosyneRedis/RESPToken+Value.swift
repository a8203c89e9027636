import NIOCore

extension RESPToken {
    /// One level of a token, decoded: scalars carry their bytes or number, aggregates carry lazy views of their
    /// children. Returned by ``RESPToken/value``; the ``RESPTokenDecodable`` conformances switch over it.
    public enum Value: Hashable, Sendable {
        case simpleString(ByteBuffer)
        case simpleError(ByteBuffer)
        case bulkString(ByteBuffer)
        /// `$-1`, `*-1` (RESP2) and `_` (RESP3).
        case null
        case number(Int64)
        case double(Double)
        case boolean(Bool)
        /// The digits (with sign) of a RESP3 big number, which may not fit any fixed-width integer.
        case bigNumber(ByteBuffer)
        case bulkError(ByteBuffer)
        /// The text of a RESP3 verbatim string with its three-letter format and colon removed.
        case verbatimString(ByteBuffer)
        case array(RESPToken.Array)
        case map(RESPToken.Map)
        case set(RESPToken.Array)
        case push(RESPToken.Array)
        case attribute(RESPToken.Map)
    }

    /// Decodes this frame one level. Cheap for scalars; for aggregates it only finds where the children start.
    public var value: Value {
        let type = typeByte
        let header: (start: Int, end: Int, next: Int)? = base.withUnsafeReadableBytes { bytes in
            (try? RESPFrameScanner.line(in: bytes, from: 1)) ?? nil
        }
        // Tokens are only built from validated frames, so a missing header cannot happen; `.null` keeps this total.
        guard let header else { return .null }
        let reader = base.readerIndex
        func line() -> ByteBuffer { base.getSlice(at: reader + header.start, length: header.end - header.start) ?? ByteBuffer() }
        func lineInteger() -> Int64 {
            base.withUnsafeReadableBytes { RESPFrameScanner.parseInteger($0, header.start, header.end) } ?? 0
        }
        func payload() -> ByteBuffer? {
            let length = Int(lineInteger())
            guard length >= 0 else { return nil }
            return base.getSlice(at: reader + header.next, length: length)
        }
        func children(pairs: Bool) -> (count: Int, buffer: ByteBuffer)? {
            let count = Int(lineInteger())
            guard count >= 0 else { return nil }
            let rest = base.getSlice(at: reader + header.next, length: base.readableBytes - header.next) ?? ByteBuffer()
            return (count, rest)
        }

        switch type {
        case UInt8(ascii: "+"): return .simpleString(line())
        case UInt8(ascii: "-"): return .simpleError(line())
        case UInt8(ascii: ":"): return .number(lineInteger())
        case UInt8(ascii: "("): return .bigNumber(line())
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .boolean(line().readableBytesView.first == UInt8(ascii: "t"))
        case UInt8(ascii: ","):
            return .double(base.withUnsafeReadableBytes { RESPFrameScanner.parseDouble($0, header.start, header.end) } ?? .nan)
        case UInt8(ascii: "$"): return payload().map(Value.bulkString) ?? .null
        case UInt8(ascii: "!"): return .bulkError(payload() ?? ByteBuffer())
        case UInt8(ascii: "="):
            guard var text = payload() else { return .null }
            text.moveReaderIndex(forwardBy: 4)
            return .verbatimString(text)
        case UInt8(ascii: "*"):
            guard let (count, rest) = children(pairs: false) else { return .null }
            return .array(Array(count: count, elements: rest))
        case UInt8(ascii: "~"):
            guard let (count, rest) = children(pairs: false) else { return .null }
            return .set(Array(count: count, elements: rest))
        case UInt8(ascii: ">"):
            guard let (count, rest) = children(pairs: false) else { return .null }
            return .push(Array(count: count, elements: rest))
        case UInt8(ascii: "%"):
            guard let (count, rest) = children(pairs: true) else { return .null }
            return .map(Map(count: count, elements: rest))
        default:
            guard let (count, rest) = children(pairs: true) else { return .null }
            return .attribute(Map(count: count, elements: rest))
        }
    }

    /// The error text when this token is a simple or bulk error, else `nil`.
    public var errorMessage: String? {
        switch value {
        case .simpleError(let text), .bulkError(let text): return String(buffer: text)
        default: return nil
        }
    }
}
