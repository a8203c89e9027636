extension RedisConfiguration {
    /// Parses `host:port`, `[ipv6]:port`, `host` (port 6379) or `redis://[user:pass@]host[:port][/db]`, with the
    /// other settings at their defaults. The app calls it with the address from its settings; a bad address
    /// throws ``RedisError/Code/invalidConfiguration`` naming what is wrong (but never echoing a password).
    public init(address: String) throws(RedisError) {
        self.init()
        var rest = Substring(address).drop(while: \.isWhitespace)
        while rest.last?.isWhitespace == true { rest = rest.dropLast() }
        guard !rest.isEmpty else { throw Self.invalid("empty address") }
        if let schemeEnd = rest.firstRange(of: "://") {
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "redis" else {
                throw Self.invalid("unsupported scheme '\(scheme)' (only redis:// is supported)")
            }
            rest = rest[schemeEnd.upperBound...]
            if let slash = rest.firstIndex(of: "/") {
                let path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
                if !path.isEmpty {
                    guard let database = Int(path), database >= 0 else {
                        throw Self.invalid("database '\(path)' is not a non-negative number")
                    }
                    self.database = database
                }
            }
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    let user = try Self.percentDecoded(credentials[..<colon], what: "username")
                    username = user.isEmpty ? nil : user
                    password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], what: "password")
                } else if !credentials.isEmpty {
                    // `redis://secret@host` is the password for the default user, as redis-cli reads it.
                    password = try Self.percentDecoded(credentials, what: "password")
                }
            }
        }
        try parseHostAndPort(rest)
    }

    private mutating func parseHostAndPort(_ text: Substring) throws(RedisError) {
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw Self.invalid("unclosed '[' in IPv6 address") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Self.invalid("expected ':port' after ']'") }
                portText = after.dropFirst()
            }
        } else {
            let colons = text.filter { $0 == ":" }.count
            guard colons <= 1 else { throw Self.invalid("IPv6 addresses must be in brackets, as [::1]:6379") }
            if let colon = text.firstIndex(of: ":") {
                host = String(text[..<colon])
                portText = text[text.index(after: colon)...]
            } else {
                host = String(text)
            }
        }
        guard !host.isEmpty else { throw Self.invalid("missing host") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw Self.invalid("port '\(portText)' is not a number in 1…65535")
            }
            self.port = port
        }
    }

    private static func percentDecoded(_ text: Substring, what: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { throw invalid("bad percent-escape in \(what)") }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func invalid(_ message: String) -> RedisError {
        RedisError(.invalidConfiguration, message: "invalid Redis address: \(message)")
    }
}
