import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `jira` (action): opens a Jira Cloud issue for the incident, or comments on the open one that already tracks
    /// the same alert. See `JiraRecipe`.
    @Sendable public static func jira(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await JiraRecipe().run(context)
    }
}

/// The `jira` action: a Jira Cloud issue for the incident, through REST API v3.
///
/// Settings (environment): `JIRA_URL` (`https://<site>.atlassian.net`), `JIRA_USER` (the account's email) and
/// `JIRA_TOKEN` (its API token) for HTTP Basic; `JIRA_PROJECT` (key or numeric id) and `JIRA_ISSUE_TYPE` (name or
/// numeric id, default `Task`). The approval data may give `summary`, `project` and `issueType`; the data file
/// also holds the incident's `alert` and `analysis` (the engine adds them for action recipes).
///
/// Every issue carries the label `euphrosyne` and one `euphrosyne-<fingerprint>` label per alert. Before creating,
/// the recipe searches the project for an issue that is not done and has one of those labels; when there is one,
/// it comments on it instead of opening a duplicate.
///
/// `429` (honouring `Retry-After`) and `5xx` are retried with exponential back-off, as are failures to connect;
/// a request that may have reached Jira (a timeout, a dropped connection) is retried only when it is a search.
/// Every other answer fails the run with what Jira said; the token never appears in any message.
public struct JiraRecipe: Sendable {
    /// The client to use; nil (the default) runs each call of `run` with a client of its own (see
    /// `OutboundHTTP.withClient`).
    public var httpClient: HTTPClient?
    /// Attempts per request, the first included.
    public var attempts: Int
    /// The pause after the first failed attempt; it doubles after each one (at most 10 s).
    public var initialBackoff: Duration
    /// The longest `Retry-After` honoured; Jira asking for more fails the run rather than outlive its deadline.
    public var longestRetryAfter: Duration
    public var requestTimeout: Duration

    public init(
        httpClient: HTTPClient? = nil, attempts: Int = 4, initialBackoff: Duration = .milliseconds(500),
        longestRetryAfter: Duration = .seconds(60), requestTimeout: Duration = .seconds(20)
    ) {
        self.httpClient = httpClient
        self.attempts = max(1, attempts)
        self.initialBackoff = initialBackoff
        self.longestRetryAfter = longestRetryAfter
        self.requestTimeout = requestTimeout
    }

    /// Jira refuses summaries longer than this (in UTF-16 code units, as Java counts).
    static let summaryLimit = 255
    /// At most this many alerts are described, and labelled, one by one.
    static let alertLimit = 20

    public func run(_ context: RecipeContext) async throws -> RecipeOutcome {
        let settings = try Settings(context)
        if let httpClient { return try await run(context, settings: settings, httpClient: httpClient) }
        return try await OutboundHTTP.withClient { try await run(context, settings: settings, httpClient: $0) }
    }

    private func run(_ context: RecipeContext, settings: Settings, httpClient: HTTPClient) async throws -> RecipeOutcome {
        let jira = Client(httpClient: httpClient, recipe: self, settings: settings)
        let alert = context.input.alert
        let labels = Self.fingerprintLabels(alert)
        let summary = Self.summary(context)

        if let existing = try await jira.findOpenIssue(labels: labels) {
            let matched = existing.labels.filter { labels.contains($0) }
            try await jira.comment(issue: existing.key, body: Self.comment(context, matched: matched))
            let url = settings.browseURL(existing.key)
            return RecipeOutcome(
                status: .successful,
                analysis: "Commented on \(existing.key) (\(url)), which is still open for this alert"
                    + (matched.isEmpty ? "" : " (label \(matched.joined(separator: ", ")))")
                    + ", instead of opening a duplicate.",
                links: [url],
                json: Self.resultJSON(key: existing.key, id: existing.id, url: url, created: false)
            )
        }

        let fields: [String: JSONValue] = [
            "project": Self.reference(settings.project, name: "key"),
            "issuetype": Self.reference(settings.issueType, name: "name"),
            "summary": .string(summary),
            "labels": .array((["euphrosyne"] + labels).map(JSONValue.string)),
            "description": Self.description(context),
        ]
        let created = try await jira.create(fields: fields)
        let url = settings.browseURL(created.key)
        return RecipeOutcome(
            status: .successful,
            analysis: "Created \(created.key) (\(url)): \(summary)",
            links: [url],
            json: Self.resultJSON(key: created.key, id: created.id, url: url, created: true)
        )
    }

    // MARK: Settings

