import NIOCore

/// The read deadlines and refusals of one HTTP connection, as a value: events in, actions out, no I/O.
/// `ConnectionGuardHandler` feeds it what it sees on the connection and carries out what it answers.
///
/// - A request's head must arrive within `readTimeout` of the connection opening or of the previous response
///   ending (which also closes idle keep-alive connections), and its whole body within `readTimeout` of its head.
///   The deadline is fixed when the phase starts: a client dripping a byte at a time does not move it.
/// - While the server is answering, nothing is timed: how long a route takes is its own business.
/// - A head that announces a body over `maxBodyBytes` is refused at once (413), before any of the body is read.
/// - Bytes that are not HTTP are refused with 400 (431 for oversized headers) when no answer is being written;
///   during a body, the error goes to the route reading it, which answers 400, and the connection then closes.
struct ConnectionGuardState {
    /// Where the connection is: between requests (or reading a head), reading a body, waiting for the answer, or
    /// finished (only the answer already promised and the close are left).
    enum Phase: Equatable {
        case awaitingHead
        case readingBody
        case responding
        case closing
    }

    /// Why a connection was refused or cut, for the JSON answer, the log and the metric.
    enum Refusal: Equatable, Sendable {
        case malformed
        case headerTooLarge
        case bodyTooLarge
        case bodyReadTimeout

        /// `reason` label of `euphrosyne_http_refused_total`.
        var reason: String {
            switch self {
            case .malformed: "malformed"
            case .headerTooLarge: "header_too_large"
            case .bodyTooLarge: "body_too_large"
            case .bodyReadTimeout: "read_timeout"
            }
        }
    }

    enum Action: Equatable {
        /// Pass what was read on to the server.
        case forward
        /// Drop what was read: the connection is being refused.
        case drop
        /// (Re)arm the one timer for this deadline.
        case schedule(NIODeadline)
        case cancelTimer
        /// Answer the refusal ourselves, then close.
        case refuse(Refusal)
        /// Fail the request whose body is being read (its route answers 408), and count it.
        case failBodyRead
        /// Pass the error on to the route reading the body (it answers 400), and count the refusal.
        case forwardError(Refusal)
        /// Close the connection now.
        case close
    }

    let readTimeout: TimeAmount
    let maxBodyBytes: Int
    /// After a body timeout or a parse error, how long the route gets to answer before the connection is closed
    /// anyway.
    let answerGrace: TimeAmount

    private(set) var phase: Phase = .awaitingHead
    /// Requests passed on whose response has not ended yet (HTTP/1.1 lets a client send the next one early).
    private(set) var pendingResponses = 0
    /// Close once the pending responses have ended (`Connection: close`, a refusal, a failed read).
    private(set) var closeAfterResponse = false
    private(set) var deadline: NIODeadline?

    init(readTimeout: TimeAmount, maxBodyBytes: Int, answerGrace: TimeAmount = .seconds(5)) {
        self.readTimeout = readTimeout
        self.maxBodyBytes = maxBodyBytes
        self.answerGrace = answerGrace
    }

    mutating func connectionActive(now: NIODeadline) -> [Action] {
        arm(now + readTimeout)
    }

    mutating func readHead(contentLength: Int?, now: NIODeadline) -> [Action] {
        guard phase != .closing else { return [.drop] }
        if let contentLength, contentLength > maxBodyBytes {
            return refuse(.bodyTooLarge)
        }
        phase = .readingBody
        pendingResponses += 1
        return [.forward] + arm(now + readTimeout)
    }

    mutating func readBodyPart() -> [Action] {
        phase == .readingBody ? [.forward] : [.drop]
    }

    mutating func readEnd() -> [Action] {
        guard phase == .readingBody else { return [.drop] }
        phase = .responding
        deadline = nil
        return [.forward, .cancelTimer]
    }

    /// The server wrote a response head; `closes` when it says `Connection: close`.
    mutating func wroteResponseHead(closes: Bool) {
        if closes { closeAfterResponse = true }
    }

    mutating func wroteResponseEnd(now: NIODeadline) -> [Action] {
        pendingResponses = max(0, pendingResponses - 1)
        guard pendingResponses == 0 else { return [] }
        if closeAfterResponse {
            phase = .closing
            return [.close]
        }
        guard phase == .responding else { return [] }
        phase = .awaitingHead
        return arm(now + readTimeout)
    }

    mutating func deadlinePassed(now: NIODeadline) -> [Action] {
        guard let deadline, now >= deadline else { return [] }
        self.deadline = nil
        switch phase {
        case .awaitingHead:
            // Idle, or a head that did not arrive in time (the decoder does not say which): nothing to answer.
            phase = .closing
            return [.close]
        case .readingBody:
            phase = .closing
            closeAfterResponse = true
            return [.failBodyRead] + arm(now + answerGrace)
        case .closing:
            return [.close]
        case .responding:
            return []
        }
    }

    /// The HTTP decoder could not parse what arrived; `headerTooLarge` when the head passed the size limits.
    mutating func parseFailed(headerTooLarge: Bool, now: NIODeadline) -> [Action] {
        let refusal: Refusal = headerTooLarge ? .headerTooLarge : .malformed
        switch phase {
        case .readingBody:
            phase = .closing
            closeAfterResponse = true
            return [.forwardError(refusal)] + arm(now + answerGrace)
        case .awaitingHead, .responding:
            return refuse(refusal)
        case .closing:
            return [.drop]
        }
    }

    private mutating func refuse(_ refusal: Refusal) -> [Action] {
        phase = .closing
        deadline = nil
        // An answer to an earlier request is still being written: it must not be interleaved with ours, so the
        // connection just closes after it.
        guard pendingResponses == 0 else {
            closeAfterResponse = true
            return [.drop, .cancelTimer]
        }
        return [.drop, .cancelTimer, .refuse(refusal)]
    }

    private mutating func arm(_ at: NIODeadline) -> [Action] {
        deadline = at
        return [.schedule(at)]
    }
}
