import EuphrosyneTestSupport
import EuphrosyneRedis
import NIOCore
import Testing

/// Decoding replies into Swift types, and server errors surfacing as thrown RedisErrors.
@Suite struct RESPTokenDecodableTests {
    @Test func scalars() throws {
        #expect(try Int(fromRESP: .parse(":5\r\n")) == 5)
        #expect(try Int(fromRESP: .parse("$2\r\n12\r\n")) == 12)
        #expect(try Int64(fromRESP: .parse(":-7\r\n")) == -7)
        #expect(try Double(fromRESP: .parse("$4\r\n3.25\r\n")) == 3.25)
        #expect(try Double(fromRESP: .parse(",3.25\r\n")) == 3.25)
        #expect(try Double(fromRESP: .parse("$4\r\n-inf\r\n")) == -.infinity)
        #expect(try Bool(fromRESP: .parse(":1\r\n")))
        #expect(try !Bool(fromRESP: .parse("#f\r\n")))
        #expect(try String(fromRESP: .parse("$5\r\nhello\r\n")) == "hello")
        #expect(try String(fromRESP: .parse("+PONG\r\n")) == "PONG")
        #expect(try ByteBuffer(fromRESP: .parse("$3\r\n\u{0}\u{1}\u{2}\r\n")) == ByteBuffer(bytes: [0, 1, 2]))
    }

    @Test func collections() throws {
        #expect(try [String](fromRESP: .parse("*2\r\n$1\r\na\r\n$1\r\nb\r\n")) == ["a", "b"])
        #expect(try [String?](fromRESP: .parse("*2\r\n$1\r\na\r\n$-1\r\n")) == ["a", nil])
        #expect(try [String: String](fromRESP: .parse("*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n")) == ["f": "v", "g": "w"])
        #expect(try [String: String](fromRESP: .parse("%1\r\n$1\r\nf\r\n$1\r\nv\r\n")) == ["f": "v"])
        #expect(throws: RedisError(.unexpectedResponse)) { try [String: String](fromRESP: .parse("*1\r\n$1\r\nf\r\n")) }
    }

    @Test func okAndNil() throws {
        #expect(try RedisOK(fromRESP: .parse("+OK\r\n")) == RedisOK())
        #expect(throws: RedisError(.unexpectedResponse)) { try RedisOK(fromRESP: .parse("+QUEUED\r\n")) }
        #expect(try RedisOK?(fromRESP: .parse("$-1\r\n")) == nil)
        #expect(try RedisOK?(fromRESP: .parse("+OK\r\n")) == RedisOK())
    }

    @Test func errorRepliesThrowWithTheServerText() throws {
        let token = try RESPToken.parse("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        let error = #expect(throws: RedisError.self) { try String(fromRESP: token) }
        #expect(error?.code == .serverError)
        #expect(error?.message == "WRONGPASS invalid username-password pair or user is disabled.")
        #expect(error?.serverErrorPrefix == "WRONGPASS")
        #expect(throws: RedisError(.serverError)) { try RESPToken(fromRESP: .parse("!5\r\nERR x\r\n")) }
        #expect(throws: RedisError(.serverError)) { try Int?(fromRESP: .parse("-ERR nope\r\n")) }
        #expect(throws: RedisError(.unexpectedResponse)) { try Int(fromRESP: .parse("+OK\r\n")) }
    }

    @Test func errorEqualityIsOnTheCode() {
        #expect(RedisError(.timeout, message: "a") == RedisError(.timeout, message: "b"))
        #expect(RedisError(.timeout) != RedisError(.connectionClosed))
        #expect("\(RedisError(.serverError, message: "ERR x"))".contains("ERR x"))
    }
}
