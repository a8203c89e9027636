import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `webex-room` (action): starts a Webex discussion for the incident — a space named after the alert, with the
    /// people the approver names, and the incident's analysis posted in it — or, when the incident already has one,
    /// adds the new people to it and posts an update. See `WebexRoomRecipe`.
    @Sendable public static func webexRoom(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await WebexRoomRecipe().run(context)
    }
}

/// The `webex-room` action: a Webex space (room) for discussing the incident, through the Webex REST API as a bot
/// (PROTOCOLS.md §5.1, §13).
///
/// Settings (environment): `WEBEX_TOKEN`, or `WEBEX_TOKEN_FILE` naming a file that holds it (the bot's access token;
/// required, never logged nor echoed); `WEBEX_API_URL` (default `https://webexapis.com/v1`; https, or http to a
/// loopback address only); `WEBEX_ROOM_MEMBERS` (comma-separated emails, used when the approval data names nobody);
/// `DRY_RUN=1` to change nothing. The approval data may give `members` (a list of emails, or one comma-separated
/// string), `dryRun` (`true`), and `links` and `actions` to post with the analysis; the data file also holds the
/// incident's `alert` and `analysis` (the engine adds them for action recipes).
///
/// **One space per incident, found again statelessly.** The title ends with a marker, `[euphrosyne 1a2b3c4d]` (the
/// first 8 hex digits of the incident's uuid). Before creating, the recipe lists the bot's group spaces
/// (`GET /rooms?type=group&sortBy=created`, following the `Link: <…>; rel="next"` pages, newest first) and reuses
/// the one whose title holds the marker: it adds the people who are not members yet (a `409` "already a member" is
/// fine) and posts an update, instead of opening a second space. A person Webex will not add (`400`, `403`, `404`)
/// is reported in the result; the rest of the work goes on.
///
/// **Retries.** `429` and `423` (waiting at least `Retry-After`, at most `longestRetryAfter`), `5xx` and failures
/// to connect are retried with exponential back-off, up to `attempts` in all, as the reconciler's own Webex client
/// does. Lists and memberships are safe to repeat (a second membership is a `409`); a message whose request may have
/// reached Webex (a timeout, a dropped connection) is not sent again.
///
/// **`POST /rooms` is never repeated blindly.** Webex does not make it idempotent (§13.1), and two spaces for one
/// incident would split the discussion. A `429` or `423`, or a failure to connect, means Webex did not act, so those
/// are retried. A `5xx`, a timeout or a dropped connection leaves the outcome unknown: Webex may have created the space
/// and failed to say so. Then the recipe lists the spaces again (§13.6: "list first to find out whether it already
/// happened"); if the marker is there, that space is used; if it is not, the run fails without a second `POST`,
/// saying so. A space created but not listed yet (the list may lag) would be duplicated by a retry here, whereas a
/// later approval finds it by its marker and reuses it — so approving again is the safe retry, and the message
/// says that.
public struct WebexRoomRecipe: Sendable {
    /// The client to use; nil (the default) runs each call of `run` with a client of its own (see
    /// `OutboundHTTP.withClient`).
    public var httpClient: HTTPClient?
    /// Attempts per request, the first included.
    public var attempts: Int
    /// The pause after the first failed attempt; it doubles after each one (at most 10 s).
    public var initialBackoff: Duration
    /// The longest `Retry-After` honoured; Webex asking for more fails the run rather than outlive its deadline.
    public var longestRetryAfter: Duration
    public var requestTimeout: Duration
    /// The clock the pauses between attempts run on (tests give one that does not wait).
    public var clock: any Clock<Duration>

    public init(
        httpClient: HTTPClient? = nil, attempts: Int = 4, initialBackoff: Duration = .milliseconds(500),
        longestRetryAfter: Duration = .seconds(60), requestTimeout: Duration = .seconds(20),
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.httpClient = httpClient
        self.attempts = max(1, attempts)
        self.initialBackoff = initialBackoff
        self.longestRetryAfter = longestRetryAfter
        self.requestTimeout = requestTimeout
        self.clock = clock
    }

    /// The longest title the recipe gives a space, marker included. PROTOCOLS.md gives no number for Webex; 100
    /// characters keeps titles whole in the clients' space lists, far from any server-side limit.
    static let titleLimit = 100
    /// Webex's limit for a message's `markdown`, in bytes of UTF-8 (§13.5).
    static let messageLimit = 7439
    /// At most this many messages carry one post; what does not fit is cut, saying so.
    static let messagePartLimit = 4
    /// At most this many people are added per run.
    static let memberLimit = 50
    /// At most this many pages of spaces (of `pageSize`) are searched for the incident's marker.
    static let pageLimit = 20
    static let pageSize = 100
    /// The most bytes read from any one answer.
    static let answerLimit = 4 << 20

