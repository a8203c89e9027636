import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The few Webex REST calls the built-in Webex integration needs: post messages, manage its webhook, read card
/// submissions and people. Used by `WebexNotifier` and `WebexApprovals`.
///
/// Every call retries `429` (waiting at least `Retry-After`), `5xx` and transport errors with back-off, up to the
/// retry policy's attempts; any other `4xx` is Webex refusing the request and fails at once with its message and
/// `trackingId`. Every call throws `WebexError` (or `CancellationError`). The bot token is sent, never logged.
public struct WebexClient: Sendable {
    public let baseURL: String
    private let token: String
    public let httpClient: HTTPClient
    public let retry: RetryPolicy
    public let requestTimeout: Duration
    let logger: Logger

    /// - Parameter baseURL: `https://webexapis.com/v1` in production.
    public init(baseURL: String = "https://webexapis.com/v1", token: String, httpClient: HTTPClient,
                retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(10),
                logger: Logger = Logger(label: "euphrosyne.webex")) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.httpClient = httpClient
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    // MARK: Messages

    /// A message to post: to a room, optionally as a reply in a thread, with markdown and at most one card.
    public struct OutgoingMessage: Sendable, Encodable {
        public var roomId: String
        public var parentId: String?
        public var text: String
        public var markdown: String
        public var attachments: [JSONValue]?

        public init(roomId: String, parentId: String? = nil, text: String, markdown: String, card: JSONValue? = nil) {
            self.roomId = roomId
            self.parentId = parentId
            self.text = WebexClient.truncated(text)
            self.markdown = WebexClient.truncated(markdown)
            self.attachments = card.map { [.object(["contentType": .string("application/vnd.microsoft.card.adaptive"), "content": $0])] }
        }
    }

    public struct Message: Sendable, Decodable {
        public var id: String
        public var roomId: String?
        public var parentId: String?
    }

    public func post(_ message: OutgoingMessage) async throws -> Message {
        try await call(.POST, "/messages", body: message, as: Message.self)
    }

    /// Edits one of our messages (`PUT /messages/{id}`): its markdown only. Webex allows 10 edits per message and
    /// none of a message with a card; it refuses more with `400`.
    public func edit(messageID: String, roomID: String, markdown: String) async throws -> Message {
        let text = Self.truncated(markdown)
        return try await call(.PUT, "/messages/\(Self.escaped(messageID))",
                              body: ["roomId": roomID, "text": text, "markdown": text], as: Message.self)
    }

    /// Deletes one of our messages (`DELETE /messages/{id}`); one already gone (`404`) counts as deleted.
    public func deleteMessage(id: String) async throws {
        do {
            _ = try await send(.DELETE, "/messages/\(Self.escaped(id))", body: nil)
        } catch let error as WebexError where error.statusCode == 404 {
            return
        }
    }

    /// Webex limits `text` and `markdown` to 7439 bytes of UTF-8: longer text is cut on a character boundary and
    /// says so.
    public static func truncated(_ text: String, limit: Int = 7439) -> String {
        text.cut(toUTF8Bytes: limit, marker: "\n…(truncated)")
    }

    // MARK: Webhooks

    public struct Webhook: Sendable, Decodable {
        public var id: String
        public var name: String
        public var targetUrl: String
        public var resource: String
        public var event: String
        public var status: String?
    }

    struct WebhookList: Decodable {
        var items: [Webhook]
    }

    public func webhooks() async throws -> [Webhook] {
        try await call(.GET, "/webhooks", as: WebhookList.self).items
    }

    public func createWebhook(name: String, targetUrl: String, resource: String, event: String,
                              secret: String) async throws -> Webhook {
        try await call(.POST, "/webhooks", body: [
            "name": name, "targetUrl": targetUrl, "resource": resource, "event": event, "secret": secret,
        ], as: Webhook.self)
    }

    /// Updates a webhook; `status: "active"` re-activates one Webex disabled after failed deliveries.
    public func updateWebhook(id: String, name: String, targetUrl: String, secret: String) async throws -> Webhook {
        try await call(.PUT, "/webhooks/\(Self.escaped(id))", body: [
            "name": name, "targetUrl": targetUrl, "secret": secret, "status": "active",
        ], as: Webhook.self)
    }

    public func deleteWebhook(id: String) async throws {
        _ = try await send(.DELETE, "/webhooks/\(Self.escaped(id))", body: nil)
    }

    // MARK: Card submissions and people

    /// A card submission (`type` is always `submit`); `inputs` holds the button's data plus one key per input.
    public struct AttachmentAction: Sendable, Decodable {
        public var id: String
        public var messageId: String
        public var personId: String
        public var roomId: String
        public var inputs: [String: JSONValue]
    }

    public func attachmentAction(id: String) async throws -> AttachmentAction {
        try await call(.GET, "/attachment/actions/\(Self.escaped(id))", as: AttachmentAction.self)
    }

    public struct Person: Sendable, Decodable {
        public var id: String
        public var emails: [String]
        public var displayName: String?
    }

    public func person(id: String) async throws -> Person {
        try await call(.GET, "/people/\(Self.escaped(id))", as: Person.self)
    }

    // MARK: Transport

    private func call<Answer: Decodable>(_ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil,
                                         as: Answer.Type) async throws -> Answer {
        let data: Data?
        do {
            data = try body.map { try JSONEncoder().encode($0) }
        } catch {
            throw WebexError(.invalidRequest, request: "\(method) \(path)", underlying: error)
        }
        let answer = try await send(method, path, body: data)
        do {
            return try JSONDecoder().decode(Answer.self, from: answer)
        } catch {
            throw WebexError(.unexpectedAnswer, request: "\(method) \(path)", message: "the answer does not decode",
                             underlying: error)
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
        let requestName = "\(method) \(path)"
        return try await retry.run { (_: Int) -> RetryPolicy.Attempt<Data> in
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
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
            let code = Int(response.status.code)
            let message = Self.errorMessage(answer)
            let trackingID = response.headers.first(name: "Trackingid")
            switch code {
            case 200..<300:
                return .done(Data(answer.readableBytesView))
            case 429, 500..<600:
                var problem = "Webex answered \(code)"
                if let message { problem += ": \(message)" }
                if let trackingID { problem += " (trackingId \(trackingID))" }
                return .retry(problem: problem,
                              retryAfter: response.headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds($0) })
            default:
                throw WebexError(.refused, request: requestName, statusCode: code,
                                 message: message ?? "Webex refused the request", trackingID: trackingID)
            }
        } willRetry: { attempt, failure, delay in
            logger.warning("Webex request failed; retrying", metadata: [
                "method": "\(method)", "path": "\(path)", "attempt": "\(attempt)", "error": "\(failure)",
                "retryIn": "\(delay)",
            ])
        } giveUp: { attempts, failure in
            WebexError(.unreachable, request: requestName, message: "gave up after \(attempts) attempts: \(failure)")
        }
    }

    /// The `message` of a Webex error body, if it has one.
    private static func errorMessage(_ body: ByteBuffer) -> String? {
        guard let object = try? JSONValue.parseObject(Data(body.readableBytesView)) else { return nil }
        return object["message"]?.stringValue
    }

    private static func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
    }
}
