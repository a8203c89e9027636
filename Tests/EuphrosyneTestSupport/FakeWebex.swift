import AsyncHTTPClient
import Crypto
import EuphrosyneCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An in-process stand-in for the Webex REST API (`/v1`), for tests of the Webex bot client: messages (threads,
/// adaptive cards), webhooks, attachment actions and people, with the real contract's validation, bearer-token
/// authentication, Webex-shaped error bodies, injectable 429/5xx failures, and signed card-submission callbacks
/// delivered to registered webhooks.
///
/// Serve `router` with `RunningServer.with([webex.router]) { ports in ... }`; the API is then at
/// `FakeWebex.baseURL(port: ports[0])`.
public final class FakeWebex: Sendable {
    /// A message as the fake stored it; tests read them through `messages` to check what a client posted.
    public struct Message: Sendable, Hashable {
        public var id: String
        public var roomId: String
        /// "group" for a message posted to a `roomId`, "direct" for one posted to a person.
        public var roomType: String
        public var parentId: String?
        public var toPersonId: String?
        public var toPersonEmail: String?
        public var text: String?
        public var markdown: String?
        /// The `attachments` array as posted (at most one adaptive card), or nil.
        public var attachments: JSONValue?
        public var personId: String
        public var personEmail: String
        public var created: String
        /// How many times `PUT /messages/{id}` changed it (Webex refuses the 11th edit), and when it last did.
        public var edits = 0
        public var updated: String?

        /// The message as the API returns it.
        public var json: JSONValue {
            var object: [String: JSONValue] = [
                "id": .string(id), "roomId": .string(roomId), "roomType": .string(roomType),
                "personId": .string(personId), "personEmail": .string(personEmail), "created": .string(created),
            ]
            object["parentId"] = parentId.map(JSONValue.string)
            object["toPersonId"] = toPersonId.map(JSONValue.string)
            object["toPersonEmail"] = toPersonEmail.map(JSONValue.string)
            object["text"] = text.map(JSONValue.string)
            object["markdown"] = markdown.map(JSONValue.string)
            object["attachments"] = attachments
            object["updated"] = updated.map(JSONValue.string)
            return .object(object)
        }
    }

    /// A webhook registration; tests read them through `webhooks` to check what a client registered or changed.
    public struct Webhook: Sendable, Hashable {
        public var id: String
        public var name: String
        public var targetUrl: String
        public var resource: String
        public var event: String
        public var filter: String?
        public var secret: String?
        /// "active" or "inactive" (Webex disables webhooks whose target keeps failing; PUT re-activates).
        public var status: String
        public var created: String
        public var orgId: String
        public var createdBy: String
        public var appId: String
        public var ownedBy: String

        /// The registration as the API returns it (with the secret, as Webex does).
        public var json: JSONValue {
            guard case .object(var object) = callbackEnvelope else { return callbackEnvelope }
            object["secret"] = secret.map(JSONValue.string)
            return .object(object)
        }

        /// The registration fields a callback repeats (everything but the secret).
        var callbackEnvelope: JSONValue {
            var object: [String: JSONValue] = [
                "id": .string(id), "name": .string(name), "targetUrl": .string(targetUrl),
                "resource": .string(resource), "event": .string(event), "status": .string(status),
                "created": .string(created), "orgId": .string(orgId), "createdBy": .string(createdBy),
                "appId": .string(appId), "ownedBy": .string(ownedBy),
            ]
            object["filter"] = filter.map(JSONValue.string)
            return .object(object)
        }
    }

    /// A card submission (`attachmentActions` resource); the receiver of a callback fetches it for the inputs.
    public struct AttachmentAction: Sendable, Hashable {
        public var id: String
        public var type: String
        public var messageId: String
        public var inputs: [String: JSONValue]
        public var personId: String
        public var roomId: String
        public var created: String

        /// The action as `GET /v1/attachment/actions/{id}` returns it.
        public var json: JSONValue {
            .object([
                "id": .string(id), "type": .string(type), "messageId": .string(messageId), "inputs": .object(inputs),
                "personId": .string(personId), "roomId": .string(roomId), "created": .string(created),
            ])
        }

        /// The `data` of a callback: the action without its inputs, as Webex sends it.
        var callbackData: JSONValue {
            .object([
                "id": .string(id), "type": .string(type), "messageId": .string(messageId),
                "personId": .string(personId), "roomId": .string(roomId), "created": .string(created),
            ])
        }
    }

    /// A person the people API knows (the bot, and whoever a test adds with `addPerson`).
    public struct Person: Sendable, Hashable {
        public var id: String
        public var emails: [String]
        public var displayName: String
        public var nickName: String
        public var firstName: String
        public var lastName: String
        public var orgId: String
        public var created: String
        public var status: String
        /// "person" or "bot".
        public var type: String

        public var json: JSONValue {
            .object([
                "id": .string(id), "emails": .array(emails.map(JSONValue.string)), "displayName": .string(displayName),
                "nickName": .string(nickName), "firstName": .string(firstName), "lastName": .string(lastName),
                "orgId": .string(orgId), "created": .string(created), "status": .string(status), "type": .string(type),
            ])
        }
    }

    /// One request the fake answered (failed ones included), so tests can count attempts and retries.
    public struct LoggedRequest: Sendable, Hashable {
        public var method: String
        /// The path without the query, e.g. `/v1/messages`.
        public var path: String
        public var status: Int
    }

    /// One callback POST to a webhook's target, as `submitCard` made it.
    public struct CallbackDelivery: Sendable, Hashable {
        public var webhookID: String
        public var targetUrl: String
        /// The HTTP status the target answered.
        public var status: Int
        /// The exact bytes sent (and signed).
        public var body: Data
        /// The `X-Spark-Signature` header sent, if any.
        public var signature: String?
    }

    /// What `submitCard` did: the attachment action it created and the callbacks it delivered.
    public struct CardSubmission: Sendable, Hashable {
        public var actionID: String
        public var deliveries: [CallbackDelivery]
        /// The targets' statuses, one per delivery, in webhook order.
        public var statuses: [Int] { deliveries.map(\.status) }
    }

    /// A misuse of the fake by a test (not an API error; those are HTTP answers).
    public struct FakeWebexError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Webex's adaptive-card content type, the only attachment kind messages accept.
    public static let adaptiveCardContentType = "application/vnd.microsoft.card.adaptive"
    /// The most bytes (UTF-8) a message's `text` or `markdown` may have.
    public static let maximumMessageBytes = 7439

    public let botToken: String
    public let botEmail: String
    public let botID: String
    public let orgID: String
    public let appID: String

    struct PlannedFailure {
        var remaining: Int
        var status: Int
        var retryAfterSeconds: Int?
        var pathPrefix: String?
        var method: String?
        var afterDoing: Bool
    }

    /// The fake's whole state, behind `state`'s lock (internal so the rooms and memberships part of the API, in
    /// `FakeWebex+Rooms.swift`, can share it).
    struct State {
        var people: [Person] = []
        var messages: [Message] = []
        var webhooks: [Webhook] = []
        var actions: [AttachmentAction] = []
        var requestLog: [LoggedRequest] = []
        var failures: [PlannedFailure] = []
        var directRooms: [String: String] = [:]
        /// Group rooms (spaces) created with `POST /rooms` or `seedRoom`, oldest first.
        var rooms: [Room] = []
        var memberships: [Membership] = []
    }

    let state = Mutex(State())

    public init(
        botToken: String = "fake-bot-token", botEmail: String = "euphrosyne@webex.bot",
        botDisplayName: String = "Euphrosyne"
    ) {
        self.botToken = botToken
        self.botEmail = botEmail
        self.botID = Self.makeID("PEOPLE")
        self.orgID = Self.makeID("ORGANIZATION")
        self.appID = Self.makeID("APPLICATION")
        let bot = Self.person(id: botID, email: botEmail, displayName: botDisplayName, orgID: orgID, type: "bot")
        state.withLock { $0.people.append(bot) }
    }

    /// `http://127.0.0.1:<port>/v1`, the base URL of a fake served on that port.
    public static func baseURL(port: Int) -> String { "http://127.0.0.1:\(port)/v1" }

    // MARK: Seeding and inspection

    /// Adds a person the people API will know (e.g. whoever submits a card); returns their id.
    @discardableResult
    public func addPerson(id: String? = nil, email: String, displayName: String) -> String {
        let person = Self.person(
            id: id ?? Self.makeID("PEOPLE"), email: email, displayName: displayName, orgID: orgID, type: "person"
        )
        state.withLock { state in
            state.people.removeAll { $0.id == person.id }
            state.people.append(person)
        }
        return person.id
    }

    /// Registers a webhook as if created earlier (for clients that verify, update or delete existing ones); returns
    /// its id.
    @discardableResult
    public func seedWebhook(
        name: String, targetUrl: String, resource: String = "attachmentActions", event: String = "created",
        filter: String? = nil, secret: String? = nil, status: String = "active"
    ) -> String {
        let webhook = Webhook(
            id: Self.makeID("WEBHOOK"), name: name, targetUrl: targetUrl, resource: resource, event: event,
            filter: filter, secret: secret, status: status, created: Self.timestamp(), orgId: orgID,
            createdBy: botID, appId: appID, ownedBy: "creator"
        )
        state.withLock { $0.webhooks.append(webhook) }
        return webhook.id
    }

    /// Sets a webhook's status, e.g. to "inactive" to play Webex auto-disabling it.
    public func setWebhookStatus(_ id: String, _ status: String) {
        state.withLock { state in
            if let index = state.webhooks.firstIndex(where: { $0.id == id }) { state.webhooks[index].status = status }
        }
    }

    /// Makes the next `count` requests (whose path starts with `pathPrefix`, e.g. `/v1/messages`, when given) fail
    /// with `status` and a Webex error body, with `Retry-After` when `retryAfterSeconds` is given. Failed requests
    /// change nothing, unless `afterDoing`: then the request is carried out and only its answer is replaced (an
    /// answer lost on the way back). Requests without a valid token are refused (401) before this applies. `method`
    /// (e.g. "POST") limits it to requests of that method.
    public func failNext(
        _ count: Int, status: Int, retryAfterSeconds: Int? = nil, pathPrefix: String? = nil, method: String? = nil,
        afterDoing: Bool = false
    ) {
        guard count > 0 else { return }
        state.withLock {
            $0.failures.append(PlannedFailure(
                remaining: count, status: status, retryAfterSeconds: retryAfterSeconds, pathPrefix: pathPrefix,
                method: method, afterDoing: afterDoing
            ))
        }
    }

    public var messages: [Message] { state.withLock { $0.messages } }
    public var webhooks: [Webhook] { state.withLock { $0.webhooks } }
    public var attachmentActions: [AttachmentAction] { state.withLock { $0.actions } }
    public var people: [Person] { state.withLock { $0.people } }
    public var requestLog: [LoggedRequest] { state.withLock { $0.requestLog } }

    public func message(id: String) -> Message? { messages.first { $0.id == id } }
    public func webhook(id: String) -> Webhook? { webhooks.first { $0.id == id } }
    public func attachmentAction(id: String) -> AttachmentAction? { attachmentActions.first { $0.id == id } }

    // MARK: Card submissions and callbacks

    /// Plays a person submitting the adaptive card on message `messageID`: creates an attachment action (type
    /// "submit", in the message's room) and POSTs the callback to every active webhook for `attachmentActions`
    /// `created` whose filter (if any, e.g. `roomId=<id>`) matches, signed with `X-Spark-Signature` when the webhook
    /// has a secret. `signatureOverride` replaces the signature header (even without a secret) to test refusal.
    ///
    /// - Throws: `FakeWebexError` when the message is unknown; the client's error when a target is unreachable.
    public func submitCard(
        messageID: String, personID: String, inputs: [String: JSONValue], using client: HTTPClient = .shared,
        signatureOverride: String? = nil
    ) async throws -> CardSubmission {
        let (action, targets) = try state.withLock { state throws(FakeWebexError) in
            guard let message = state.messages.first(where: { $0.id == messageID }) else {
                throw FakeWebexError(description: "submitCard: no message \(messageID)")
            }
            let action = AttachmentAction(
                id: Self.makeID("ATTACHMENT_ACTION"), type: "submit", messageId: messageID, inputs: inputs,
                personId: personID, roomId: message.roomId, created: Self.timestamp()
            )
            state.actions.append(action)
            let targets = state.webhooks.filter {
                $0.status == "active" && $0.resource == "attachmentActions" && $0.event == "created"
                    && Self.filter($0.filter, matches: action)
            }
            return (action, targets)
        }
        var deliveries: [CallbackDelivery] = []
        for webhook in targets {
            deliveries.append(try await deliver(
                webhook: webhook, actorID: personID, data: action.callbackData, client: client,
                signatureOverride: signatureOverride
            ))
        }
        return CardSubmission(actionID: action.id, deliveries: deliveries)
    }

    /// `HMAC-SHA1(key: secret, message: body)` in lowercase hex: the `X-Spark-Signature` of a callback.
    public static func sparkSignature(body: Data, secret: String) -> String {
        let code = HMAC<Insecure.SHA1>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private func deliver(
        webhook: Webhook, actorID: String, data: JSONValue, client: HTTPClient, signatureOverride: String?
    ) async throws -> CallbackDelivery {
        guard case .object(var object) = webhook.callbackEnvelope else { preconditionFailure() }
        object["actorId"] = .string(actorID)
        object["data"] = data
        let body = Self.encode(.object(object))
        let signature = signatureOverride ?? webhook.secret.map { Self.sparkSignature(body: body, secret: $0) }
        var request = HTTPClientRequest(url: webhook.targetUrl)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let signature { request.headers.add(name: "X-Spark-Signature", value: signature) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return CallbackDelivery(
            webhookID: webhook.id, targetUrl: webhook.targetUrl, status: Int(response.status.code), body: body,
            signature: signature
        )
    }

    /// Whether a webhook filter (`key=value&key=value`) matches an action; keys other than roomId, personId and
    /// messageId never match.
    private static func filter(_ filter: String?, matches action: AttachmentAction) -> Bool {
        guard let filter, !filter.isEmpty else { return true }
        return filter.split(separator: "&").allSatisfy { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return false }
            let value = parts[1].removingPercentEncoding ?? parts[1]
            switch parts[0] {
            case "roomId": return action.roomId == value
            case "personId": return action.personId == value
            case "messageId": return action.messageId == value
            default: return false
            }
        }
    }

    // MARK: HTTP

    /// The API under `/v1`; every request is answered (and logged) by one dispatcher, unknown endpoints with 404.
    public var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("/**", method: method) { [self] request, _ -> Response in
                let body = try await request.body.collect(upTo: 4 << 20)
                let reply = answer(
                    method: request.method.rawValue, path: request.uri.path, query: request.uri.query,
                    authority: request.head.authority, authorization: request.headers[.authorization],
                    body: Data(body.readableBytesView)
                )
                var headers = HTTPFields()
                headers[HTTPField.Name("Trackingid")!] = reply.trackingID
                if let retryAfter = reply.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
                if let link = reply.link { headers[HTTPField.Name("Link")!] = link }
                guard let json = reply.json else { return Response(status: .init(code: reply.status), headers: headers) }
                headers[.contentType] = "application/json;charset=UTF-8"
                return Response(
                    status: .init(code: reply.status), headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.encode(json)))
                )
            }
        }
        return router
    }

    struct Reply {
        var status: Int
        var json: JSONValue?
        var trackingID = ""
        var retryAfterSeconds: Int?
        /// A `Link` header (`<url>; rel="next"` on a list with more pages).
        var link: String?
    }

    private func answer(
        method: String, path: String, query: String?, authority: String?, authorization: String?, body: Data
    ) -> Reply {
        let trackingID = "FAKEWEBEX_" + UUID().uuidString
        let request = ListRequest(query: query, base: "http://\(authority ?? "127.0.0.1")", path: path)
        return state.withLock { state in
            var reply = route(&state, method: method, path: path, list: request, authorization: authorization, body: body)
            reply.trackingID = trackingID
            if case .object(var object) = reply.json, object["errors"] != nil {
                object["trackingId"] = .string(trackingID)
                reply.json = .object(object)
            }
            state.requestLog.append(LoggedRequest(method: method, path: path, status: reply.status))
            return reply
        }
    }

    private func route(
        _ state: inout State, method: String, path: String, list: ListRequest, authorization: String?, body: Data
    ) -> Reply {
        guard authorization == "Bearer \(botToken)" else {
            return Self.error(401, authorization == nil
                ? "The request requires a valid access token set in the Authorization request header (none was sent)."
                : "The request requires a valid access token set in the Authorization request header (this one is not valid).")
        }
        if let index = state.failures.firstIndex(where: {
            ($0.pathPrefix.map(path.hasPrefix) ?? true) && ($0.method.map { $0 == method } ?? true)
        }) {
            let failure = state.failures[index]
            state.failures[index].remaining -= 1
            if state.failures[index].remaining == 0 { state.failures.remove(at: index) }
            if failure.afterDoing {
                _ = route(&state, method: method, path: path, list: list, authorization: authorization, body: body)
            }
            var reply = Self.error(failure.status, HTTPResponse.Status(code: failure.status).reasonPhrase
                + " (injected by failNext)")
            reply.retryAfterSeconds = failure.retryAfterSeconds
            return reply
        }
        let components = path.split(separator: "/").map(String.init)
        guard components.first == "v1" else { return Self.error(404, "No endpoint \(method) \(path): the API is under /v1.") }
        let parts = Array(components.dropFirst())
        let (first, second, third) = (parts.first ?? "", parts.count > 1 ? parts[1] : nil, parts.count > 2 ? parts[2] : nil)
        if first == "rooms" || first == "memberships",
           let reply = routeRooms(&state, method: method, parts: parts, list: list, body: body) {
            return reply
        }
        switch (method, parts.count, first, second, third) {
        case ("POST", 1, "messages", _, _):
            return withObject(body) { createMessage(&state, $0) }
        case ("GET", 2, "messages", let id?, _):
            guard let message = state.messages.first(where: { $0.id == id }) else {
                return Self.error(404, "No message with id \(id).")
            }
            return Reply(status: 200, json: message.json)
        case ("PUT", 2, "messages", let id?, _):
            return withObject(body) { editMessage(&state, id: id, $0) }
        case ("DELETE", 2, "messages", let id?, _):
            guard let index = state.messages.firstIndex(where: { $0.id == id }) else {
                return Self.error(404, "No message with id \(id).")
            }
            guard state.messages[index].personId == botID else { return Self.error(403, "Only your own messages can be deleted.") }
            state.messages.remove(at: index)
            return Reply(status: 204)
        case ("POST", 1, "webhooks", _, _):
            return withObject(body) { createWebhook(&state, $0) }
        case ("GET", 1, "webhooks", _, _):
            return Reply(status: 200, json: .object(["items": .array(state.webhooks.map(\.json))]))
        case ("GET", 2, "webhooks", let id?, _):
            guard let webhook = state.webhooks.first(where: { $0.id == id }) else {
                return Self.error(404, "No webhook with id \(id).")
            }
            return Reply(status: 200, json: webhook.json)
        case ("PUT", 2, "webhooks", let id?, _):
            return withObject(body) { updateWebhook(&state, id: id, $0) }
        case ("DELETE", 2, "webhooks", let id?, _):
            guard let index = state.webhooks.firstIndex(where: { $0.id == id }) else {
                return Self.error(404, "No webhook with id \(id).")
            }
            state.webhooks.remove(at: index)
            return Reply(status: 204)
        case ("GET", 3, "attachment", "actions", let id?):
            guard let action = state.actions.first(where: { $0.id == id }) else {
                return Self.error(404, "No attachment action with id \(id).")
            }
            return Reply(status: 200, json: action.json)
        case ("GET", 2, "people", "me", _):
            guard let bot = state.people.first(where: { $0.id == botID }) else { return Self.error(404, "No bot.") }
            return Reply(status: 200, json: bot.json)
        case ("GET", 2, "people", let id?, _):
            guard let person = state.people.first(where: { $0.id == id }) else {
                return Self.error(404, "No person with id \(id).")
            }
            return Reply(status: 200, json: person.json)
        default:
            return Self.error(404, "No endpoint \(method) \(path) in the fake Webex API.")
        }
    }

    func withObject(_ body: Data, _ handle: ([String: JSONValue]) -> Reply) -> Reply {
        do {
            return handle(try JSONValue.parseObject(body))
        } catch {
            return Self.error(400, "The request body is not a JSON object: \(error.message).")
        }
    }

    private func createMessage(_ state: inout State, _ body: [String: JSONValue]) -> Reply {
        var targets: [(key: String, value: String)] = []
        for key in ["roomId", "toPersonId", "toPersonEmail"] {
            guard let value = body[key], value != .null else { continue }
            guard let string = value.stringValue, !string.isEmpty else {
                return Self.error(400, "\(key) must be a non-empty string, got \(value.kindDescription).")
            }
            targets.append((key, string))
        }
        guard targets.count == 1, let target = targets.first else {
            return Self.error(400, targets.isEmpty
                ? "Exactly one of roomId, toPersonId or toPersonEmail is required; none was given."
                : "Exactly one of roomId, toPersonId or toPersonEmail is allowed; got \(targets.map(\.key).joined(separator: " and ")).")
        }
        var contents: [String: String] = [:]
        for key in ["text", "markdown"] {
            guard let value = body[key], value != .null else { continue }
            guard let string = value.stringValue else {
                return Self.error(400, "\(key) must be a string, got \(value.kindDescription).")
            }
            let bytes = string.utf8.count
            guard bytes <= Self.maximumMessageBytes else {
                return Self.error(400, "\(key) is \(bytes) bytes of UTF-8; the most a message may have is \(Self.maximumMessageBytes).")
            }
            contents[key] = string
        }
        var attachments: JSONValue?
        if let value = body["attachments"], value != .null {
            guard let array = value.arrayValue else {
                return Self.error(400, "attachments must be an array, got \(value.kindDescription).")
            }
            guard array.count <= 1 else {
                return Self.error(400, "attachments may hold at most one card; got \(array.count).")
            }
            if let card = array.first {
                guard let contentType = card["contentType"]?.stringValue else {
                    return Self.error(400, "attachments[0].contentType is required (\(Self.adaptiveCardContentType)).")
                }
                guard contentType == Self.adaptiveCardContentType else {
                    return Self.error(400, "attachments[0].contentType must be \(Self.adaptiveCardContentType), got \(contentType).")
                }
                guard card["content"]?.objectValue != nil else {
                    return Self.error(400, "attachments[0].content must be an object (the adaptive card).")
                }
                attachments = value
            }
        }
        guard !contents.isEmpty || attachments != nil else {
            return Self.error(400, "A message needs text, markdown or an attachment; none was given.")
        }
        let roomID: String
        let roomType: String
        switch target.key {
        case "roomId":
            roomID = target.value
            roomType = "group"
            // A space the fake knows (from POST /rooms) records the activity; other ids are accepted as rooms made
            // elsewhere (the notifier's configured room).
            if let index = state.rooms.firstIndex(where: { $0.id == roomID }) {
                state.rooms[index].lastActivity = Self.timestamp()
            }
        default:
            let personKey = target.key == "toPersonId"
                ? target.value
                : state.people.first(where: { $0.emails.contains(target.value) })?.id ?? target.value
            roomID = state.directRooms[personKey] ?? Self.makeID("ROOM")
            state.directRooms[personKey] = roomID
            roomType = "direct"
        }
        var parentID: String?
        if let value = body["parentId"], value != .null {
            guard let id = value.stringValue, !id.isEmpty else {
                return Self.error(400, "parentId must be a non-empty string, got \(value.kindDescription).")
            }
            guard let parent = state.messages.first(where: { $0.id == id }) else {
                return Self.error(400, "parentId \(id) does not name an existing message.")
            }
            guard parent.parentId == nil else {
                return Self.error(400, "parentId \(id) is itself a reply; threads are one level deep, reply to its parent \(parent.parentId!).")
            }
            guard parent.roomId == roomID else {
                return Self.error(400, "parentId \(id) is in another room (\(parent.roomId)) than this message (\(roomID)).")
            }
            parentID = id
        }
        let message = Message(
            id: Self.makeID("MESSAGE"), roomId: roomID, roomType: roomType, parentId: parentID,
            toPersonId: target.key == "toPersonId" ? target.value : nil,
            toPersonEmail: target.key == "toPersonEmail" ? target.value : nil,
            text: contents["text"], markdown: contents["markdown"], attachments: attachments, personId: botID,
            personEmail: botEmail, created: Self.timestamp()
        )
        state.messages.append(message)
        return Reply(status: 200, json: message.json)
    }

    /// `PUT /messages/{id}`: the bot's own message, `roomId` required, text and/or markdown only; at most 10 edits,
    /// none of a message with a card (as Webex documents).
    private func editMessage(_ state: inout State, id: String, _ body: [String: JSONValue]) -> Reply {
        guard let index = state.messages.firstIndex(where: { $0.id == id }) else { return Self.error(404, "No message with id \(id).") }
        let message = state.messages[index]
        guard let roomID = body["roomId"]?.stringValue, !roomID.isEmpty else { return Self.error(400, "roomId is required.") }
        guard roomID == message.roomId else { return Self.error(400, "roomId does not match the message's room.") }
        guard message.personId == botID else { return Self.error(403, "Only your own messages can be edited.") }
        guard body["html"] == nil, body["attachments"] == nil, body["files"] == nil else {
            return Self.error(400, "Only text and markdown can be edited.")
        }
        guard message.attachments == nil else { return Self.error(400, "A message with attachments cannot be edited.") }
        guard message.edits < 10 else { return Self.error(400, "Edit limit reached: a message can be edited at most 10 times.") }
        let text = body["text"]?.stringValue
        let markdown = body["markdown"]?.stringValue
        guard text != nil || markdown != nil else { return Self.error(400, "Give text or markdown to edit.") }
        for value in [text, markdown].compactMap({ $0 }) where value.utf8.count > Self.maximumMessageBytes {
            return Self.error(400, "text and markdown are limited to \(Self.maximumMessageBytes) bytes.")
        }
        state.messages[index].text = text ?? markdown
        state.messages[index].markdown = markdown
        state.messages[index].edits += 1
        state.messages[index].updated = Self.timestamp()
        return Reply(status: 200, json: state.messages[index].json)
    }

    private static let resources: Set<String> = [
        "all", "attachmentActions", "memberships", "messages", "rooms", "meetings", "recordings",
        "meetingParticipants", "meetingTranscripts",
    ]
    private static let events: Set<String> = [
        "all", "created", "updated", "deleted", "started", "ended", "joined", "left", "migrated",
    ]

    private func createWebhook(_ state: inout State, _ body: [String: JSONValue]) -> Reply {
        var fields: [String: String] = [:]
        for key in ["name", "targetUrl", "resource", "event"] {
            guard let value = body[key]?.stringValue, !value.isEmpty else {
                return Self.error(400, "\(key) is required (a non-empty string).")
            }
            fields[key] = value
        }
        guard let targetUrl = fields["targetUrl"], Self.isHTTPURL(targetUrl) else {
            return Self.error(400, "targetUrl must be an absolute http or https URL, got \(fields["targetUrl"] ?? "").")
        }
        guard let resource = fields["resource"], Self.resources.contains(resource) else {
            return Self.error(400, "resource \(fields["resource"] ?? "") is not one of \(Self.resources.sorted().joined(separator: ", ")).")
        }
        guard let event = fields["event"], Self.events.contains(event) else {
            return Self.error(400, "event \(fields["event"] ?? "") is not one of \(Self.events.sorted().joined(separator: ", ")).")
        }
        var optional: [String: String] = [:]
        for key in ["filter", "secret"] {
            guard let value = body[key], value != .null else { continue }
            guard let string = value.stringValue else {
                return Self.error(400, "\(key) must be a string, got \(value.kindDescription).")
            }
            optional[key] = string
        }
        let webhook = Webhook(
            id: Self.makeID("WEBHOOK"), name: fields["name"]!, targetUrl: targetUrl, resource: resource, event: event,
            filter: optional["filter"], secret: optional["secret"], status: "active", created: Self.timestamp(),
            orgId: orgID, createdBy: botID, appId: appID, ownedBy: "creator"
        )
        state.webhooks.append(webhook)
        return Reply(status: 200, json: webhook.json)
    }

    private func updateWebhook(_ state: inout State, id: String, _ body: [String: JSONValue]) -> Reply {
        guard let index = state.webhooks.firstIndex(where: { $0.id == id }) else {
            return Self.error(404, "No webhook with id \(id).")
        }
        guard let name = body["name"]?.stringValue, !name.isEmpty else {
            return Self.error(400, "name is required (a non-empty string).")
        }
        guard let targetUrl = body["targetUrl"]?.stringValue, !targetUrl.isEmpty else {
            return Self.error(400, "targetUrl is required (a non-empty string).")
        }
        guard Self.isHTTPURL(targetUrl) else {
            return Self.error(400, "targetUrl must be an absolute http or https URL, got \(targetUrl).")
        }
        var webhook = state.webhooks[index]
        if let value = body["secret"], value != .null {
            guard let secret = value.stringValue else {
                return Self.error(400, "secret must be a string, got \(value.kindDescription).")
            }
            webhook.secret = secret
        }
        if let value = body["status"], value != .null {
            guard let status = value.stringValue, ["active", "inactive"].contains(status) else {
                return Self.error(400, "status must be \"active\" or \"inactive\".")
            }
            webhook.status = status
        }
        webhook.name = name
        webhook.targetUrl = targetUrl
        state.webhooks[index] = webhook
        return Reply(status: 200, json: webhook.json)
    }

    // MARK: Helpers

    static func error(_ status: Int, _ description: String) -> Reply {
        Reply(status: status, json: .object([
            "message": .string(description), "errors": .array([.object(["description": .string(description)])]),
        ]))
    }

    private static func isHTTPURL(_ string: String) -> Bool {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host else {
            return false
        }
        return (scheme == "http" || scheme == "https") && !host.isEmpty
    }

    private static func person(id: String, email: String, displayName: String, orgID: String, type: String) -> Person {
        let names = displayName.split(separator: " ", maxSplits: 1).map(String.init)
        return Person(
            id: id, emails: [email], displayName: displayName, nickName: names.first ?? displayName,
            firstName: names.first ?? displayName, lastName: names.count > 1 ? names[1] : "", orgId: orgID,
            created: timestamp(), status: "active", type: type
        )
    }

    /// A Webex-like opaque id: base64url (unpadded) of `ciscospark://us/<KIND>/<uuid>`.
    static func makeID(_ kind: String) -> String {
        Data("ciscospark://us/\(kind)/\(UUID().uuidString.lowercased())".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-28T21:20:01.123Z`.
    static func timestamp(_ date: Date = Date()) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: it holds only JSON.
        return (try? encoder.encode(value)) ?? Data("null".utf8)
    }
}