    public func run(_ context: RecipeContext) async throws -> RecipeOutcome {
        let settings = try Settings(context)
        if let httpClient { return try await run(context, settings: settings, httpClient: httpClient) }
        return try await OutboundHTTP.withClient { try await run(context, settings: settings, httpClient: $0) }
    }

    private func run(_ context: RecipeContext, settings: Settings, httpClient: HTTPClient) async throws -> RecipeOutcome {
        let webex = Client(httpClient: httpClient, recipe: self, settings: settings)
        let marker = Self.marker(incident: context.input.incident)
        let title = Self.title(context.input.alert, marker: marker)
        var refused = settings.invalidMembers.map { Refused(email: $0, reason: "not an email address") }

        let found = try await webex.findRoom(marker: marker)
        let existed = found != nil
        var present: Set<String> = []
        if let found { present = try await webex.memberEmails(roomID: found.id) }
        let wanted = settings.members.filter { !present.contains($0.lowercased()) }
        let already = settings.members.filter { present.contains($0.lowercased()) }

        if settings.dryRun {
            let parts = Self.messageParts(Self.post(context, marker: marker, update: existed))
            var text = "Dry run: nothing was changed in Webex. "
            if let found {
                text += "Would reuse the space \"\(found.title)\" (\(found.link)), found by its marker \(marker)"
            } else {
                text += "Would create the space \"\(title)\""
            }
            if settings.members.isEmpty {
                text += ", add nobody (\(settings.membersSource))"
            } else {
                text += ", add " + (wanted.isEmpty ? "nobody new" : wanted.joined(separator: ", ")) + " "
                    + settings.membersSource
                if !already.isEmpty {
                    text += " (\(already.joined(separator: ", ")) already \(already.count == 1 ? "is a member" : "are members"))"
                }
            }
            text += ", and post \(existed ? "an update" : "the incident's analysis") in \(parts.count) "
                + "message\(parts.count == 1 ? "" : "s")."
            if !refused.isEmpty { text += " " + Self.refusedSentence(refused) }
            return RecipeOutcome(
                status: .successful, analysis: text, links: found.map(\.links) ?? [],
                json: Self.resultJSON(room: found, title: found?.title ?? title, created: false, reused: existed,
                                      dryRun: true, added: wanted, already: already, refused: refused, messages: parts.count)
            )
        }

        var notes: [String] = []
        let room: Room
        if let found {
            room = found
        } else {
            let made = try await webex.createRoom(title: title, marker: marker)
            room = made.room
            if made.foundAfterUnknownOutcome {
                notes.append("Webex's answer to creating the space was lost, and the space was found by its marker.")
            }
        }

        var added: [String] = []
        var alreadyMembers = already
        for email in wanted.prefix(Self.memberLimit) {
            switch try await webex.addMember(roomID: room.id, email: email) {
            case .added: added.append(email)
            case .alreadyMember: alreadyMembers.append(email)
            case .refused(let reason): refused.append(Refused(email: email, reason: reason))
            }
        }
        if wanted.count > Self.memberLimit {
            notes.append("Only the first \(Self.memberLimit) people were added; \(wanted.count - Self.memberLimit) more were left out.")
        }

        let parts = Self.messageParts(Self.post(context, marker: marker, update: existed))
        for (index, part) in parts.enumerated() {
            try await webex.postMessage(roomID: room.id, markdown: part,
                                        doing: parts.count == 1 ? "posting the message" : "posting message \(index + 1) of \(parts.count)")
        }

        var text = existed
            ? "Reused the Webex space \"\(room.title)\" (\(room.link)), found by its marker \(marker), and posted an update"
            : "Created the Webex space \"\(room.title)\" (\(room.link)) and posted the incident's analysis"
        if parts.count > 1 { text += " in \(parts.count) messages" }
        text += "."
        if !added.isEmpty { text += " Added \(added.joined(separator: ", "))." }
        if !alreadyMembers.isEmpty {
            text += " Already \(alreadyMembers.count == 1 ? "a member" : "members"): \(alreadyMembers.joined(separator: ", "))."
        }
        if added.isEmpty && alreadyMembers.isEmpty && refused.isEmpty {
            text += " Nobody was added (no \"members\" in the approval data and WEBEX_ROOM_MEMBERS is not set)."
        }
        if !refused.isEmpty { text += " " + Self.refusedSentence(refused) }
        if !notes.isEmpty { text += " " + notes.joined(separator: " ") }
        return RecipeOutcome(
            status: .successful, analysis: text, links: room.links,
            json: Self.resultJSON(room: room, title: room.title, created: !existed, reused: existed, dryRun: false,
                                  added: added, already: alreadyMembers, refused: refused, messages: parts.count)
        )
    }

    struct Refused: Sendable, Hashable {
        var email: String
        var reason: String
    }

    static func refusedSentence(_ refused: [Refused]) -> String {
        "Not added: " + refused.map { "\($0.email) (\($0.reason))" }.joined(separator: "; ") + "."
    }

