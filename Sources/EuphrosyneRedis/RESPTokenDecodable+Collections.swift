import NIOCore

extension Array: RESPTokenDecodable where Element: RESPTokenDecodable {
    /// The elements of an array, set or push reply, each decoded as `Element`.
    public init(fromRESP token: RESPToken) throws(RedisError) {
        switch token.value {
        case .array(let children), .set(let children), .push(let children):
            var elements: [Element] = []
            elements.reserveCapacity(children.count)
            for child in children { elements.append(try Element(fromRESP: child)) }
            self = elements
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("an array")
        default:
            throw token.unexpected("an array")
        }
    }
}

extension Dictionary: RESPTokenDecodable where Key == String, Value: RESPTokenDecodable {
    /// A RESP3 map, or the flat `[key, value, key, value…]` array RESP2 uses for the same replies (HGETALL, HELLO).
    public init(fromRESP token: RESPToken) throws(RedisError) {
        var result: [String: Value] = [:]
        switch token.value {
        case .map(let pairs):
            result.reserveCapacity(pairs.count)
            for (key, value) in pairs { result[try String(fromRESP: key)] = try Value(fromRESP: value) }
        case .array(let children):
            guard children.count % 2 == 0 else { throw token.unexpected("an even number of elements for a map") }
            var iterator = children.makeIterator()
            while let key = iterator.next(), let value = iterator.next() {
                result[try String(fromRESP: key)] = try Value(fromRESP: value)
            }
        case .simpleError, .bulkError:
            try token.throwIfError()
            throw token.unexpected("a map")
        default:
            throw token.unexpected("a map")
        }
        self = result
    }
}
