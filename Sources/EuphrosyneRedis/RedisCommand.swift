/// A Redis command as a small value: it knows how to write itself and what its reply decodes to. The app builds
/// these (`GET("k")`, `PUBLISH("ch", message: "x")`) and passes them to ``RedisClient/execute(_:)``.
public protocol RedisCommand: Sendable {
    associatedtype Response: RESPTokenDecodable & Sendable
    /// Appends the command as one array of bulk strings.
    func encode(into encoder: inout RESPCommandEncoder)
}

/// Any command given as its words, answering the raw reply. For tests, tools and commands the library has no
/// struct for (`DEBUG SLEEP 2`, `PUBSUB NUMSUB ch`, `ACL SETUSER …`).
public struct RedisRawCommand: RedisCommand {
    public typealias Response = RESPToken
    public var parts: [String]

    public init(_ parts: [String]) { self.parts = parts }
    public init(_ parts: String...) { self.parts = parts }

    public func encode(into encoder: inout RESPCommandEncoder) { encoder.encodeArray(parts) }
}
