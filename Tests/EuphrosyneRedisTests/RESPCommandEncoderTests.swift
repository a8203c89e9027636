import EuphrosyneTestSupport
import EuphrosyneRedis
import NIOCore
import Testing

/// Commands go out as arrays of bulk strings, byte for byte.
@Suite struct RESPCommandEncoderTests {
    private func encoded(_ command: some RedisCommand) -> String {
        var encoder = RESPCommandEncoder()
        command.encode(into: &encoder)
        return String(buffer: encoder.buffer)
    }

    @Test func setWithExpiryAndCondition() {
        #expect(encoded(SET("k", value: "v", expiration: .seconds(10), condition: .ifNotExists))
            == "*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n10\r\n$2\r\nNX\r\n")
        #expect(encoded(SET("k", value: "v", expiration: .milliseconds(1500), condition: .ifExists))
            == "*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n$2\r\nXX\r\n")
        #expect(encoded(SET("k", value: "")) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
    }

    @Test func lengthsCountUTF8Bytes() {
        #expect(encoded(GET("é")) == "*2\r\n$3\r\nGET\r\n$2\r\né\r\n")
    }

    @Test func handshakeCommands() {
        #expect(encoded(HELLO(protocolVersion: 3)) == "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        #expect(encoded(HELLO(protocolVersion: 3, password: "pw", clientName: "app"))
            == "*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n")
        #expect(encoded(AUTH(username: "u", password: "p")) == "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n")
        #expect(encoded(SELECT(3)) == "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n")
        #expect(encoded(CLIENT.SETNAME("n")) == "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n")
    }

    @Test func passwordsStayOutOfDescriptions() {
        #expect(!"\(HELLO(protocolVersion: 3, username: "u", password: "hunter2"))".contains("hunter2"))
        #expect(!"\(AUTH(password: "hunter2"))".contains("hunter2"))
    }

    @Test func variadicAndNumericCommands() {
        #expect(encoded(DEL("a", "b")) == "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(encoded(ZADD("z", score: 1.5, member: "m")) == "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n")
        #expect(encoded(ZREMRANGEBYSCORE("z", min: .negativeInfinity, max: .exclusive(5)))
            == "*4\r\n$16\r\nZREMRANGEBYSCORE\r\n$1\r\nz\r\n$4\r\n-inf\r\n$4\r\n(5.0\r\n")
        #expect(encoded(HSET("h", ["f": "v"])) == "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n")
        #expect(encoded(EVAL("return 1", keys: ["k"], arguments: ["a"]))
            == "*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\na\r\n")
        #expect(encoded(PUBLISH("ch", message: "hi")) == "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nhi\r\n")
        #expect(encoded(RedisRawCommand("DEBUG", "SLEEP", "0")) == "*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$1\r\n0\r\n")
    }

    @Test func pipelinedCommandsConcatenate() {
        var encoder = RESPCommandEncoder()
        PING().encode(into: &encoder)
        PING("x").encode(into: &encoder)
        #expect(String(buffer: encoder.buffer) == "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nPING\r\n$1\r\nx\r\n")
    }
}
