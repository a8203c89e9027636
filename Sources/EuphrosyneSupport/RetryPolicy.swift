/// Exponential back-off with full jitter, for calls to peers that may be briefly down (the bot, Webex).
public struct RetryPolicy: Sendable, Hashable {
    /// How many attempts in all, the first included.
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
        precondition(maxAttempts >= 1, "at least one attempt")
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The pause before attempt `attempt + 1` (attempt counts from 1): a random duration up to
    /// `initialDelay × 2^(attempt-1)`, capped at `maxDelay`, and never less than half of it so retries spread out
    /// without collapsing to zero.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(initialDelay * (1 << exponent), maxDelay)
        let ceilingSeconds = Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18
        return .seconds(Double.random(in: (ceilingSeconds / 2)...ceilingSeconds))
    }
}
