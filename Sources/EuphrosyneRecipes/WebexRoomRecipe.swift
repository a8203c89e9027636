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

    // MARK: What goes into Webex

    /// `[euphrosyne 1a2b3c4d]`: the first 8 hex digits of the incident's uuid, what finds the space again.
    static func marker(incident: String) -> String {
        let digits = incident.lowercased().filter { $0.isHexDigit }
        return "[euphrosyne \(digits.prefix(8))]"
    }

    /// `<alertname>: <summary annotation> [euphrosyne 1a2b3c4d]`, on one line, at most `titleLimit` characters with
    /// the marker always whole at the end.
    static func title(_ alert: AlertNotification, marker: String) -> String {
        var name: String
        if alert.source == .generic {
            name = alert.title ?? "Alert"
        } else {
            name = alert.alertName ?? "Alert"
            let detail = alert.alerts.first?.annotations["summary"] ?? alert.commonAnnotations["summary"]
            if let detail, !detail.isEmpty { name += ": " + detail }
        }
        name = JiraRecipe.oneLine(name)
        if name.isEmpty { name = "Alert" }
        let room = titleLimit - marker.count - 1
        if name.count > room { name = String(name.prefix(room - 1)) + "…" }
        return name + " " + marker
    }

    /// The markdown blocks of the post: a heading, the alerts, links, suggested actions, the approval data and the
    /// analysis. `update` marks a post to a space that already existed.
    static func post(_ context: RecipeContext, marker: String, update: Bool) -> [String] {
        let input = context.input
        let alert = input.alert
        var blocks: [String] = []
        let heading = alert.source == .generic ? (alert.title ?? "Alert") : alert.summary
        blocks.append((update ? "### Update: " : "### ") + markdownLine(JiraRecipe.oneLine(heading)))
        blocks.append(update
            ? "Incident `\(input.incident)` was approved for this discussion again \(marker)."
            : "Discussion opened by Euphrosyne for incident `\(input.incident)` \(marker).")

        if alert.source == .generic {
            blocks.append("**Alert**: a JSON payload (not from Alertmanager or Grafana).")
        } else {
            var lines = ["**Alerts**"]
            for item in alert.alerts.prefix(JiraRecipe.alertLimit) {
                var line = "- **\(markdownLine(item.labels["alertname"] ?? "Alert"))** (\(item.status?.rawValue ?? "unknown status"))"
                if let startsAt = item.startsAt { line += " since \(RFC3339.format(startsAt))" }
                let labels = item.labels.filter { $0.key != "alertname" }.sorted { $0.key < $1.key }
                    .map { "`\(code($0.key))=\(code($0.value))`" }
                if !labels.isEmpty { line += ": " + labels.joined(separator: " ") }
                if let summary = item.annotations["summary"], !summary.isEmpty {
                    line += " — " + markdownLine(OutboundHTTP.prefix(JiraRecipe.oneLine(summary), 300))
                }
                lines.append(line)
            }
            if alert.alerts.count > JiraRecipe.alertLimit {
                lines.append("- … and \(alert.alerts.count - JiraRecipe.alertLimit) more alerts")
            }
            if lines.count > 1 { blocks.append(lines.joined(separator: "\n")) }
        }

        let links = self.links(context)
        if !links.isEmpty {
            blocks.append((["**Links**"] + links.map { "- [\(markdownLine($0.name))](\($0.url))" }).joined(separator: "\n"))
        }
        let actions = (try? Settings.list(input.data["actions"])) ?? nil
        if let actions, !actions.isEmpty {
            blocks.append((["**Suggested actions**"] + actions.prefix(20).map { "- `\(code($0))`" }).joined(separator: "\n"))
        }
        let approval = input.data.filter { !["alert", "uuid", "analysis", "members", "dryRun", "links", "actions"].contains($0.key) }
        if !approval.isEmpty {
            blocks.append((["**Approval data**"] + approval.sorted { $0.key < $1.key }.map { key, value in
                let text = value.stringValue ?? JiraRecipe.prettyJSON(value, compact: true)
                return "- `\(code(key))`: " + markdownLine(OutboundHTTP.prefix(JiraRecipe.oneLine(text), 500))
            }).joined(separator: "\n"))
        }
        if let analysis = input.string("analysis")?.trimmingCharacters(in: .whitespacesAndNewlines), !analysis.isEmpty {
            blocks.append("**Analysis**")
            blocks += analysis.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .newlines) }
                .filter { !$0.isEmpty }
        } else {
            blocks.append("_The incident has no analysis yet._")
        }
        // Alert and analysis text comes from whoever can send an alert: it mentions nobody (`<@all>`, `<@personEmail:…>`).
        return blocks.map { $0.replacingOccurrences(of: "<@", with: "< @") }
    }

    /// Web links about the incident: Alertmanager or Grafana, each alert's source, annotations that are web
    /// addresses (runbooks, dashboards), and the approval data's `links`; at most 20, deduplicated.
    static func links(_ context: RecipeContext) -> [(name: String, url: String)] {
        let alert = context.input.alert
        var result: [(name: String, url: String)] = []
        var seen = Set<String>()
        func add(_ name: String, _ url: String?) {
            guard let url = url?.trimmingCharacters(in: .whitespaces), OutboundHTTP.origin(url) != nil,
                  !url.contains(where: { $0.isWhitespace || $0 == ")" || $0 == "(" }), seen.insert(url).inserted
            else { return }
            result.append((name, url))
        }
        if alert.source != .generic {
            add(alert.source == .alertmanager ? "Open in Alertmanager" : "Open in Grafana", alert.externalURL)
            for item in alert.alerts.prefix(JiraRecipe.alertLimit) {
                add("\(item.labels["alertname"] ?? "Alert") source", item.generatorURL)
                for (key, value) in item.annotations.sorted(by: { $0.key < $1.key }) { add(key, value) }
            }
        }
        for url in ((try? Settings.list(context.input.data["links"])) ?? nil) ?? [] { add(url, url) }
        return Array(result.prefix(20))
    }

    /// `text` on one line, safe inside Webex markdown's link text and emphasis.
    static func markdownLine(_ text: String) -> String {
        String(JiraRecipe.oneLine(text).map { "[]*_`".contains($0) ? " " : $0 })
            .replacingOccurrences(of: "<@", with: "< @")  // no mentions from alert text
    }

    /// `text` for inside a code span: no backticks, one line.
    static func code(_ text: String) -> String {
        OutboundHTTP.prefix(JiraRecipe.oneLine(text).replacingOccurrences(of: "`", with: "'"), 200)
    }

    /// The blocks joined into messages of at most `messageLimit` bytes each (a block too long for one message is
    /// split between lines, a line too long for one is cut), each marked `(part n of m)` when there are several;
    /// at most `messagePartLimit` messages, the last saying what was cut.
    static func messageParts(_ blocks: [String]) -> [String] {
        let budget = messageLimit - 200  // room for the part marker and the cut notice
        var pieces: [String] = []
        for block in blocks {
            if block.utf8.count <= budget { pieces.append(block); continue }
            for line in block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                pieces.append(line.utf8.count <= budget ? line : WebexRoomRecipe.cut(line, bytes: budget))
            }
        }
        var parts: [String] = []
        var current = ""
        for piece in pieces {
            let joined = current.isEmpty ? piece : current + "\n\n" + piece
            if joined.utf8.count <= budget {
                current = joined
            } else {
                parts.append(current)
                current = piece
            }
        }
        if !current.isEmpty || parts.isEmpty { parts.append(current) }
        var truncated = false
        if parts.count > messagePartLimit {
            parts = Array(parts.prefix(messagePartLimit))
            truncated = true
        }
        guard parts.count > 1 || truncated else { return parts }
        return parts.enumerated().map { index, part in
            var text = part
            if truncated && index == parts.count - 1 {
                text += "\n\n_…(truncated: the rest did not fit in \(messagePartLimit) Webex messages; the whole "
                    + "analysis is on the incident in Euphrosyne)_"
            }
            if parts.count > 1 { text += "\n\n_(part \(index + 1) of \(parts.count))_" }
            return text
        }
    }

    /// At most `bytes` bytes of UTF-8 of `text`, cut on a character boundary, ending in "…(cut)".
    static func cut(_ text: String, bytes limit: Int) -> String {
        let marker = "…(cut)"
        var result = ""
        var used = marker.utf8.count
        for character in text {
            let size = String(character).utf8.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result + marker
    }

    static func resultJSON(
        room: Room?, title: String, created: Bool, reused: Bool, dryRun: Bool, added: [String], already: [String],
        refused: [Refused], messages: Int
    ) -> String {
        var object: [String: JSONValue] = [
            "title": .string(title), "created": .bool(created), "reused": .bool(reused), "dryRun": .bool(dryRun),
            dryRun ? "wouldAdd" : "added": .array(added.map(JSONValue.string)),
            "alreadyMembers": .array(already.map(JSONValue.string)),
            "refused": .array(refused.map { .object(["email": .string($0.email), "reason": .string($0.reason)]) }),
            "messages": .integer(Int64(messages)),
        ]
        if let room {
            object["roomId"] = .string(room.id)
            object["url"] = .string(room.link)
            if let web = room.webLink { object["webUrl"] = .string(web) }
        }
        return String(decoding: OutboundHTTP.encode(.object(object)), as: UTF8.self)
    }

    // MARK: The REST calls

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
