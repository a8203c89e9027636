import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import NIOCore
import RecipeKit

/// The Webex REST calls of `webex-room`, with its retry rules (see `WebexRoomRecipe`).
extension WebexRoomRecipe {
    struct Room: Sendable, Hashable {
        var id: String
        var title: String

        /// The space's UUID: the text after the last `/` of the base64url-decoded id (§13.3), or nil when the id
        /// does not decode.
        var uuid: String? {
            var base64 = id.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
                  let last = text.split(separator: "/").last, !last.isEmpty,
                  last.allSatisfy({ $0.isHexDigit || $0 == "-" })
            else { return nil }
            return String(last)
        }

        /// `webexteams://im?space=<uuid>`, which opens the space in the Webex app (§13.3).
        var link: String {
            "webexteams://im?space=" + (uuid ?? (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id))
        }

        /// The web client's address of the space (§13.3, unconfirmed by Webex's documentation).
        var webLink: String? { uuid.map { "https://web.webex.com/spaces/\($0)" } }

        var links: [String] { [link] + (webLink.map { [$0] } ?? []) }
    }

    enum Membership: Sendable {
        case added, alreadyMember
        case refused(String)
    }

    /// Webex refused a request (a `4xx` other than `429`): final.
    struct Refusal: Error {
        var status: Int
        var detail: String
    }

    /// A `POST /rooms` whose outcome is unknown (see the type's documentation).
    struct Unknown: Error {
        var problem: String
    }

    struct Client: Sendable {
        var httpClient: HTTPClient
        var recipe: WebexRoomRecipe
        var settings: Settings

        /// The newest group space whose title holds `marker`: `GET /rooms?type=group&sortBy=created&max=100`,
        /// following `Link` pages, at most `pageLimit` of them.
        func findRoom(marker: String) async throws -> Room? {
            var url: String? = settings.apiURL + "/rooms?type=group&sortBy=created&max=\(WebexRoomRecipe.pageSize)"
            var pages = 0
            while let next = url, pages < WebexRoomRecipe.pageLimit {
                let answer = try await get(next, doing: "listing the bot's spaces")
                pages += 1
                guard let items = answer.json["items"]?.arrayValue else {
                    throw failure("Webex's list of spaces has no \"items\" array")
                }
                for item in items {
                    guard let id = item["id"]?.stringValue, let title = item["title"]?.stringValue else { continue }
                    if title.contains(marker) && (item["type"]?.stringValue ?? "group") == "group" {
                        return Room(id: id, title: title)
                    }
                }
                url = answer.next
            }
            return nil
        }

        /// The members' emails, lowercased: `GET /memberships?roomId=…&max=1000`, following `Link` pages.
        func memberEmails(roomID: String) async throws -> Set<String> {
            var url: String? = settings.apiURL + "/memberships?roomId=\(Self.queryEscaped(roomID))&max=1000"
            var emails = Set<String>()
            var pages = 0
            while let next = url, pages < WebexRoomRecipe.pageLimit {
                let answer = try await get(next, doing: "listing the space's members")
                pages += 1
                for item in answer.json["items"]?.arrayValue ?? [] {
                    if let email = item["personEmail"]?.stringValue { emails.insert(email.lowercased()) }
                }
                url = answer.next
            }
            return emails
        }

        /// `POST /rooms` with the title, and what became of it: see `WebexRoomRecipe` on why it is not repeated
        /// when its outcome is unknown.
        func createRoom(title: String, marker: String) async throws -> (room: Room, foundAfterUnknownOutcome: Bool) {
            do {
                let answer = try await send(.post, settings.apiURL + "/rooms", .object(["title": .string(title)]),
                                            doing: "creating the space", repeatable: .onlyWhenNotDone)
                guard let id = answer.json["id"]?.stringValue, !id.isEmpty else {
                    throw failure("Webex created the space but its answer has no \"id\"")
                }
                return (Room(id: id, title: answer.json["title"]?.stringValue ?? title), false)
            } catch let refusal as Refusal {
                throw failure(Self.explain(refusal, doing: "creating the space"))
            } catch let unknown as Unknown {
                try await recipe.clock.sleep(for: recipe.initialBackoff)
                if let room = try await findRoom(marker: marker) { return (room, true) }
                throw failure("\(unknown.problem) while creating the space \"\(title)\", and no space with the marker "
                    + "\(marker) is listed: it was not created again, in case Webex created it after all. Approving "
                    + "again is safe: the next run reuses the space if it exists")
            }
        }

