import NIOCore
import Testing

@testable import EuphrosyneServer

/// The read deadlines and refusals of a connection, as values: no sockets, no clock.
@Suite struct ConnectionGuardStateTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func state() -> ConnectionGuardState {
        ConnectionGuardState(readTimeout: .seconds(30), maxBodyBytes: 1 << 20, answerGrace: .seconds(5))
    }

    @Test func aRequestIsTimedUntilItsBodyEndsThenNotWhileItIsAnswered() {
        var connection = state()
        #expect(connection.connectionActive(now: Self.start) == [.schedule(Self.start + .seconds(30))])
        let head = Self.start + .seconds(2)
        #expect(connection.readHead(contentLength: 10, now: head) == [.forward, .schedule(head + .seconds(30))])
        // Body parts do not move the deadline: a client dripping bytes is still cut at head + 30 s.
        #expect(connection.readBodyPart() == [.forward])
        #expect(connection.deadline == head + .seconds(30))
        #expect(connection.readEnd() == [.forward, .cancelTimer])
        #expect(connection.phase == .responding)
        // However long the route takes, nothing fires.
        #expect(connection.deadlinePassed(now: head + .seconds(600)) == [])
        let answered = head + .seconds(600)
        #expect(connection.wroteResponseEnd(now: answered) == [.schedule(answered + .seconds(30))])
        #expect(connection.phase == .awaitingHead)
    }

    @Test func anIdleOrSlowHeadIsClosedAtItsDeadlineAndAStaleTimerDoesNothing() {
        var connection = state()
        _ = connection.connectionActive(now: Self.start)
        #expect(connection.deadlinePassed(now: Self.start + .seconds(29)) == [])
        #expect(connection.deadlinePassed(now: Self.start + .seconds(30)) == [.close])
        #expect(connection.phase == .closing)
    }

    @Test func aBodyThatDoesNotArriveInTimeFailsTheRequestThenTheConnectionCloses() {
        var connection = state()
        _ = connection.connectionActive(now: Self.start)
        _ = connection.readHead(contentLength: 5, now: Self.start)
        _ = connection.readBodyPart()
        let late = Self.start + .seconds(30)
        #expect(connection.deadlinePassed(now: late) == [.failBodyRead, .schedule(late + .seconds(5))])
        #expect(connection.closeAfterResponse)
        // The route answers 408; the connection closes once it is written.
        #expect(connection.wroteResponseEnd(now: late) == [.close])
        // Or, if nothing answers, at the end of the grace.
        var unanswered = state()
        _ = unanswered.connectionActive(now: Self.start)
        _ = unanswered.readHead(contentLength: 5, now: Self.start)
        _ = unanswered.deadlinePassed(now: late)
        #expect(unanswered.deadlinePassed(now: late + .seconds(5)) == [.close])
    }

    @Test func anAnnouncedBodyOverTheLimitIsRefusedBeforeAnyOfItIsRead() {
        var connection = state()
        _ = connection.connectionActive(now: Self.start)
        #expect(connection.readHead(contentLength: 999_999_999, now: Self.start) == [.drop, .cancelTimer, .refuse(.bodyTooLarge)])
        #expect(connection.readBodyPart() == [.drop])
        #expect(connection.readEnd() == [.drop])
        #expect(connection.readHead(contentLength: nil, now: Self.start) == [.drop])
        // Exactly the limit is fine.
        var atLimit = state()
        #expect(atLimit.readHead(contentLength: 1 << 20, now: Self.start).first == .forward)
    }

    @Test func parseErrorsAreRefusedBetweenRequestsAndGoToTheRouteDuringABody() {
        var between = state()
        _ = between.connectionActive(now: Self.start)
        #expect(between.parseFailed(headerTooLarge: false, now: Self.start) == [.drop, .cancelTimer, .refuse(.malformed)])
        var hugeHead = state()
        #expect(hugeHead.parseFailed(headerTooLarge: true, now: Self.start) == [.drop, .cancelTimer, .refuse(.headerTooLarge)])
        var duringBody = state()
        _ = duringBody.readHead(contentLength: nil, now: Self.start)
        #expect(duringBody.parseFailed(headerTooLarge: false, now: Self.start)
            == [.forwardError(.malformed), .schedule(Self.start + .seconds(5))])
        #expect(duringBody.wroteResponseEnd(now: Self.start) == [.close])
    }

    @Test func aRefusalNeverInterleavesWithAnAnswerStillBeingWritten() {
        var connection = state()
        _ = connection.readHead(contentLength: 2, now: Self.start)
        _ = connection.readEnd()
        // A pipelined second request announces too much while the first is being answered.
        #expect(connection.readHead(contentLength: 5 << 20, now: Self.start) == [.drop, .cancelTimer])
        #expect(connection.wroteResponseEnd(now: Self.start) == [.close])
    }

    @Test func connectionCloseFromTheServerClosesAfterTheResponse() {
        var connection = state()
        _ = connection.readHead(contentLength: 0, now: Self.start)
        _ = connection.readEnd()
        connection.wroteResponseHead(closes: true)
        #expect(connection.wroteResponseEnd(now: Self.start) == [.close])
    }
}