    struct Settings: Sendable {
        /// `JIRA_URL` without a trailing slash.
        var site: String
        var user: String
        var token: String
        var project: String
        var issueType: String

        init(_ context: RecipeContext) throws {
            let environment = context.environment
            func approval(_ key: String) -> String? {
                guard let text = context.input.string(key)?.trimmingCharacters(in: .whitespacesAndNewlines),
                      !text.isEmpty
                else { return nil }
                return text
            }
            var missing: [String] = []
            let site = environment.value("JIRA_URL")?.trimmingCharacters(in: .whitespaces)
            if site == nil { missing.append("JIRA_URL") }
            let user = environment.value("JIRA_USER")
            if user == nil { missing.append("JIRA_USER") }
            let token = environment.value("JIRA_TOKEN")
            if token == nil { missing.append("JIRA_TOKEN") }
            let project = approval("project") ?? environment.value("JIRA_PROJECT")?.trimmingCharacters(in: .whitespaces)
            if project == nil { missing.append("JIRA_PROJECT") }
            guard let site, let user, let token, let project else {
                var message = missing.count == 1
                    ? "\(missing[0]) is not set"
                    : "\(missing.dropLast().joined(separator: ", ")) and \(missing.last!) are not set"
                if missing.contains("JIRA_PROJECT") {
                    message += missing.count == 1
                        ? " and the approval data has no \"project\""
                        : " (JIRA_PROJECT may also come from the approval data's \"project\")"
                }
                throw RecipeError.failed(
                    "the jira recipe cannot run: \(message); JIRA_URL, JIRA_USER and JIRA_TOKEN come from the Secret "
                        + "euphrosyne-keys in a cluster, or from the recipe's env"
                )
            }
            guard OutboundHTTP.origin(site) != nil else {
                throw RecipeError.failed(
                    "JIRA_URL is not an http(s) URL like https://example.atlassian.net (it is \"\(OutboundHTTP.prefix(site, 100))\")"
                )
            }
            self.site = site.hasSuffix("/") ? String(site.dropLast()) : site
            self.user = user
            self.token = token
            self.project = project
            self.issueType = approval("issueType") ?? environment.value("JIRA_ISSUE_TYPE") ?? "Task"
        }

        func browseURL(_ key: String) -> String { "\(site)/browse/\(key)" }

        var authorization: String { "Basic " + Data("\(user):\(token)".utf8).base64EncodedString() }
    }

    // MARK: What goes into Jira

