import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The fake Webex API held to the parts of the real contract the bot client relies on.
@Suite struct FakeWebexTests {
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var json: JSONValue?
        var errorDescription: String? { json?["errors"]?.arrayValue?.first?["description"]?.stringValue }
    }

    static let card: JSONValue = .object([
        "contentType": .string("application/vnd.microsoft.card.adaptive"),
        "content": .object(["type": .string("AdaptiveCard"), "version": .string("1.3"), "body": .array([])]),
    ])

    /// One API call with the bot token (or `token`), JSON in and out.
    static func call(
        _ method: HTTPMethod, _ url: String, json: JSONValue? = nil, token: String? = "fake-bot-token"
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let data = Data(body.readableBytesView)
        let value = data.isEmpty ? nil : try JSONDecoder().decode(JSONValue.self, from: data)
        return Answer(status: Int(response.status.code), headers: response.headers, json: value)
    }

    @Test func signsCallbacksLikeWebex() {
        let body = #"{"id":"WH-1","name":"cards","resource":"attachmentActions","event":"created","data":{"id":"ACT-1"}}"#
        #expect(FakeWebex.sparkSignature(body: Data(body.utf8), secret: "s3cr3t")
            == "8ee031d54cbb8eba67de922baeeadb09743a336e")
    }

    @Test func refusesRequestsWithoutTheBotToken() async throws {
        let webex = FakeWebex()
        try await RunningServer.with([webex.router]) { ports in
            let base = FakeWebex.baseURL(port: ports[0])
            let missing = try await Self.call(.GET, base + "/people/me", token: nil)
            #expect(missing.status == 401)
            #expect(missing.json?["trackingId"]?.stringValue?.isEmpty == false)
            #expect(missing.headers.first(name: "Trackingid") == missing.json?["trackingId"]?.stringValue)
            let wrong = try await Self.call(.POST, base + "/messages", json: .object([
                "roomId": .string("R"), "text": .string("hi"),
            ]), token: "someone-else")
            #expect(wrong.status == 401)
            #expect(wrong.errorDescription?.contains("access token") == true)
        }
        #expect(webex.messages.isEmpty)
        #expect(webex.requestLog.map(\.status) == [401, 401])
    }

    @Test func peopleMeIsTheBot() async throws {
        let webex = FakeWebex(botEmail: "bot@webex.bot")
        let alice = webex.addPerson(email: "alice@example.com", displayName: "Alice Liddell")
        try await RunningServer.with([webex.router]) { ports in
            let base = FakeWebex.baseURL(port: ports[0])
            let me = try await Self.call(.GET, base + "/people/me")
            #expect(me.status == 200)
            #expect(me.json?["id"]?.stringValue == webex.botID)
            #expect(me.json?["type"]?.stringValue == "bot")
            #expect(me.json?["emails"] == .array([.string("bot@webex.bot")]))
            let person = try await Self.call(.GET, base + "/people/\(alice)")
            #expect(person.json?["type"]?.stringValue == "person")
            #expect(person.json?["emails"] == .array([.string("alice@example.com")]))
            #expect(person.json?["firstName"]?.stringValue == "Alice")
            #expect(person.json?["lastName"]?.stringValue == "Liddell")
            #expect(try await Self.call(.GET, base + "/people/nobody").status == 404)
        }
    }

    @Test func validatesMessages() async throws {
        let webex = FakeWebex()
        try await RunningServer.with([webex.router]) { ports in
            let url = FakeWebex.baseURL(port: ports[0]) + "/messages"
            func post(_ fields: [String: JSONValue]) async throws -> Answer {
                try await Self.call(.POST, url, json: .object(fields))
            }
            let noTarget = try await post(["text": .string("hi")])
            #expect(noTarget.status == 400)
            #expect(noTarget.errorDescription?.contains("roomId, toPersonId or toPersonEmail") == true)
            let twoTargets = try await post([
                "roomId": .string("ROOM-1"), "toPersonEmail": .string("a@example.com"), "text": .string("hi"),
            ])
            #expect(twoTargets.status == 400)
            #expect(twoTargets.errorDescription?.contains("roomId and toPersonEmail") == true)
            let tooLong = try await post(["roomId": .string("ROOM-1"), "markdown": .string(String(repeating: "é", count: 3720))])
            #expect(tooLong.status == 400)
            #expect(tooLong.errorDescription?.contains("7440 bytes") == true)
            let longest = try await post(["roomId": .string("ROOM-1"), "markdown": .string(String(repeating: "x", count: 7439))])
            #expect(longest.status == 200)
            let twoCards = try await post(["roomId": .string("ROOM-1"), "text": .string("t"),
                                           "attachments": .array([Self.card, Self.card])])
            #expect(twoCards.status == 400)
            #expect(twoCards.errorDescription?.contains("at most one") == true)
            let noContent = try await post(["roomId": .string("ROOM-1")])
            #expect(noContent.status == 400)
            let unknownParent = try await post(["roomId": .string("ROOM-1"), "text": .string("re"), "parentId": .string("nope")])
            #expect(unknownParent.status == 400)
            #expect(unknownParent.errorDescription?.contains("nope") == true)

            let root = try await post(["roomId": .string("ROOM-1"), "markdown": .string("**alert**"),
                                       "attachments": .array([Self.card])])
            #expect(root.status == 200)
            let rootID = try #require(root.json?["id"]?.stringValue)
            #expect(root.json?["roomType"]?.stringValue == "group")
            #expect(root.json?["personId"]?.stringValue == webex.botID)
            #expect(root.json?["personEmail"]?.stringValue == "euphrosyne@webex.bot")
            let created = try #require(root.json?["created"]?.stringValue)
            #expect(created.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
            let reply = try await post(["roomId": .string("ROOM-1"), "text": .string("re"), "parentId": .string(rootID)])
            #expect(reply.status == 200)
            #expect(reply.json?["parentId"]?.stringValue == rootID)
            let replyID = try #require(reply.json?["id"]?.stringValue)
            let nested = try await post(["roomId": .string("ROOM-1"), "text": .string("re re"), "parentId": .string(replyID)])
            #expect(nested.status == 400)

            let fetched = try await Self.call(.GET, url + "/\(rootID)")
            #expect(fetched.json == root.json)
            #expect(try await Self.call(.GET, url + "/unknown").status == 404)
        }
        #expect(webex.messages.count == 3)
        #expect(webex.messages.last?.parentId == webex.messages[1].id)
        #expect(webex.messages[1].attachments == .array([Self.card]))
    }

    @Test func managesWebhooks() async throws {
        let webex = FakeWebex()
        let seeded = webex.seedWebhook(name: "old", targetUrl: "http://127.0.0.1:1/old", secret: "x", status: "inactive")
        try await RunningServer.with([webex.router]) { ports in
            let url = FakeWebex.baseURL(port: ports[0]) + "/webhooks"
            let incomplete = try await Self.call(.POST, url, json: .object(["name": .string("n")]))
            #expect(incomplete.status == 400)
            #expect(incomplete.errorDescription?.contains("targetUrl") == true)
            let created = try await Self.call(.POST, url, json: .object([
                "name": .string("cards"), "targetUrl": .string("https://bot.example.com/webex"),
                "resource": .string("attachmentActions"), "event": .string("created"),
                "filter": .string("roomId=ROOM-1"), "secret": .string("s3cr3t"),
            ]))
            #expect(created.status == 200)
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(created.json?["status"]?.stringValue == "active")
            #expect(created.json?["ownedBy"]?.stringValue == "creator")
            #expect(created.json?["createdBy"]?.stringValue == webex.botID)
            #expect(created.json?["filter"]?.stringValue == "roomId=ROOM-1")

            let list = try await Self.call(.GET, url)
            #expect(list.json?["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [seeded, id])
            #expect(try await Self.call(.GET, url + "/\(id)").json == created.json)

            let reactivated = try await Self.call(.PUT, url + "/\(seeded)", json: .object([
                "name": .string("old"), "targetUrl": .string("https://bot.example.com/new"), "status": .string("active"),
            ]))
            #expect(reactivated.status == 200)
            #expect(reactivated.json?["status"]?.stringValue == "active")
            #expect(reactivated.json?["secret"]?.stringValue == "x")
            #expect(webex.webhook(id: seeded)?.targetUrl == "https://bot.example.com/new")
            #expect(try await Self.call(.PUT, url + "/\(seeded)", json: .object(["name": .string("old")])).status == 400)

            #expect(try await Self.call(.DELETE, url + "/\(id)").status == 204)
            #expect(try await Self.call(.DELETE, url + "/\(id)").status == 404)
            #expect(try await Self.call(.GET, url + "/\(id)").status == 404)
        }
        #expect(webex.webhooks.map(\.id) == [seeded])
    }

    @Test func injectedFailuresCarryRetryAfterAndTheErrorBody() async throws {
        let webex = FakeWebex()
        webex.failNext(1, status: 429, retryAfterSeconds: 7, pathPrefix: "/v1/messages")
        webex.failNext(1, status: 503)
        try await RunningServer.with([webex.router]) { ports in
            let base = FakeWebex.baseURL(port: ports[0])
            let message: JSONValue = .object(["roomId": .string("ROOM-1"), "text": .string("hi")])
            #expect(try await Self.call(.GET, base + "/people/me").status == 503)
            let limited = try await Self.call(.POST, base + "/messages", json: message)
            #expect(limited.status == 429)
            #expect(limited.headers.first(name: "Retry-After") == "7")
            #expect(limited.json?["message"]?.stringValue?.isEmpty == false)
            #expect(limited.errorDescription?.isEmpty == false)
            let trackingID = try #require(limited.json?["trackingId"]?.stringValue)
            #expect(limited.headers.first(name: "Trackingid") == trackingID)
            #expect(webex.messages.isEmpty)
            #expect(try await Self.call(.POST, base + "/messages", json: message).status == 200)
        }
        #expect(webex.requestLog.map(\.status) == [503, 429, 200])
        #expect(webex.requestLog.map(\.path) == ["/v1/people/me", "/v1/messages", "/v1/messages"])
        #expect(webex.messages.count == 1)
    }

    /// Records what a webhook target receives: the raw body and the signature header.
    final class Receiver: Sendable {
        struct Callback: Sendable {
            var body: Data
            var signature: String?
            var contentType: String?
        }

        let received = Mutex<[Callback]>([])

        var router: Router<BasicRequestContext> {
            let router = Router(context: BasicRequestContext.self)
            router.post("/webex") { [self] request, _ -> HTTPResponse.Status in
                let body = try await request.body.collect(upTo: 1 << 20)
                received.withLock {
                    $0.append(Callback(
                        body: Data(body.readableBytesView),
                        signature: request.headers.first { $0.name.canonicalName == "x-spark-signature" }?.value,
                        contentType: request.headers[.contentType]
                    ))
                }
                return .ok
            }
            return router
        }
    }

    @Test func deliversSignedCardSubmissionsAndServesTheirInputs() async throws {
        let webex = FakeWebex()
        let receiver = Receiver()
        let alice = webex.addPerson(email: "alice@example.com", displayName: "Alice Liddell")
        try await RunningServer.with([webex.router, receiver.router]) { ports in
            let base = FakeWebex.baseURL(port: ports[0])
            let target = "http://127.0.0.1:\(ports[1])/webex"
            let posted = try await Self.call(.POST, base + "/messages", json: .object([
                "roomId": .string("ROOM-1"), "text": .string("approve?"), "attachments": .array([Self.card]),
            ]))
            let messageID = try #require(posted.json?["id"]?.stringValue)
            let hook = webex.seedWebhook(name: "cards", targetUrl: target, filter: "roomId=ROOM-1", secret: "s3cr3t")
            webex.seedWebhook(name: "elsewhere", targetUrl: target, filter: "roomId=ROOM-2", secret: "s3cr3t")
            webex.seedWebhook(name: "disabled", targetUrl: target, secret: "s3cr3t", status: "inactive")
            webex.seedWebhook(name: "messages", targetUrl: target, resource: "messages", secret: "s3cr3t")

            let inputs: [String: JSONValue] = ["action": .string("approve"), "incident": .string("INC-1")]
            let submission = try await webex.submitCard(messageID: messageID, personID: alice, inputs: inputs)
            #expect(submission.statuses == [200])
            #expect(submission.deliveries.first?.webhookID == hook)
            try await waitUntil("the callback to arrive") { receiver.received.withLock { $0.count == 1 } }

            let callback = try #require(receiver.received.withLock { $0.first })
            #expect(callback.contentType?.hasPrefix("application/json") == true)
            #expect(callback.signature == FakeWebex.sparkSignature(body: callback.body, secret: "s3cr3t"))
            let json = JSONValue.object(try JSONValue.parseObject(callback.body))
            #expect(json["id"]?.stringValue == hook)
            #expect(json["resource"]?.stringValue == "attachmentActions")
            #expect(json["event"]?.stringValue == "created")
            #expect(json["actorId"]?.stringValue == alice)
            #expect(json["secret"] == nil)
            let data = try #require(json["data"])
            #expect(data["inputs"] == nil)
            #expect(data["id"]?.stringValue == submission.actionID)
            #expect(data["type"]?.stringValue == "submit")
            #expect(data["messageId"]?.stringValue == messageID)
            #expect(data["roomId"]?.stringValue == "ROOM-1")

            let action = try await Self.call(.GET, base + "/attachment/actions/\(submission.actionID)")
            #expect(action.status == 200)
            #expect(action.json?["inputs"] == .object(inputs))
            #expect(action.json?["personId"]?.stringValue == alice)
            #expect(try await Self.call(.GET, base + "/attachment/actions/nope").status == 404)

            let forged = try await webex.submitCard(
                messageID: messageID, personID: alice, inputs: inputs, signatureOverride: String(repeating: "0", count: 40)
            )
            #expect(forged.statuses == [200])
            try await waitUntil("the forged callback to arrive") { receiver.received.withLock { $0.count == 2 } }
            let forgedCallback = try #require(receiver.received.withLock { $0.last })
            #expect(forgedCallback.signature != FakeWebex.sparkSignature(body: forgedCallback.body, secret: "s3cr3t"))
        }
        #expect(webex.attachmentActions.count == 2)
    }

    @Test func createsListsAndPagesSpacesAndTheirMembers() async throws {
        let webex = FakeWebex()
        webex.addPerson(email: "alice@example.com", displayName: "Alice Doe")
        try await RunningServer.with([webex.router]) { ports in
            let base = FakeWebex.baseURL(port: ports[0])
            let noTitle = try await Self.call(.POST, base + "/rooms", json: .object([:]))
            #expect(noTitle.status == 400)
            let created = try await Self.call(.POST, base + "/rooms", json: .object(["title": .string("INC one")]))
            #expect(created.status == 200)  // 200, not 201
            let roomID = try #require(created.json?["id"]?.stringValue)
            #expect(created.json?["type"]?.stringValue == "group")
            #expect(created.json?["creatorId"]?.stringValue == webex.botID)
            let fetched = try await Self.call(.GET, base + "/rooms/\(roomID)")
            #expect(fetched.json?["title"]?.stringValue == "INC one")
            #expect(try await Self.call(.GET, base + "/rooms/nope").status == 404)

            // Members: the bot is one already; a second add is 409; unknown people and bad emails are refused.
            let add: (String) async throws -> Answer = { email in
                try await Self.call(.POST, base + "/memberships", json: .object([
                    "roomId": .string(roomID), "personEmail": .string(email),
                ]))
            }
            let added = try await add("alice@example.com")
            #expect(added.status == 200)
            #expect(added.json?["personEmail"]?.stringValue == "alice@example.com")
            #expect(try await add("alice@example.com").status == 409)
            #expect(try await add("nobody@example.com").status == 404)
            #expect(try await add("not an email").status == 400)
            let members = try await Self.call(.GET, base + "/memberships?roomId=\(roomID)")
            #expect(members.json?["items"]?.arrayValue?.compactMap { $0["personEmail"]?.stringValue }
                == ["euphrosyne@webex.bot", "alice@example.com"])

            // Lists page with max and a Link to the next page; sortBy=created is newest first.
            for index in 0..<4 { webex.seedRoom(title: "space \(index)") }
            let first = try await Self.call(.GET, base + "/rooms?type=group&sortBy=created&max=3")
            #expect(first.json?["items"]?.arrayValue?.compactMap { $0["title"]?.stringValue }
                == ["space 3", "space 2", "space 1"])
            let link = try #require(first.headers.first(name: "Link"))
            #expect(link.hasSuffix("; rel=\"next\""))
            let next = String(link.dropFirst().prefix { $0 != ">" })
            #expect(next.hasPrefix(base + "/rooms?"))
            let second = try await Self.call(.GET, next)
            #expect(second.json?["items"]?.arrayValue?.compactMap { $0["title"]?.stringValue } == ["space 0", "INC one"])
            #expect(second.headers.first(name: "Link") == nil)
            #expect(try await Self.call(.GET, base + "/rooms?max=0").status == 400)

            // Messages go into the space.
            let posted = try await Self.call(.POST, base + "/messages", json: .object([
                "roomId": .string(roomID), "markdown": .string("**hello**"),
            ]))
            #expect(posted.status == 200)
            #expect(webex.messages(roomID: roomID).count == 1)
        }
    }
}
