@testable import EuphrosyneRedis
import EuphrosyneTestSupport
import NIOCore
import Testing

/// Byte-exact framing and one-level decoding of every RESP2 and RESP3 reply type.
@Suite struct RESPTokenTests {
    @Test func simpleStringAndError() throws {
        #expect(try RESPToken.parse("+OK\r\n").value == .simpleString(ByteBuffer(string: "OK")))
        let error = try RESPToken.parse("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        #expect(error.value == .simpleError(ByteBuffer(string: "WRONGTYPE Operation against a key holding the wrong kind of value")))
        #expect(error.errorMessage == "WRONGTYPE Operation against a key holding the wrong kind of value")
        #expect(try RESPToken.parse("+\r\n").value == .simpleString(ByteBuffer()))
    }

    @Test func integers() throws {
        #expect(try RESPToken.parse(":1000\r\n").value == .number(1000))
        #expect(try RESPToken.parse(":-42\r\n").value == .number(-42))
        #expect(try RESPToken.parse(":9223372036854775807\r\n").value == .number(.max))
        #expect(try RESPToken.parse(":-9223372036854775808\r\n").value == .number(.min))
        #expect(throws: RedisError(.protocolError)) { try RESPToken.parse(":9223372036854775808\r\n") }
        #expect(throws: RedisError(.protocolError)) { try RESPToken.parse(":12a\r\n") }
        #expect(throws: RedisError(.protocolError)) { try RESPToken.parse(":\r\n") }
    }

    @Test func bulkStrings() throws {
        #expect(try RESPToken.parse("$5\r\nhello\r\n").value == .bulkString(ByteBuffer(string: "hello")))
        #expect(try RESPToken.parse("$0\r\n\r\n").value == .bulkString(ByteBuffer()))
        // Bulk strings are binary-safe: CRLF inside the payload is data.
        #expect(try RESPToken.parse("$4\r\na\r\nb\r\n").value == .bulkString(ByteBuffer(string: "a\r\nb")))
    }

    @Test func nulls() throws {
        for text in ["$-1\r\n", "*-1\r\n", "_\r\n"] {
            let token = try RESPToken.parse(text)
            #expect(token.value == .null)
            #expect(try String?(fromRESP: token) == nil)
            #expect(try RedisOK?(fromRESP: token) == nil)
        }
    }

    @Test func arraysNested() throws {
        let token = try RESPToken.parse("*3\r\n$3\r\nfoo\r\n:1\r\n*2\r\n+a\r\n*0\r\n")
        guard case .array(let children) = token.value else {
            Issue.record("not an array: \(token)")
            return
        }
        #expect(children.count == 3)
        let elements = Array(children)
        #expect(elements[0].value == .bulkString(ByteBuffer(string: "foo")))
        #expect(elements[1].value == .number(1))
        guard case .array(let inner) = elements[2].value else {
            Issue.record("not an array")
            return
        }
        let innerElements = Array(inner)
        #expect(innerElements.count == 2)
        #expect(innerElements[0].value == .simpleString(ByteBuffer(string: "a")))
        #expect(innerElements[1].base == ByteBuffer(string: "*0\r\n"))
        #expect(try RESPToken.parse("*0\r\n").value == .array(.init(count: 0, elements: ByteBuffer())))
    }

    @Test func resp3Scalars() throws {
        #expect(try RESPToken.parse("#t\r\n").value == .boolean(true))
        #expect(try RESPToken.parse("#f\r\n").value == .boolean(false))
        #expect(try RESPToken.parse(",3.14\r\n").value == .double(3.14))
        #expect(try RESPToken.parse(",inf\r\n").value == .double(.infinity))
        #expect(try RESPToken.parse(",-inf\r\n").value == .double(-.infinity))
        guard case .double(let nan) = try RESPToken.parse(",nan\r\n").value else {
            Issue.record("not a double")
            return
        }
        #expect(nan.isNaN)
        #expect(try RESPToken.parse("(3492890328409238509324850943850943825024385\r\n").value
            == .bigNumber(ByteBuffer(string: "3492890328409238509324850943850943825024385")))
        let bulkError = try RESPToken.parse("!21\r\nSYNTAX invalid syntax\r\n")
        #expect(bulkError.value == .bulkError(ByteBuffer(string: "SYNTAX invalid syntax")))
        #expect(bulkError.errorMessage == "SYNTAX invalid syntax")
        let verbatim = try RESPToken.parse("=15\r\ntxt:Some string\r\n")
        #expect(verbatim.value == .verbatimString(ByteBuffer(string: "Some string")))
        #expect(try String(fromRESP: verbatim) == "Some string")
    }

    @Test func mapSetAndPush() throws {
        let map = try RESPToken.parse("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n")
        guard case .map(let pairs) = map.value else {
            Issue.record("not a map")
            return
        }
        #expect(pairs.count == 2)
        #expect(pairs.map { $0.value.value } == [.number(1), .number(2)])
        #expect(try [String: Int](fromRESP: map) == ["first": 1, "second": 2])

        let set = try RESPToken.parse("~3\r\n+a\r\n+b\r\n+c\r\n")
        guard case .set = set.value else {
            Issue.record("not a set")
            return
        }
        #expect(try [String](fromRESP: set) == ["a", "b", "c"])

        let push = try RESPToken.parse(">3\r\n$7\r\nmessage\r\n$3\r\nch1\r\n$3\r\nhi3\r\n")
        #expect(push.isPush)
        guard case .push(let parts) = push.value else {
            Issue.record("not a push")
            return
        }
        #expect(try parts.map { try String(fromRESP: $0) } == ["message", "ch1", "hi3"])
    }

