extension Duration {
    /// The duration in whole nanoseconds, for APIs that take a count of them (AsyncHTTPClient's request timeouts, as
    /// the bot and Webex clients send them).
    public var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
