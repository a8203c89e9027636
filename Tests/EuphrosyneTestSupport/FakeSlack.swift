import AsyncHTTPClient
import Crypto
import EuphrosyneCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An in-process stand-in for the Slack Web API, for tests of the Slack integration: `chat.postMessage`,
/// `chat.update` and `users.info`, with Slack's contract — a bearer token, JSON bodies, `{"ok": false, "error": …}`
/// answers with HTTP 200, the Block Kit limits the integration relies on, threads by the parent's `ts` — plus
/// injectable `429` (with `Retry-After`) and `5xx` failures, and interaction callbacks signed as Slack signs them.
///
/// Serve `router` with `RunningServer.with([slack.router]) { ports in ... }`; the API is then at
/// `FakeSlack.baseURL(port: ports[0])`.
public final class FakeSlack: Sendable {
    /// A message as the fake stored it, edits applied; tests read them through `messages`.
    public struct Message: Sendable, Hashable {
        public var channel: String
        public var ts: String
        public var threadTS: String?
        public var text: String
        public var blocks: [JSONValue]
        /// How many times `chat.update` changed it.
        public var edits: Int
        /// The secondary attachments (colour bars), as last posted or updated.
        public var attachments: [JSONValue] = []

        /// The message's buttons (the elements of its actions blocks).
        public var buttons: [JSONValue] {
            blocks.filter { $0["type"]?.stringValue == "actions" }.flatMap { $0["elements"]?.arrayValue ?? [] }
        }

        /// Every text of its blocks (sections' text and fields, context elements, input labels), joined by lines.
        public var blockText: String {
            blocks.flatMap { block -> [String] in
                var texts = [block["text"]?["text"]?.stringValue, block["label"]?["text"]?.stringValue].compactMap { $0 }
                texts += (block["elements"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
                return texts
            }.joined(separator: "\n")
        }
    }

    public struct User: Sendable, Hashable {
        public var id: String
        public var name: String
        public var email: String
    }

    public struct LoggedRequest: Sendable, Hashable {
        public var method: String
        /// Slack's `error`, nil for `ok: true`.
        public var error: String?
        public var status: Int
    }

    private struct PlannedFailure {
        var remaining: Int
        var status: Int
        var retryAfterSeconds: Int?
        var method: String?
    }

    private struct State {
        var messages: [Message] = []
        var users: [String: User] = [:]
        var failures: [PlannedFailure] = []
        var requestLog: [LoggedRequest] = []
        var clock = 1_764_364_800
    }

    public let botToken: String
    public let signingSecret: String
    public let channels: Set<String>
    private let state = Mutex(State())

    public init(botToken: String = "xoxb-fake-token", signingSecret: String = "fake-signing-secret",
                channels: Set<String> = ["C0123ALERTS"]) {
        self.botToken = botToken
        self.signingSecret = signingSecret
        self.channels = channels
    }

    public static func baseURL(port: Int) -> String { "http://127.0.0.1:\(port)/api" }

    public var messages: [Message] { state.withLock { $0.messages } }
    public var requestLog: [LoggedRequest] { state.withLock { $0.requestLog } }
    public func message(ts: String) -> Message? { messages.first { $0.ts == ts } }

    public func addUser(id: String, name: String, email: String) {
        state.withLock { $0.users[id] = User(id: id, name: name, email: email) }
    }

    /// Makes the next `count` calls (of `method`, e.g. `chat.postMessage`, when given) fail with HTTP `status`:
    /// `429` answers `{"ok": false, "error": "ratelimited"}` with `Retry-After` when given. Failed calls change nothing.
    public func failNext(_ count: Int, status: Int, retryAfterSeconds: Int? = nil, method: String? = nil) {
        guard count > 0 else { return }
        state.withLock {
            $0.failures.append(PlannedFailure(remaining: count, status: status, retryAfterSeconds: retryAfterSeconds,
                                              method: method))
        }
    }

    // MARK: Interactions

    /// A signed interactivity request as Slack sends it: a form body with one field, `payload`, and the signing
    /// headers. `timestamp` defaults to now; pass another to test the replay window, `secret` to forge one.
    public struct Interaction: Sendable {
        public var body: String
        public var headers: [(String, String)]
    }

    /// A `block_actions` click by `user` on button `actionID` (with `value`) of `message`; `typed` is what the user
    /// typed into the message's input fields, by `block_id`, sent as Slack sends it (`state.values`).
    public func click(user: String, message: Message, actionID: String, value: String, typed: [String: String] = [:],
                      timestamp: Int = Int(Date().timeIntervalSince1970), secret: String? = nil) -> Interaction {
        let actionTS = state.withLock { state -> String in
            state.clock += 1
            return "\(state.clock).\(String(format: "%06d", state.clock % 1_000_000))"
        }
        let payload: JSONValue = .object([
            "type": .string("block_actions"),
            "team": .object(["id": .string("T0123TEAM"), "domain": .string("example")]),
            "user": .object(["id": .string(user), "username": .string(user.lowercased()), "team_id": .string("T0123TEAM")]),
            "api_app_id": .string("A0123APP"), "token": .string("legacy-verification-token"),
            "container": .object(["type": .string("message"), "message_ts": .string(message.ts),
                                  "channel_id": .string(message.channel), "is_ephemeral": .bool(false)]),
            "trigger_id": .string("\(actionTS).0123456789.abcdef"),
            "channel": .object(["id": .string(message.channel), "name": .string("alerts")]),
            "message": .object(["type": .string("message"), "ts": .string(message.ts), "text": .string(message.text),
                                "blocks": .array(message.blocks)]),
            "state": .object(["values": .object(Self.stateValues(of: message, typed: typed))]),
            "response_url": .string("https://hooks.slack.invalid/actions/T0123TEAM/1/fake"),
            "actions": .array([.object([
                "type": .string("button"), "action_id": .string(actionID), "block_id": .string("actions"),
                "value": .string(value), "action_ts": .string(actionTS),
                "text": .object(["type": .string("plain_text"), "text": .string(actionID)]),
            ])]),
        ])
        let json = String(decoding: Self.encode(payload), as: UTF8.self)
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._*")
        let body = "payload=" + (json.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        return Interaction(body: body, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Slack-Request-Timestamp", String(timestamp)),
            ("X-Slack-Signature", Self.signature(secret: secret ?? signingSecret, timestamp: String(timestamp), body: body)),
        ])
    }

    /// `state.values` of a click: every input block of the message, with what was typed into it (null if nothing).
    static func stateValues(of message: Message, typed: [String: String]) -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for block in message.blocks where block["type"]?.stringValue == "input" {
            guard let blockID = block["block_id"]?.stringValue,
                  let actionID = block["element"]?["action_id"]?.stringValue else { continue }
            values[blockID] = .object([actionID: .object([
                "type": .string("plain_text_input"), "value": typed[blockID].map(JSONValue.string) ?? .null,
            ])])
        }
        return values
    }