        /// `POST /memberships` with `personEmail`; a `409` means the person is a member already.
        func addMember(roomID: String, email: String) async throws -> Membership {
            do {
                let answer = try await send(.post, settings.apiURL + "/memberships",
                                            .object(["roomId": .string(roomID), "personEmail": .string(email)]),
                                            doing: "adding \(email)", repeatable: .always, accepting: [409])
                return answer.status == 409 ? .alreadyMember : .added
            } catch let refusal as Refusal {
                guard refusal.status != 401 else { throw failure(Self.explain(refusal, doing: "adding \(email)")) }
                return .refused("\(refusal.status)\(refusal.detail)")
            }
        }

        /// `POST /messages` with the markdown.
        func postMessage(roomID: String, markdown: String, doing what: String) async throws {
            do {
                _ = try await send(.post, settings.apiURL + "/messages",
                                   .object(["roomId": .string(roomID), "markdown": .string(markdown)]),
                                   doing: what, repeatable: .unlessItMayHaveArrived)
            } catch let refusal as Refusal {
                throw failure(Self.explain(refusal, doing: what))
            }
        }

        private func get(_ url: String, doing what: String) async throws -> Answer {
            do {
                return try await send(.get, url, nil, doing: what, repeatable: .always)
            } catch let refusal as Refusal {
                throw failure(Self.explain(refusal, doing: what))
            }
        }

        static func explain(_ refusal: Refusal, doing what: String) -> String {
            switch refusal.status {
            case 401:
                return "Webex refused the bot token (401) while \(what): check WEBEX_TOKEN or WEBEX_TOKEN_FILE (the "
                    + "bot's access token)" + refusal.detail
            case 403:
                return "Webex refused \(what) (403): the bot is not allowed to" + refusal.detail
            case 404:
                return "Webex answered 404 while \(what): not found, or not visible to the bot" + refusal.detail
            default:
                return "Webex refused \(what) (\(refusal.status))" + refusal.detail
            }
        }

        struct Answer {
            var status: Int
            var json: [String: JSONValue]
            /// The `Link` header's `rel="next"` page, if it has one on the API's own origin.
            var next: String?
        }

        enum Method { case get, post }

        enum Repeatable {
            /// Reading, or a write whose repetition is harmless.
            case always
            /// A write not to repeat once it may have reached Webex (a timeout, a dropped connection).
            case unlessItMayHaveArrived
            /// `POST /rooms`: repeated only when Webex surely did nothing (`429`, no connection); otherwise
            /// `Unknown` is thrown.
            case onlyWhenNotDone
        }

