import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The few Slack Web API methods the built-in Slack integration needs: post a message, edit it, look a user up.
///
/// Every method is a JSON `POST` to `<baseURL>/<method>` with the bot token as a bearer header (a token in a JSON
/// body is not read). Slack answers most failures with HTTP 200 and `{"ok": false, "error": …}`, so the envelope
/// decides: `ok: false` is a refusal, never retried. HTTP `429` waits `Retry-After` and tries again; `5xx` and
/// transport errors are retried with back-off, up to the retry policy's attempts. The token is sent, never logged.
public struct SlackClient: Sendable {
    public let baseURL: String
    private let token: String
    public let httpClient: HTTPClient
    public let retry: RetryPolicy
    public let requestTimeout: Duration
    let logger: Logger

    /// - Parameter baseURL: `https://slack.com/api` in production (`SLACK_API_URL` overrides it for tests).
    public init(baseURL: String = "https://slack.com/api", token: String, httpClient: HTTPClient,
                retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(10),
                logger: Logger = Logger(label: "euphrosyne.slack")) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.httpClient = httpClient
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    /// A message as Slack identifies it: its channel and its `ts` (a string; never a number).
    public struct MessageReference: Sendable, Hashable, Codable {
        public var channel: String
        public var ts: String

        public init(channel: String, ts: String) {
            self.channel = channel
            self.ts = ts
        }
    }

    /// `chat.postMessage`: `text` is the notification and fallback text (always sent), `blocks` the Block Kit
    /// layout, `attachments` secondary attachments (the incident message's colour bar), `threadTS` the parent's
    /// `ts` for a reply in its thread.
    public func postMessage(channel: String, text: String, blocks: [JSONValue]? = nil, attachments: [JSONValue]? = nil,
                            threadTS: String? = nil) async throws -> MessageReference {
        var body: [String: JSONValue] = [
            "channel": .string(channel), "text": .string(Self.truncated(text)), "unfurl_links": .bool(false),
        ]
        if let blocks { body["blocks"] = .array(blocks) }
        if let attachments { body["attachments"] = .array(attachments) }
        if let threadTS { body["thread_ts"] = .string(threadTS) }
        let answer = try await call("chat.postMessage", body)
        return try Self.reference(in: answer, method: "chat.postMessage")
    }

    /// `chat.update`: replaces the message's text, blocks and attachments (an empty `blocks` removes them all,
    /// buttons included; `attachments`, when given, replace the old ones).
    public func update(_ message: MessageReference, text: String, blocks: [JSONValue],
                       attachments: [JSONValue]? = nil) async throws -> MessageReference {
        var body: [String: JSONValue] = [
            "channel": .string(message.channel), "ts": .string(message.ts), "text": .string(Self.truncated(text)),
            "blocks": .array(blocks),
        ]
        if let attachments { body["attachments"] = .array(attachments) }
        let answer = try await call("chat.update", body)
        return try Self.reference(in: answer, method: "chat.update")
    }

    /// A workspace member, as `users.info` describes them (the email needs the `users:read.email` scope).
    public struct User: Sendable, Hashable {
        public var id: String
        public var name: String?
        public var email: String?
        public var deleted: Bool
        public var isBot: Bool
    }

    public func user(id: String) async throws -> User {
        let answer = try await call("users.info", ["user": .string(id)])
        guard let user = answer["user"]?.objectValue, let userID = user["id"]?.stringValue else {
            throw SlackError(.unexpectedAnswer, method: "users.info", error: "the answer has no user.id")
        }
        let profile = user["profile"]?.objectValue ?? [:]
        return User(id: userID, name: user["name"]?.stringValue, email: profile["email"]?.stringValue,
                    deleted: user["deleted"]?.boolValue ?? false, isBot: user["is_bot"]?.boolValue ?? false)
    }

    /// Slack cuts `text` after 40,000 characters; longer text is cut here, on a character boundary, and says so.
    public static func truncated(_ text: String, limit: Int = 40_000) -> String {
        guard text.count > limit else { return text }
        let marker = "\n…(truncated)"
        return String(text.prefix(limit - marker.count)) + marker
    }

    // MARK: Transport

    private static func reference(in answer: [String: JSONValue], method: String) throws -> MessageReference {
        guard let channel = answer["channel"]?.stringValue, let ts = answer["ts"]?.stringValue else {
            throw SlackError(.unexpectedAnswer, method: method, error: "the answer has no channel and ts")
        }
        return MessageReference(channel: channel, ts: ts)
    }

    /// Calls `method` with a JSON body; the envelope of an `ok: true` answer.
    private func call(_ method: String, _ body: [String: JSONValue]) async throws -> [String: JSONValue] {
        let data: Data
        do {
            data = try JSONEncoder().encode(JSONValue.object(body))
        } catch {
            throw SlackError(.invalidRequest, method: method, error: "the request does not encode: \(error)")
        }
        return try await retry.run { (_: Int) -> RetryPolicy.Attempt<[String: JSONValue]> in
            var request = HTTPClientRequest(url: "\(baseURL)/\(method)")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            request.headers.add(name: "Accept", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
            let response: HTTPClientResponse
            let answer: ByteBuffer
            do {
                response = try await httpClient.execute(request, timeout: .nanoseconds(requestTimeout.wholeNanoseconds))
                answer = try await response.body.collect(upTo: 4 << 20)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                return .retry(problem: "\(error)")
            }
            let status = Int(response.status.code)
            let envelope = try? JSONValue.parseObject(Data(answer.readableBytesView))
            let slackError = envelope?["error"]?.stringValue
            switch status {
            case 429, 500..<600:
                return .retry(problem: "Slack answered \(status)" + (slackError.map { ": \($0)" } ?? ""),
                              retryAfter: response.headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds($0) })
            case 200..<300:
                guard let envelope, let ok = envelope["ok"]?.boolValue else {
                    throw SlackError(.unexpectedAnswer, method: method, statusCode: status,
                                     error: "the answer is not Slack's {\"ok\": …} envelope")
                }
                guard ok else {
                    throw SlackError(.refused, method: method, statusCode: status, error: slackError ?? "ok: false",
                                     needed: envelope["needed"]?.stringValue, provided: envelope["provided"]?.stringValue)
                }
                return .done(envelope)
            default:
                throw SlackError(.refused, method: method, statusCode: status, error: slackError ?? "HTTP \(status)")
            }
        } willRetry: { attempt, failure, delay in
            logger.warning("Slack request failed; retrying", metadata: [
                "method": "\(method)", "attempt": "\(attempt)", "error": "\(failure)", "retryIn": "\(delay)",
            ])
        } giveUp: { attempts, failure in
            SlackError(.unreachable, method: method, error: "gave up after \(attempts) attempts: \(failure)")
        }
    }
}