    /// `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`: Slack's request signature.
    public static func signature(secret: String, timestamp: String, body: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("v0:\(timestamp):\(body)".utf8),
                                                   using: SymmetricKey(data: Array(secret.utf8)))
        return "v0=" + code.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: HTTP

    /// The Web API under `/api/<method>`: every call is answered (and logged) by one dispatcher.
    public var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/api/:method") { [self] request, context -> Response in
            let method = context.parameters.get("method") ?? ""
            let body = try await request.body.collect(upTo: 4 << 20)
            let reply = answer(method: method, authorization: request.headers[.authorization],
                               contentType: request.headers[.contentType], body: Data(body.readableBytesView))
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            if let retryAfter = reply.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
            return Response(status: .init(code: reply.status), headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.encode(.object(reply.json)))))
        }
        return router
    }

    private struct Reply {
        var status = 200
        var json: [String: JSONValue]
        var retryAfterSeconds: Int?

        static func ok(_ fields: [String: JSONValue] = [:]) -> Reply {
            Reply(json: fields.merging(["ok": .bool(true)]) { $1 })
        }

        static func error(_ error: String, _ extra: [String: JSONValue] = [:], status: Int = 200) -> Reply {
            Reply(status: status, json: extra.merging(["ok": .bool(false), "error": .string(error)]) { $1 })
        }
    }

    private func answer(method: String, authorization: String?, contentType: String?, body: Data) -> Reply {
        state.withLock { state in
            let reply = route(&state, method: method, authorization: authorization, contentType: contentType, body: body)
            state.requestLog.append(LoggedRequest(method: method, error: reply.json["error"]?.stringValue, status: reply.status))
            return reply
        }
    }

    private func route(_ state: inout State, method: String, authorization: String?, contentType: String?,
                       body: Data) -> Reply {
        guard let authorization else { return .error("not_authed") }
        guard authorization == "Bearer \(botToken)" else { return .error("invalid_auth") }
        if let index = state.failures.firstIndex(where: { $0.method.map { $0 == method } ?? true }) {
            let failure = state.failures[index]
            state.failures[index].remaining -= 1
            if state.failures[index].remaining == 0 { state.failures.remove(at: index) }
            var reply = Reply.error(failure.status == 429 ? "ratelimited" : "internal_error", status: failure.status)
            reply.retryAfterSeconds = failure.retryAfterSeconds
            return reply
        }
        // JSON bodies only: the integration never sends forms, and a token in a JSON body would not be read.
        guard contentType?.lowercased().hasPrefix("application/json") == true else { return .error("invalid_arguments") }
        guard let fields = try? JSONValue.parseObject(body) else { return .error("invalid_json") }
        switch method {
        case "chat.postMessage": return postMessage(&state, fields)
        case "chat.update": return update(&state, fields)
        case "users.info": return userInfo(state, fields)
        default: return .error("unknown_method", status: 404)
        }
    }

    private func postMessage(_ state: inout State, _ fields: [String: JSONValue]) -> Reply {
        guard let channel = fields["channel"]?.stringValue, channels.contains(channel) else { return .error("channel_not_found") }
        let blocks = fields["blocks"]?.arrayValue
        let text = fields["text"]?.stringValue ?? ""
        guard !text.isEmpty || blocks?.isEmpty == false else { return .error("no_text") }
        if let blocks, let problem = Self.blocksProblem(blocks) { return .error("invalid_blocks", ["detail": .string(problem)]) }
        if let problem = fields["attachments"]?.arrayValue?.lazy.compactMap({ $0["blocks"]?.arrayValue.flatMap(Self.blocksProblem) }).first {
            return .error("invalid_attachments", ["detail": .string(problem)])
        }
        let threadTS = fields["thread_ts"]?.stringValue
        if let threadTS {
            // Replies hang from a parent in the same channel, never from another reply.
            guard let parent = state.messages.first(where: { $0.ts == threadTS && $0.channel == channel }),
                  parent.threadTS == nil
            else { return .error("thread_not_found") }
        }
        state.clock += 1
        let ts = "\(state.clock).000100"
        var message = Message(channel: channel, ts: ts, threadTS: threadTS, text: text, blocks: blocks ?? [], edits: 0)
        message.attachments = fields["attachments"]?.arrayValue ?? []
        state.messages.append(message)
        return .ok(["channel": .string(channel), "ts": .string(ts),
                    "message": .object(["text": .string(text), "ts": .string(ts)])])
    }

    private func update(_ state: inout State, _ fields: [String: JSONValue]) -> Reply {
        guard let channel = fields["channel"]?.stringValue, channels.contains(channel) else { return .error("channel_not_found") }
        guard let ts = fields["ts"]?.stringValue,
              let index = state.messages.firstIndex(where: { $0.ts == ts && $0.channel == channel })
        else { return .error("message_not_found") }
        if let blocks = fields["blocks"]?.arrayValue {
            if let problem = Self.blocksProblem(blocks) { return .error("invalid_blocks", ["detail": .string(problem)]) }
            state.messages[index].blocks = blocks
        }
        if let attachments = fields["attachments"]?.arrayValue {
            if let problem = attachments.lazy.compactMap({ $0["blocks"]?.arrayValue.flatMap(Self.blocksProblem) }).first {
                return .error("invalid_attachments", ["detail": .string(problem)])
            }
            state.messages[index].attachments = attachments
        }
        if let text = fields["text"]?.stringValue { state.messages[index].text = text }
        state.messages[index].edits += 1
        return .ok(["channel": .string(channel), "ts": .string(ts), "text": .string(state.messages[index].text)])
    }

    private func userInfo(_ state: State, _ fields: [String: JSONValue]) -> Reply {
        guard let id = fields["user"]?.stringValue, let user = state.users[id] else { return .error("user_not_found") }
        return .ok(["user": .object([
            "id": .string(user.id), "name": .string(user.name), "deleted": .bool(false), "is_bot": .bool(false),
            "profile": .object(["email": .string(user.email), "display_name": .string(user.name)]),
        ])])
    }

    /// The Block Kit limits Slack enforces that a message of ours could reach; nil when the blocks are valid.
    public static func blocksProblem(_ blocks: [JSONValue]) -> String? {
        guard blocks.count <= 50 else { return "more than 50 blocks" }
        for block in blocks {
            guard let object = block.objectValue, let type = object["type"]?.stringValue else { return "a block without a type" }
            switch type {
            case "section", "context", "header", "divider":
                if let text = object["text"]?["text"]?.stringValue, text.count > 3000 { return "a text over 3000 characters" }
                if let fields = object["fields"]?.arrayValue, fields.count > 10 { return "more than 10 fields" }
            case "actions":
                let elements = object["elements"]?.arrayValue ?? []
                guard !elements.isEmpty, elements.count <= 25 else { return "an actions block with 0 or more than 25 elements" }
                for element in elements {
                    guard (element["text"]?["text"]?.stringValue?.count ?? 0) <= 75 else { return "a button text over 75 characters" }
                    guard (element["value"]?.stringValue?.count ?? 0) <= 2000 else { return "a button value over 2000 characters" }
                    guard let actionID = element["action_id"]?.stringValue, actionID.count <= 255 else {
                        return "a button without an action_id of at most 255 characters"
                    }
                }
            case "input":
                guard let label = object["label"]?["text"]?.stringValue, !label.isEmpty, label.count <= 2000 else {
                    return "an input without a label of at most 2000 characters"
                }
                guard object["element"]?["type"]?.stringValue == "plain_text_input",
                      object["element"]?["action_id"]?.stringValue?.isEmpty == false
                else { return "an input without a plain_text_input element with an action_id" }
            default:
                return "a block of unknown type \(type)"
            }
            if let blockID = object["block_id"]?.stringValue, blockID.count > 255 { return "a block_id over 255 characters" }
        }
        let ids = blocks.compactMap { $0["block_id"]?.stringValue }
        guard Set(ids).count == ids.count else { return "two blocks with the same block_id" }
        return nil
    }

    static func encode(_ value: JSONValue) -> Data {
        (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    }
}