        /// Sends one request, retrying `429`, `5xx` and failures to connect (as `repeatable` allows); returns a
        /// `2xx` (or an `accepting` status) answer, throws `Refusal` for another `4xx`, `Unknown` for a
        /// `.onlyWhenNotDone` request whose outcome is unknown, and `RecipeError` otherwise.
        private func send(
            _ method: Method, _ url: String, _ body: JSONValue?, doing what: String, repeatable: Repeatable,
            accepting: Set<Int> = []
        ) async throws -> Answer {
            let payload = body.map(OutboundHTTP.encode)
            let policy = RetryPolicy(maxAttempts: recipe.attempts, initialDelay: recipe.initialBackoff,
                                     maxDelay: .seconds(10), jittered: false, clock: recipe.clock)
            return try await policy.run { (_: Int) -> RetryPolicy.Attempt<Answer> in
                var request = HTTPClientRequest(url: url)
                request.method = method == .get ? .GET : .POST
                request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
                request.headers.add(name: "Accept", value: "application/json")
                request.headers.add(name: "User-Agent", value: "euphrosyne-recipes/webex-room")
                if let payload {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: payload))
                }
                let response: HTTPClientResponse
                let data: Data
                do {
                    response = try await httpClient.execute(request, timeout: OutboundHTTP.timeAmount(recipe.requestTimeout))
                    data = Data(try await response.body.collect(upTo: WebexRoomRecipe.answerLimit).readableBytesView)
                } catch is CancellationError {
                    throw CancellationError()
                } catch let error as NIOTooManyBytesError {
                    throw failure("Webex's answer to \(what) is larger than \(WebexRoomRecipe.answerLimit >> 20) MiB "
                        + "(\(error)); it was not read")
                } catch {
                    let mayHaveArrived = [HTTPClientError.deadlineExceeded, .readTimeout, .remoteConnectionClosed,
                                          .writeTimeout].contains { (error as? HTTPClientError) == $0 }
                    if mayHaveArrived {
                        switch repeatable {
                        case .always: break
                        case .onlyWhenNotDone:
                            throw Unknown(problem: "Webex did not answer (\(redacted("\(error)")))")
                        case .unlessItMayHaveArrived:
                            throw failure("Webex at \(settings.origin) did not answer while \(what) (\(error)); it may "
                                + "or may not have done it, so the request was not repeated")
                        }
                    }
                    return .retry(problem: "Webex at \(settings.origin) is unreachable: \(error)")
                }
                let code = Int(response.status.code)
                let detail = Self.detail(data, trackingID: response.headers.first(name: "Trackingid"))
                switch code {
                case 200..<300:
                    let object: [String: JSONValue]
                    if data.isEmpty {
                        object = [:]
                    } else if let parsed = try? JSONValue.parseObject(data) {
                        object = parsed
                    } else {
                        throw failure("Webex answered \(code) to \(what) with a body that is not a JSON object: "
                            + OutboundHTTP.bodyExcerpt(data, limit: 200))
                    }
                    return .done(Answer(status: code, json: object, next: try nextPage(response.headers["Link"])))
                case _ where accepting.contains(code):
                    return .done(Answer(status: code, json: [:], next: nil))
                case 423, 429, 500..<600:
                    var retryAfter: Duration?
                    if let seconds = response.headers.first(name: "Retry-After").flatMap(Int.init), seconds >= 0 {
                        retryAfter = .seconds(seconds)
                        if .seconds(seconds) > recipe.longestRetryAfter {
                            throw failure("Webex is throttling (\(code)) while \(what) and asks to wait \(seconds) s, "
                                + "longer than this recipe waits")
                        }
                    }
                    // 429 and 423 (locked) are refusals before anything was done; a 5xx may come after.
                    if code >= 500, repeatable == .onlyWhenNotDone {
                        throw Unknown(problem: "Webex answered \(code)\(detail)")
                    }
                    return .retry(problem: "Webex answered \(code)\(detail)", retryAfter: retryAfter)
                default:
                    throw Refusal(status: code, detail: detail)
                }
            } giveUp: { attempt, problem in
                failure("\(problem) (while \(what); gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
            }
        }

        /// The `rel="next"` URL of a `Link` header, when it is on the API's origin (the token is sent to it).
        private func nextPage(_ values: [String]) throws -> String? {
            for value in values {
                for entry in value.split(separator: ",") {
                    let fields = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                          fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" || $0 == "rel=next" })
                    else { continue }
                    let url = String(target.dropFirst().dropLast())
                    guard OutboundHTTP.origin(url) == settings.origin else {
                        throw failure("Webex's next page is on another origin (\(OutboundHTTP.origin(url) ?? "not a URL")) "
                            + "than WEBEX_API_URL (\(settings.origin)); it was not followed")
                    }
                    return url
                }
            }
            return nil
        }

        private func redacted(_ text: String) -> String { OutboundHTTP.redacting(settings.token, in: text) }

        private func failure(_ message: String) -> RecipeError { .failed(redacted(message)) }

        /// `: <message> (trackingId …)` from a Webex error body (§5.1), else the start of the body.
        static func detail(_ body: Data, trackingID: String?) -> String {
            var text = ""
            if let object = try? JSONValue.parseObject(body) {
                if let message = object["message"]?.stringValue, !message.isEmpty {
                    text = ": " + OutboundHTTP.prefix(message, 500)
                }
                let tracking = trackingID ?? object["trackingId"]?.stringValue
                if let tracking, !tracking.isEmpty { text += " (trackingId \(OutboundHTTP.prefix(tracking, 100)))" }
            } else if !body.isEmpty {
                text = ": " + OutboundHTTP.bodyExcerpt(body, limit: 300)
            }
            return text
        }

        static func queryEscaped(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? text
        }
    }
}
