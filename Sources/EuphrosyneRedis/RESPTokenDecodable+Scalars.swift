import NIOCore

extension ByteBuffer: RESPTokenDecodable {
    /// The bytes of a bulk, simple or verbatim string.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .bulkString(let bytes), .simpleString(let bytes), .verbatimString(let bytes), .bigNumber(let bytes):
            self = bytes
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("a string")
        default:
            throw token.unexpected("a string")
        }
    }
}

extension String: RESPTokenDecodable {
    /// Any string-like reply as UTF-8 (verbatim strings lose their `txt:` prefix); numbers as their decimal text.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .bulkString(let bytes), .simpleString(let bytes), .verbatimString(let bytes), .bigNumber(let bytes):
            self = String(buffer: bytes)
        case .number(let number):
            self = String(number)
        case .double(let number):
            self = String(number)
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("a string")
        default:
            throw token.unexpected("a string")
        }
    }
}

extension Int64: RESPTokenDecodable {
    /// An integer reply, or a string holding one (some commands answer numbers as bulk strings).
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .number(let number):
            self = number
        case .bulkString(let bytes), .simpleString(let bytes), .bigNumber(let bytes):
            guard let number = Int64(String(buffer: bytes)) else { throw token.unexpected("an integer") }
            self = number
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("an integer")
        default:
            throw token.unexpected("an integer")
        }
    }
}

extension Int: RESPTokenDecodable {
    public init(fromRESP token: RESPToken) throws(RedisError) {
        let number = try Int64(fromRESP: token)
        guard let value = Int(exactly: number) else { throw token.unexpected("an integer that fits Int") }
        self = value
    }
}

extension Double: RESPTokenDecodable {
    /// A RESP3 double, an integer, or (RESP2) a bulk string such as `3.5`, `inf`, `-inf`.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .double(let number):
            self = number
        case .number(let number):
            self = Double(number)
        case .bulkString(let bytes), .simpleString(let bytes):
            guard let number = Double(String(buffer: bytes)) else { throw token.unexpected("a double") }
            self = number
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("a double")
        default:
            throw token.unexpected("a double")
        }
    }
}

extension Bool: RESPTokenDecodable {
    /// A RESP3 boolean, or the integers 1 / 0 that RESP2 (and many commands) use for yes / no.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .boolean(let flag):
            self = flag
        case .number(let number) where number == 0 || number == 1:
            self = number == 1
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("a boolean")
        default:
            throw token.unexpected("a boolean")
        }
    }
}
