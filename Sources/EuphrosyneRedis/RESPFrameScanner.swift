/// Finds where one RESP frame ends without copying or decoding it, and rejects anything malformed. Used by
/// ``RESPToken/init(consuming:)`` (framing and validation in one pass) and by ``RESPToken/value`` (header lines).
/// Works on raw bytes so a frame can be checked wherever the read boundaries fell.
enum RESPFrameScanner {
    /// Deeper nesting than this is refused: real replies nest a handful of levels, and the scanner recurses.
    static let maximumDepth = 64
    /// Redis's own `proto-max-bulk-len` default; a larger announced length is hostile or corrupt.
    static let maximumBulkLength = 512 * 1024 * 1024
    /// Aggregates announce counts up to this; anything larger cannot be a real reply.
    static let maximumAggregateCount = Int(Int32.max)
    /// A simple line (`+`, `-`, numbers) longer than this without CRLF is refused rather than buffered forever.
    static let maximumLineLength = 1024 * 1024

    private static let knownTypes: Set<UInt8> = Set("+-:$*_#,(!=%~>|".utf8)
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// The offset just past the frame starting at `start`, `nil` when more bytes are needed.
    static func frameEnd(in bytes: UnsafeRawBufferPointer, from start: Int, depth: Int) throws(RedisError) -> Int? {
        guard start < bytes.count else { return nil }
        guard depth < maximumDepth else { throw protocolError("nesting deeper than \(maximumDepth) levels") }
        let type = bytes[start]
        // Reject an unknown type byte at once rather than waiting for a line that may never come.
        guard knownTypes.contains(type) else { throw protocolError("unknown type byte 0x\(String(type, radix: 16))") }
        guard let (lineStart, lineEnd, next) = try line(in: bytes, from: start + 1) else { return nil }
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            return next
        case UInt8(ascii: ":"):
            guard parseInteger(bytes, lineStart, lineEnd) != nil else { throw protocolError("bad integer") }
            return next
        case UInt8(ascii: "("):
            guard isBigNumber(bytes, lineStart, lineEnd) else { throw protocolError("bad big number") }
            return next
        case UInt8(ascii: ","):
            guard parseDouble(bytes, lineStart, lineEnd) != nil else { throw protocolError("bad double") }
            return next
        case UInt8(ascii: "#"):
            guard lineEnd - lineStart == 1, bytes[lineStart] == UInt8(ascii: "t") || bytes[lineStart] == UInt8(ascii: "f")
            else { throw protocolError("bad boolean") }
            return next
        case UInt8(ascii: "_"):
            guard lineEnd == lineStart else { throw protocolError("bad null") }
            return next
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try header(bytes, lineStart, lineEnd, allowsNull: type == UInt8(ascii: "$"))
            if length < 0 { return next }
            guard length <= maximumBulkLength else { throw protocolError("bulk length \(length) over limit") }
            let end = next + length
            guard end + 2 <= bytes.count else { return nil }
            guard bytes[end] == cr, bytes[end + 1] == lf else { throw protocolError("bulk string not followed by CRLF") }
            if type == UInt8(ascii: "="), length < 4 || bytes[next + 3] != UInt8(ascii: ":") {
                throw protocolError("verbatim string without a format prefix")
            }
            return end + 2
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try header(bytes, lineStart, lineEnd, allowsNull: type == UInt8(ascii: "*"))
            if count < 0 { return next }
            guard count <= maximumAggregateCount else { throw protocolError("aggregate count \(count) over limit") }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            let elements = isPairs ? count * 2 : count
            // Every element needs at least three bytes (`_\r\n`): if they cannot all be here, wait without scanning.
            if elements > (bytes.count - next) / 3 { return nil }
            var position = next
            var remaining = elements
            while remaining > 0 {
                guard position < bytes.count else { return nil }
                let isAttribute = bytes[position] == UInt8(ascii: "|")
                guard let end = try frameEnd(in: bytes, from: position, depth: depth + 1) else { return nil }
                position = end
                // An attribute annotates the element after it and does not count as one.
                if !isAttribute { remaining -= 1 }
            }
            return position
        default:
            throw protocolError("unknown type byte 0x\(String(type, radix: 16))")
        }
    }

    /// The content bounds of the CRLF-terminated line starting at `from`, and the offset after its CRLF.
    static func line(in bytes: UnsafeRawBufferPointer, from: Int) throws(RedisError) -> (Int, Int, Int)? {
        var index = from
        let limit = min(bytes.count, from + maximumLineLength)
        while index < limit {
            if bytes[index] == cr {
                guard index + 1 < bytes.count else { return nil }
                guard bytes[index + 1] == lf else { throw protocolError("CR not followed by LF") }
                return (from, index, index + 2)
            }
            if bytes[index] == lf { throw protocolError("LF without CR") }
            index += 1
        }
        if limit < bytes.count || bytes.count - from >= maximumLineLength {
            throw protocolError("line longer than \(maximumLineLength) bytes")
        }
        return nil
    }

    /// A length or count header: a non-negative integer, or `-1` (null) where RESP2 allows it. `?` (streamed
    /// aggregates and strings) is refused: Redis never sends them to clients and we do not support them.
    private static func header(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, allowsNull: Bool) throws(RedisError) -> Int {
        if end - start == 1, bytes[start] == UInt8(ascii: "?") { throw protocolError("streamed aggregates are not supported") }
        guard end - start <= 11, let value = parseInteger(bytes, start, end) else { throw protocolError("bad length") }
        if value == -1, allowsNull { return -1 }
        guard value >= 0 else { throw protocolError("negative length \(value)") }
        return Int(value)
    }

    /// A signed 64-bit decimal, strictly (no spaces, no empty digits, overflow refused).
    static func parseInteger(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int64? {
        var index = start
        var negative = false
        if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < end else { return nil }
        var value: Int64 = 0
        while index < end {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = negative
                ? times.subtractingReportingOverflow(Int64(digit)) : times.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        return value
    }

    static func parseDouble(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Double? {
        guard end > start, end - start < 400 else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        return Double(text)
    }

    private static func isBigNumber(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Bool {
        var index = start
        if index < end, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") { index += 1 }
        guard index < end else { return false }
        while index < end {
            guard bytes[index] &- UInt8(ascii: "0") < 10 else { return false }
            index += 1
        }
        return true
    }

    private static func protocolError(_ message: String) -> RedisError {
        RedisError(.protocolError, message: message)
    }
}
