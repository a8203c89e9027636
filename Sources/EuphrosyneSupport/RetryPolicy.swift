/// Exponential back-off for calls to peers that may be briefly down (the bot, Webex, Jira, the reconciler's result
/// callback, Redis), and the one retry loop every such caller runs (`run`).
///
/// Jittered (the default): each pause is a random duration between half and all of `initialDelay × 2^(attempt-1)`,
/// capped at `maxDelay`, so clients that failed together do not retry together. Without jitter: `initialDelay`
/// after the first attempt, then doubling, at most `maxDelay`.
///
/// Pauses run on `clock` (the continuous clock unless a test injects a manual one).
public struct RetryPolicy: Sendable {
    /// How many attempts in all, the first included.
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// Whether pauses are spread at random (see the type's documentation).
    public var jittered: Bool
    /// The clock `run` pauses on.
    public var clock: any Clock<Duration>

    public init(
        maxAttempts: Int = 6, initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30),
        jittered: Bool = true, clock: any Clock<Duration> = ContinuousClock()
    ) {
        precondition(maxAttempts >= 1, "at least one attempt")
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jittered = jittered
        self.clock = clock
    }

    /// The pause before attempt `attempt + 1` (attempt counts from 1).
    public func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        guard jittered else {
            return exponent == 0 ? initialDelay : min(initialDelay * (1 << exponent), maxDelay)
        }
        // Never less than half the ceiling, so retries spread out without collapsing to zero.
        let ceiling = min(initialDelay * (1 << exponent), maxDelay)
        let ceilingSeconds = Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18
        return .seconds(Double.random(in: (ceilingSeconds / 2)...ceilingSeconds))
    }
}

extension RetryPolicy {
    /// What one attempt of `run` came to.
    public enum Attempt<Value> {
        /// It worked: `run` returns the value.
        case done(Value)
        /// It failed in a way worth trying again. `problem` says how (for the log and the error when attempts run
        /// out); `retryAfter` is the least pause the peer asked for (`429` with `Retry-After`), if it asked.
        case retry(problem: String, retryAfter: Duration? = nil)
    }

    /// Runs `attempt` (given its number, from 1) until it is done, throws, or `maxAttempts` have failed.
    ///
    /// - An attempt that throws is final: the error leaves `run` as it is, with no further attempt. That is how a
    ///   caller says "do not retry" (a `4xx`, a refusal).
    /// - Between attempts it calls `willRetry` (to log), then pauses for `delay(afterAttempt:)`, or the attempt's
    ///   `retryAfter` when that is longer. A task cancelled while pausing ends `run` with `CancellationError`.
    /// - When the last attempt asked for a retry, it throws `giveUp(attempts, problem)` with the last problem.
    public func run<Value>(
        _ attempt: (_ number: Int) async throws -> Attempt<Value>,
        willRetry: (_ number: Int, _ problem: String, _ pause: Duration) -> Void = { _, _, _ in },
        giveUp: (_ attempts: Int, _ problem: String) -> any Error
    ) async throws -> Value {
        try await loop(attempt, willRetry: willRetry, giveUp: giveUp) { pause in try await clock.sleep(for: pause) }
    }

    /// `run` for callers with a typed error that keep going when their task is cancelled (a recipe reporting its
    /// result on its way out): a pause cut short by cancellation just ends, and the attempt decides whether
    /// cancellation makes its failure final (by throwing).
    public func runThroughCancellation<Value, Failure: Error>(
        _ attempt: (_ number: Int) async throws(Failure) -> Attempt<Value>,
        willRetry: (_ number: Int, _ problem: String, _ pause: Duration) -> Void = { _, _, _ in },
        giveUp: (_ attempts: Int, _ problem: String) -> Failure
    ) async throws(Failure) -> Value {
        try await loop(attempt, willRetry: willRetry, giveUp: giveUp) { (pause: Duration) throws(Failure) in
            try? await clock.sleep(for: pause)
        }
    }

    private func loop<Value, Failure: Error>(
        _ attempt: (Int) async throws(Failure) -> Attempt<Value>,
        willRetry: (Int, String, Duration) -> Void,
        giveUp: (Int, String) -> Failure,
        pause: (Duration) async throws(Failure) -> Void
    ) async throws(Failure) -> Value {
        var number = 1
        while true {
            switch try await attempt(number) {
            case .done(let value):
                return value
            case .retry(let problem, let retryAfter):
                guard number < maxAttempts else { throw giveUp(number, problem) }
                let pauseLength = max(delay(afterAttempt: number), retryAfter ?? .zero)
                willRetry(number, problem, pauseLength)
                try await pause(pauseLength)
                number += 1
            }
        }
    }
}