    @Test func attributesAreSeparateTokensAndSkippedInsideAggregates() throws {
        var buffer = ByteBuffer(string: "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n")
        let attribute = try #require(try RESPToken(consuming: &buffer))
        #expect(attribute.isAttribute)
        guard case .attribute(let metadata) = attribute.value else {
            Issue.record("not an attribute")
            return
        }
        #expect(metadata.count == 1)
        let reply = try #require(try RESPToken(consuming: &buffer))
        #expect(try [Int](fromRESP: reply) == [2_039_123, 9_543_892])
        #expect(buffer.readableBytes == 0)

        let annotated = try RESPToken.parse("*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n")
        #expect(try [Int](fromRESP: annotated) == [1, 2])
    }

    @Test func oneByteAtATime() throws {
        let frame = Array("*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n%1\r\n+k\r\n=8\r\ntxt:v\r\nx\r\n".utf8)
        var buffer = ByteBuffer()
        for (index, byte) in frame.enumerated() {
            buffer.writeInteger(byte)
            let token = try RESPToken(consuming: &buffer)
            if index < frame.count - 1 {
                #expect(token == nil, "complete too early at byte \(index)")
                #expect(buffer.readableBytes == index + 1, "consumed bytes of an incomplete frame")
            } else {
                #expect(token?.base == ByteBuffer(bytes: frame))
            }
        }
        #expect(buffer.readableBytes == 0)
        #expect(try RESPToken(consuming: &buffer) == nil)
    }

    @Test func everySplitPointYieldsTheSameTokens() throws {
        let stream = Array("+OK\r\n:5\r\n$3\r\nabc\r\n*2\r\n$1\r\nx\r\n_\r\n>2\r\n+pong\r\n$0\r\n\r\n,1.5\r\n".utf8)
        var expected: [RESPToken] = []
        var whole = ByteBuffer(bytes: stream)
        while let token = try RESPToken(consuming: &whole) { expected.append(token) }
        #expect(expected.count == 6)
        for split in 0...stream.count {
            var buffer = ByteBuffer(bytes: stream[0..<split])
            var tokens: [RESPToken] = []
            while let token = try RESPToken(consuming: &buffer) { tokens.append(token) }
            buffer.writeBytes(stream[split...])
            while let token = try RESPToken(consuming: &buffer) { tokens.append(token) }
            #expect(tokens == expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func twoFramesInOneBuffer() throws {
        var buffer = ByteBuffer(string: "+PONG\r\n:7\r\n+partial")
        #expect(try RESPToken(consuming: &buffer)?.value == .simpleString(ByteBuffer(string: "PONG")))
        #expect(try RESPToken(consuming: &buffer)?.value == .number(7))
        #expect(try RESPToken(consuming: &buffer) == nil)
        #expect(buffer.readableBytes == "+partial".utf8.count)
    }

    @Test func fiveMegabyteBulkStringInChunks() throws {
        let size = 5 * 1024 * 1024
        var frame = ByteBuffer(string: "$\(size)\r\n")
        frame.writeRepeatingByte(UInt8(ascii: "z"), count: size)
        frame.writeString("\r\n+after\r\n")
        var buffer = ByteBuffer()
        var tokens: [RESPToken] = []
        while frame.readableBytes > 0 {
            var chunk = frame.readSlice(length: min(65_536, frame.readableBytes)) ?? ByteBuffer()
            buffer.writeBuffer(&chunk)
            while let token = try RESPToken(consuming: &buffer) { tokens.append(token) }
        }
        #expect(tokens.count == 2)
        guard case .bulkString(let payload) = tokens.first?.value else {
            Issue.record("not a bulk string")
            return
        }
        #expect(payload.readableBytes == size)
        var expected = ByteBuffer()
        expected.writeRepeatingByte(UInt8(ascii: "z"), count: size)
        #expect(payload == expected)
        #expect(tokens.last?.value == .simpleString(ByteBuffer(string: "after")))
    }

    @Test(arguments: [
        "?x\r\n", // unknown type byte
        "$abc\r\n", // bad length
        "$-2\r\n", // negative length other than null
        "$3\r\nabcXY", // payload not followed by CRLF
        "+OK\rX", // CR without LF
        "$?\r\n", // streamed string
        "*?\r\n", // streamed aggregate
        "%?\r\n",
        "#x\r\n", // bad boolean
        ",abc\r\n", // bad double
        "=3\r\nabc\r\n", // verbatim without format prefix
        "_x\r\n", // null with content
        "!-1\r\n", // bulk error cannot be null
        "*99999999999\r\n", // count beyond any real reply
        "$999999999999\r\n", // bulk length beyond proto-max-bulk-len
        "(12x\r\n",
    ])
    func malformedInputIsAProtocolError(_ text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: RedisError(.protocolError)) { try RESPToken(consuming: &buffer) }
    }

    @Test func nestingDepthIsCapped() throws {
        var deep = ByteBuffer(string: String(repeating: "*1\r\n", count: 100) + ":1\r\n")
        #expect(throws: RedisError(.protocolError)) { try RESPToken(consuming: &deep) }
        var fine = ByteBuffer(string: String(repeating: "*1\r\n", count: 10) + ":1\r\n")
        #expect(try RESPToken(consuming: &fine) != nil)
    }

    @Test func hugeAnnouncedCountWaitsWithoutScanning() throws {
        var buffer = ByteBuffer(string: "*1000000000\r\n:1\r\n")
        #expect(try RESPToken(consuming: &buffer) == nil)
    }
}