    /// `{"key": …}` (or `{"name": …}`), or `{"id": …}` when the value is numeric: ids survive renames.
    static func reference(_ value: String, name: String) -> JSONValue {
        if !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }) { return .object(["id": .string(value)]) }
        return .object([name: .string(value)])
    }

    /// The approver's `summary`, else one built from the alert; one line of at most 255 characters.
    static func summary(_ context: RecipeContext) -> String {
        let given = context.input.string("summary")?.trimmingCharacters(in: .whitespacesAndNewlines)
        let alert = context.input.alert
        let text: String
        if let given, !given.isEmpty {
            text = given
        } else if alert.source == .generic {
            text = "Alert for Euphrosyne incident \(context.input.incident)"
        } else {
            text = alert.summary
        }
        return truncatedUTF16(oneLine(text), limit: summaryLimit)
    }

    /// `euphrosyne-<fingerprint>` for each alert (the label-set hash for alerts without a fingerprint, the
    /// payload's hash for a generic alert), deduplicated, at most `alertLimit`. Jira labels hold no spaces; these
    /// hold only letters, digits, `-`, `_` and `.`.
    static func fingerprintLabels(_ alert: AlertNotification) -> [String] {
        let keys = alert.alerts.isEmpty ? [alert.identityKey] : alert.alerts.map(\.identityKey)
        var seen = Set<String>()
        var labels: [String] = []
        for key in keys {
            let tail = key.split(separator: ":").last.map(String.init) ?? key
            let cleaned = String(tail.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "-" })
            let label = String(("euphrosyne-" + cleaned).prefix(255))
            if seen.insert(label).inserted { labels.append(label) }
            if labels.count == alertLimit { break }
        }
        return labels
    }

    /// The issue's description: who opened it, the alert, each alert's labels and annotations, the approval data
    /// and the analysis.
    static func description(_ context: RecipeContext) -> JSONValue {
        var blocks: [JSONValue] = [
            ADF.paragraph([
                ADF.text("Opened by Euphrosyne for incident "), ADF.text(context.input.incident, [.code]), ADF.text("."),
            ]),
        ]
        blocks += details(context)
        return ADF.doc(blocks)
    }

    /// A comment on an issue already open for the alert.
    static func comment(_ context: RecipeContext, matched: [String]) -> JSONValue {
        var opening = [
            ADF.text("Euphrosyne incident "), ADF.text(context.input.incident, [.code]),
            ADF.text(" fired again for this issue"),
        ]
        if !matched.isEmpty {
            opening.append(ADF.text(" (label\(matched.count == 1 ? "" : "s") "))
            for (index, label) in matched.enumerated() {
                if index > 0 { opening.append(ADF.text(", ")) }
                opening.append(ADF.text(label, [.code]))
            }
            opening.append(ADF.text(")"))
        }
        opening.append(ADF.text("."))
        var blocks = [ADF.paragraph(opening)]
        if let given = context.input.string("summary")?.trimmingCharacters(in: .whitespacesAndNewlines), !given.isEmpty {
            blocks.append(ADF.paragraph([ADF.text("Summary given by the approver: ", [.strong])] + ADF.lines(given)))
        }
        blocks += details(context)
        return ADF.doc(blocks)
    }

    /// What description and comment share.
    static func details(_ context: RecipeContext) -> [JSONValue] {
        let alert = context.input.alert
        var blocks: [JSONValue] = []
        if alert.source == .generic {
            blocks.append(ADF.paragraph([ADF.text("Alert: ", [.strong]), ADF.text("a JSON payload (not from Alertmanager or Grafana)")]))
            blocks.append(ADF.heading(3, "Payload"))
            blocks.append(ADF.codeBlock(OutboundHTTP.prefix(prettyJSON(.object(alert.raw)), 8000), language: "json"))
        } else {
            blocks.append(ADF.paragraph([ADF.text("Alert: ", [.strong])] + ADF.lines(alert.summary)))
            if let external = alert.externalURL, OutboundHTTP.origin(external) != nil {
                let name = alert.source == .alertmanager ? "Open in Alertmanager" : "Open in Grafana"
                blocks.append(ADF.paragraph([ADF.text(name, [.link(external)])]))
            }
            for item in alert.alerts.prefix(alertLimit) {
                blocks += alertBlocks(item)
            }
            if alert.alerts.count > alertLimit {
                blocks.append(ADF.paragraph([ADF.text("… and \(alert.alerts.count - alertLimit) more alerts.", [.em])]))
            }
        }
        let approval = context.input.approverData
        if !approval.isEmpty {
            blocks.append(ADF.heading(3, "Approval data"))
            blocks.append(ADF.bulletList(approval.sorted { $0.key < $1.key }.map { key, value in
                let text = value.stringValue ?? prettyJSON(value, compact: true)
                return [ADF.text(key, [.code]), ADF.text(": ")] + ADF.lines(OutboundHTTP.prefix(text, 500))
            }))
        }
        if let analysis = context.input.string("analysis")?.trimmingCharacters(in: .whitespacesAndNewlines),
           !analysis.isEmpty {
            blocks.append(ADF.heading(3, "Analysis"))
            blocks += ADF.paragraphs(OutboundHTTP.prefix(analysis, 16000))
        }
        return blocks
    }

    static func alertBlocks(_ alert: Alert) -> [JSONValue] {
        let name = alert.labels["alertname"] ?? "Alert"
        var blocks = [ADF.heading(3, "\(name) (\(alert.status?.rawValue ?? "unknown status"))")]
        var facts: [JSONValue] = []
        if let startsAt = alert.startsAt { facts += [ADF.text("Since "), ADF.text(RFC3339.format(startsAt))] }
        if let fingerprint = alert.fingerprint {
            if !facts.isEmpty { facts.append(ADF.text(", ")) }
            facts += [ADF.text("fingerprint "), ADF.text(fingerprint, [.code])]
        }
        if let source = alert.generatorURL, OutboundHTTP.origin(source) != nil {
            if !facts.isEmpty { facts.append(ADF.text(", ")) }
            facts.append(ADF.text("source", [.link(source)]))
        }
        if !facts.isEmpty { blocks.append(ADF.paragraph(facts + [ADF.text(".")])) }
        if !alert.labels.isEmpty {
            blocks.append(ADF.paragraph([ADF.text("Labels", [.strong])]))
            blocks.append(ADF.bulletList(alert.labels.sorted { $0.key < $1.key }.map { key, value in
                [ADF.text(key, [.code]), ADF.text(" = ")] + (value.isEmpty ? [ADF.text("\"\"")] : [ADF.text(value, [.code])])
            }))
        }
        if !alert.annotations.isEmpty {
            blocks.append(ADF.paragraph([ADF.text("Annotations", [.strong])]))
            blocks.append(ADF.bulletList(alert.annotations.sorted { $0.key < $1.key }.map { key, value in
                [ADF.text(key, [.code]), ADF.text(": ")] + ADF.lines(OutboundHTTP.prefix(value, 2000))
            }))
        }
        return blocks
    }

    static func resultJSON(key: String, id: String?, url: String, created: Bool) -> String {
        var object: [String: JSONValue] = ["key": .string(key), "url": .string(url), "created": .bool(created)]
        if let id { object["id"] = .string(id) }
        return String(decoding: OutboundHTTP.encode(.object(object)), as: UTF8.self)
    }

    static func prettyJSON(_ value: JSONValue, compact: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = compact ? [.sortedKeys, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// At most `limit` UTF-16 code units, cut on a character boundary, ending in "…" when cut.
    static func truncatedUTF16(_ text: String, limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        var result = ""
        var used = 1  // the ellipsis
        for character in text {
            let size = String(character).utf16.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result + "…"
    }

    /// JQL string literal: double quotes, with `"` and `\` escaped.
    static func jqlString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    // MARK: The REST calls

    struct Issue: Sendable {
        var id: String?
        var key: String
        var labels: [String]
    }

    struct Client: Sendable {
        var httpClient: HTTPClient
        var recipe: JiraRecipe
        var settings: Settings

        /// The newest issue of the project that is not done and carries one of `labels`.
        ///
        /// `POST /rest/api/3/search/jql` ("Search for issues using JQL enhanced search"): PROTOCOLS.md §6 does not
        /// cover search, so this follows Atlassian's v3 reference. The older `/rest/api/3/search` has been removed
        /// from Jira Cloud; the enhanced endpoint takes `jql`, `fields`, `maxResults` (no `startAt`) and answers
        /// `{"issues": [{"id", "key", "self", "fields": {…}}], "nextPageToken"?, "isLast"}`. Its results are
        /// eventually consistent: an issue created a moment ago may not be found yet.
        func findOpenIssue(labels: [String]) async throws -> Issue? {
            guard !labels.isEmpty else { return nil }
            let jql = "project = \(JiraRecipe.jqlString(settings.project)) AND labels in ("
                + labels.map(JiraRecipe.jqlString).joined(separator: ", ")
                + ") AND statusCategory != Done ORDER BY created DESC"
            let body: JSONValue = .object([
                "jql": .string(jql),
                "fields": .array([.string("summary"), .string("status"), .string("labels")]),
                "maxResults": .integer(1),
            ])
            let answer = try await send("/rest/api/3/search/jql", body, doing: "searching for an open issue",
                                        safeToRepeat: true)
            guard let issues = answer["issues"]?.arrayValue else {
                throw RecipeError.failed("Jira's search answer has no \"issues\" array")
            }
            guard let first = issues.first?.objectValue else { return nil }
            guard let key = first["key"]?.stringValue, !key.isEmpty else {
                throw RecipeError.failed("Jira's search answer has an issue without a \"key\"")
            }
            let labels = first["fields"]?["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return Issue(id: first["id"]?.stringValue, key: key, labels: labels)
        }

        /// `POST /rest/api/3/issue` (PROTOCOLS.md §6.2): `201 {"id", "key", "self"}`.
        func create(fields: [String: JSONValue]) async throws -> Issue {
            let answer = try await send("/rest/api/3/issue", .object(["fields": .object(fields)]),
                                        doing: "creating the issue", safeToRepeat: false)
            guard let key = answer["key"]?.stringValue, !key.isEmpty else {
                throw RecipeError.failed("Jira created an issue but its answer has no \"key\"")
            }
            return Issue(id: answer["id"]?.stringValue, key: key, labels: [])
        }

        /// `POST /rest/api/3/issue/{issueIdOrKey}/comment` with `{"body": <ADF>}` (Atlassian's v3 reference: `201`
        /// with the comment; v3 rich text is ADF, PROTOCOLS.md §6.2).
        func comment(issue key: String, body: JSONValue) async throws {
            let escaped = key.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.")))
                ?? key
            _ = try await send("/rest/api/3/issue/\(escaped)/comment", .object(["body": body]),
                               doing: "commenting on \(key)", safeToRepeat: false)
        }

        /// POSTs `body`, retrying `429`, `5xx` and failures to connect; returns the 2xx answer as an object.
        private func send(
            _ path: String, _ body: JSONValue, doing what: String, safeToRepeat: Bool
        ) async throws -> JSONValue {
            let payload = OutboundHTTP.encode(body)
            let origin = OutboundHTTP.origin(settings.site) ?? settings.site
            let policy = RetryPolicy(maxAttempts: recipe.attempts, initialDelay: recipe.initialBackoff,
                                     maxDelay: .seconds(10), jittered: false)
            return try await policy.run { (_: Int) -> RetryPolicy.Attempt<JSONValue> in
                var request = HTTPClientRequest(url: settings.site + path)
                request.method = .POST
                request.headers.add(name: "Authorization", value: settings.authorization)
                request.headers.add(name: "Accept", value: "application/json")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "euphrosyne-recipes/jira")
                request.body = .bytes(ByteBuffer(bytes: payload))

                let response: HTTPClientResponse
                let data: Data
                do {
                    response = try await httpClient.execute(
                        request, timeout: OutboundHTTP.timeAmount(recipe.requestTimeout)
                    )
                    data = Data(try await response.body.collect(upTo: 4 << 20).readableBytesView)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    // Only a request that cannot have reached Jira is repeated, unless repeating it is harmless.
                    let mayHaveArrived = [HTTPClientError.deadlineExceeded, .readTimeout, .remoteConnectionClosed,
                                          .writeTimeout].contains { (error as? HTTPClientError) == $0 }
                    guard safeToRepeat || !mayHaveArrived else {
                        throw failure("Jira at \(origin) did not answer while \(what) (\(error)); it may or may not "
                            + "have done it, so the request was not repeated")
                    }
                    return .retry(problem: "Jira at \(origin) is unreachable: \(error)")
                }
                let code = Int(response.status.code)
                switch code {
                case 200..<300:
                    guard let object = try? JSONValue.parseObject(data) else {
                        throw failure("Jira answered \(code) to \(what) with a body that is not a JSON object: "
                            + OutboundHTTP.bodyExcerpt(data, limit: 200))
                    }
                    return .done(.object(object))
                case 429, 500..<600:
                    var retryAfter: Duration?
                    if code == 429 || code == 503,
                       let seconds = response.headers.first(name: "Retry-After").flatMap(Int.init), seconds >= 0 {
                        retryAfter = .seconds(seconds)
                        if .seconds(seconds) > recipe.longestRetryAfter {
                            throw failure("Jira is throttling (\(code)) while \(what) and asks to wait \(seconds) s, "
                                + "longer than this recipe waits")
                        }
                    }
                    return .retry(problem: "Jira answered \(code)" + Self.detail(data), retryAfter: retryAfter)
                case 400:
                    throw failure("Jira refused \(what) (400)" + Self.detail(data))
                case 401:
                    throw failure("Jira refused the credentials for \(settings.user) (401) while \(what): "
                        + "check JIRA_USER (the account's email) and JIRA_TOKEN (an API token)")
                case 403:
                    throw failure("Jira refused the credentials for \(settings.user) (403) while \(what): no "
                        + "permission, or a CAPTCHA after too many failed logins" + Self.detail(data))
                case 404:
                    throw failure("Jira answered 404 while \(what): the project \(settings.project) or the issue "
                        + "does not exist or \(settings.user) may not see it" + Self.detail(data))
                default:
                    throw failure("Jira answered \(code) while \(what)" + Self.detail(data))
                }
            } giveUp: { attempt, problem in
                failure("\(problem) (while \(what); gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
            }
        }

        private func failure(_ message: String) -> RecipeError {
            .failed(OutboundHTTP.redacting(settings.token, in: message))
        }

        /// `: <errorMessages>; <field>: <message>` from a Jira `ErrorCollection` (PROTOCOLS.md §6.4), else the
        /// start of the body.
        static func detail(_ body: Data) -> String {
            guard !body.isEmpty else { return "" }
            guard let object = try? JSONValue.parseObject(body) else {
                return ": " + OutboundHTTP.bodyExcerpt(body, limit: 300)
            }
            var parts = object["errorMessages"]?.arrayValue?.compactMap(\.stringValue).filter { !$0.isEmpty } ?? []
            if let errors = object["errors"]?.objectValue {
                parts += errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.stringValue ?? JiraRecipe.prettyJSON($0.value, compact: true))" }
            }
            if parts.isEmpty { return ": " + OutboundHTTP.bodyExcerpt(body, limit: 300) }
            return ": " + OutboundHTTP.prefix(parts.joined(separator: "; "), 1000)
        }
    }
}