    // MARK: Settings

    struct Settings: Sendable {
        var token: String
        /// `WEBEX_API_URL` without a trailing slash.
        var apiURL: String
        var origin: String
        /// The people to add, deduplicated (ignoring case), in the order given.
        var members: [String]
        /// Entries that are not email addresses; reported, never sent.
        var invalidMembers: [String]
        /// Where `members` came from, for the result.
        var membersSource: String
        var dryRun: Bool

        init(_ context: RecipeContext) throws {
            let environment = context.environment
            let token: String
            if let path = environment.value("WEBEX_TOKEN_FILE") {
                let text: String
                do {
                    text = try String(contentsOfFile: path, encoding: .utf8)
                } catch {
                    throw RecipeError.failed("the webex-room recipe cannot read WEBEX_TOKEN_FILE \(path): "
                        + error.localizedDescription)
                }
                token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty else {
                    throw RecipeError.failed("the webex-room recipe cannot run: WEBEX_TOKEN_FILE \(path) is empty")
                }
            } else if let value = environment.value("WEBEX_TOKEN")?.trimmingCharacters(in: .whitespacesAndNewlines),
                      !value.isEmpty {
                token = value
            } else {
                throw RecipeError.failed(
                    "the webex-room recipe cannot run: WEBEX_TOKEN is not set (nor WEBEX_TOKEN_FILE); it needs the "
                        + "Webex bot's access token, e.g. from the recipe's secretEnv (WEBEX_TOKEN: {secret: webex-bot, "
                        + "key: token}) in a cluster"
                )
            }
            self.token = token

            let apiURL = environment.value("WEBEX_API_URL")?.trimmingCharacters(in: .whitespaces) ?? "https://webexapis.com/v1"
            guard let origin = Self.checkedOrigin(apiURL) else {
                throw RecipeError.failed(
                    "WEBEX_API_URL must be an https URL like https://webexapis.com/v1 (http only to a loopback address); "
                        + "it is \"\(OutboundHTTP.prefix(OutboundHTTP.origin(apiURL) ?? apiURL, 100))\""
                )
            }
            self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
            self.origin = origin

            var entries: [String]
            if let given = try Self.list(context.input.data["members"]), !given.isEmpty {
                entries = given
                membersSource = "from the approval data's \"members\""
            } else if let configured = environment.value("WEBEX_ROOM_MEMBERS") {
                entries = configured.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }
                membersSource = "from WEBEX_ROOM_MEMBERS"
            } else {
                entries = []
                membersSource = "no \"members\" in the approval data and WEBEX_ROOM_MEMBERS is not set"
            }
            var seen = Set<String>()
            entries = entries.filter { seen.insert($0.lowercased()).inserted }
            members = entries.filter(Self.isEmail)
            invalidMembers = entries.filter { !Self.isEmail($0) }.map { OutboundHTTP.prefix($0, 100) }

            let fromData: Bool
            switch context.input.data["dryRun"] {
            case .bool(let flag)?: fromData = flag
            case .string(let text)?: fromData = OutboundHTTP.flag(text)
            default: fromData = false
            }
            dryRun = fromData || OutboundHTTP.flag(environment.value("DRY_RUN"))
        }

        /// A list of strings from a JSON array of strings or from one comma-separated string; nil when absent.
        static func list(_ value: JSONValue?) throws -> [String]? {
            switch value {
            case nil, .null?:
                return nil
            case .string(let text)?:
                return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    .filter { !$0.isEmpty }
            case .array(let items)?:
                var result: [String] = []
                for item in items {
                    guard let text = item.stringValue else {
                        throw RecipeError.failed("the approval data's \"members\" must be emails: a list of strings "
                            + "or one comma-separated string")
                    }
                    result += text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                        .filter { !$0.isEmpty }
                }
                return result
            default:
                throw RecipeError.failed("the approval data's \"members\" must be emails: a list of strings or one "
                    + "comma-separated string")
            }
        }

        static func isEmail(_ text: String) -> Bool {
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
                && !parts[1].hasSuffix(".") && text.count <= 254
                && !text.contains { $0.isWhitespace || "<>,;\"()[]\\".contains($0) }
        }

        /// The origin of an https URL, or of an http URL whose host is a loopback address (a local fake or proxy);
        /// nil for anything else: the token must not cross a network in clear text.
        static func checkedOrigin(_ text: String) -> String? {
            guard let components = URLComponents(string: text), components.user == nil, components.password == nil,
                  components.query == nil, let origin = OutboundHTTP.origin(text), let host = components.host
            else { return nil }
            switch components.scheme?.lowercased() {
            case "https": return origin
            case "http": return isLoopback(host) ? origin : nil
            default: return nil
            }
        }

        static func isLoopback(_ host: String) -> Bool {
            let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if name == "localhost" || name == "::1" { return true }
            let octets = name.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        }
    }
}
