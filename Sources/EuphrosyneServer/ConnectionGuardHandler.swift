import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The error a route sees when reading a request body that did not arrive within the read timeout; answered
/// `408 request_timeout` by `JSONErrorMiddleware`.
struct RequestBodyReadTimeout: Error {}

/// Guards one HTTP connection of a listener (`Listeners` adds one per connection, right after the HTTP codec):
/// read deadlines, the announced-body limit and parse errors, as `ConnectionGuardState` decides them.
///
/// Without it, a request announcing `Content-Length: 999999999` waited for its body, a client that sent 1 byte of
/// a 5-byte body held its connection forever, and a bad chunk-size line surfaced as a 500. Refusals it answers
/// itself are the same JSON errors the routes give (`{"error": {...}}`), with `Connection: close`.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var state: ConnectionGuardState
    /// The one timer of the connection, and when it fires. It is not moved for every request: a deadline later than
    /// the pending timer is left to it (when it fires early it finds no deadline passed and re-arms for the
    /// current one), so a busy keep-alive connection costs no timer work per request.
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    private let onRefusal: @Sendable (ConnectionGuardState.Refusal) -> Void
    private let logger: Logger

    init(readTimeout: TimeAmount, maxBodyBytes: Int, logger: Logger,
         onRefusal: @escaping @Sendable (ConnectionGuardState.Refusal) -> Void) {
        state = ConnectionGuardState(readTimeout: readTimeout, maxBodyBytes: maxBodyBytes)
        self.logger = logger
        self.onRefusal = onRefusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { perform(state.connectionActive(now: .now()), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(state.connectionActive(now: .now()), context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let actions: [ConnectionGuardState.Action]
        switch unwrapInboundIn(data) {
        case .head(let head):
            let announced = head.headerFields[.contentLength].flatMap { Int($0) }
            actions = state.readHead(contentLength: announced, now: .now())
        case .body:
            actions = state.readBodyPart()
        case .end:
            actions = state.readEnd()
        }
        perform(actions, context: context, read: data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let tooLarge = if case .headerOverflow = parseError { true } else { false }
        perform(state.parseFailed(headerTooLarge: tooLarge, now: .now()), context: context, error: error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            state.wroteResponseHead(closes: head.headerFields[.connection]?.lowercased() == "close")
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            let actions = state.wroteResponseEnd(now: .now())
            if actions.contains(.close) {
                // Close once the end is on the wire, not before.
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.cascade(to: promise)
                context.writeAndFlush(data, promise: written)
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                written.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
                perform(actions.filter { $0 != .close }, context: context)
            } else {
                context.write(data, promise: promise)
                perform(actions, context: context)
            }
        }
    }

    private func perform(
        _ actions: [ConnectionGuardState.Action], context: ChannelHandlerContext, read: NIOAny? = nil,
        error: (any Error)? = nil
    ) {
        for action in actions {
            switch action {
            case .forward:
                if let read { context.fireChannelRead(read) }
            case .drop:
                break
            case .schedule(let deadline):
                // A pending timer that fires first will re-arm for this deadline itself.
                if let firesAt = timerFiresAt, firesAt <= deadline { break }
                arm(deadline, context: context)
            case .cancelTimer:
                // Left pending: when it fires it finds no deadline and stops.
                break
            case .refuse(let refusal):
                onRefusal(refusal)
                logger.notice("connection refused", metadata: ["reason": "\(refusal.reason)"])
                answer(refusal, context: context)
            case .failBodyRead:
                onRefusal(.bodyReadTimeout)
                logger.notice("request body not received within the read timeout; closing the connection")
                context.fireErrorCaught(RequestBodyReadTimeout())
            case .forwardError(let refusal):
                onRefusal(refusal)
                if let error { context.fireErrorCaught(error) }
            case .close:
                context.close(promise: nil)
            }
        }
    }

    private func arm(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerFiresAt = deadline
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.timerFiresAt = nil
            handler.perform(handler.state.deadlinePassed(now: .now()), context: context)
            // Fired before the current deadline (it moved later meanwhile): wait for that one.
            if handler.timer == nil, let next = handler.state.deadline, context.channel.isActive {
                handler.arm(next, context: context)
            }
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
        timerFiresAt = nil
    }

    /// Writes the refusal as a JSON error and closes the connection once it is out.
    private func answer(_ refusal: ConnectionGuardState.Refusal, context: ChannelHandlerContext) {
        let error: APIError
        switch refusal {
        case .malformed:
            error = APIError(.badRequest, code: "malformed_request", message: "the request is not valid HTTP/1.1")
        case .headerTooLarge:
            error = APIError(.requestHeaderFieldsTooLarge, code: "header_too_large",
                             message: "the request head is larger than the listener accepts")
        case .bodyTooLarge:
            error = .bodyTooLarge
        case .bodyReadTimeout:
            error = .bodyReadTimeout
        }
        let body = error.jsonBody
        let head = HTTPResponse(status: error.status, headerFields: [
            .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes),
            .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
