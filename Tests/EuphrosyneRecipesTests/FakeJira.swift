import EuphrosyneCore
import Foundation
import Hummingbird
import Synchronization

/// An in-process stand-in for the Jira Cloud REST API v3, for the `jira` recipe's tests: HTTP Basic authentication
/// (email and API token), issue creation with Jira's validation and `ErrorCollection` bodies (PROTOCOLS.md §6.2,
/// §6.4), the enhanced JQL search (`POST /rest/api/3/search/jql`, the clauses the recipe writes), comments, and
/// injectable failures (`failNext`). Every request is recorded.
///
/// Serve `router` with `RunningServer.with([jira.router]) { ports in ... }`; the site is then at
/// `FakeJira.baseURL(port: ports[0])`.
final class FakeJira: Sendable {
    struct Issue: Sendable, Hashable {
        var id: String
        var key: String
        var project: String
        var summary: String
        var issueType: String
        var labels: [String]
        var description: JSONValue?
        /// `new` (To Do), `indeterminate` (In Progress) or `done`.
        var statusCategory: String
        /// The comment bodies (ADF), oldest first.
        var comments: [JSONValue]
    }

    /// One request the fake answered (refused ones included).
    struct Received: Sendable, Hashable {
        var method: String
        var path: String
        var authorization: String?
        var contentType: String?
        var accept: String?
        var body: Data
        var status: Int

        var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }
    }

    private struct PlannedFailure {
        var remaining: Int
        var status: Int
        var retryAfterSeconds: Int?
        var pathPrefix: String?
    }

    private struct State {
        var issues: [Issue] = []
        var received: [Received] = []
        var failures: [PlannedFailure] = []
        var nextID = 10000
        var nextCommentID = 20000
    }

    /// What Jira's REST API answers for a bad payload shape.
    static let invalidPayload = "Invalid request payload. Refer to the REST API documentation and try again."
    /// Jira's `description` error for a value that is not ADF.
    static let notADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"

    let email: String
    let token: String
    /// Project key → id.
    let projects: [String: String]
    /// Issue type name → id.
    let issueTypes: [String: String]
    private let state = Mutex(State())

    init(
        email: String = "bot@example.com", token: String = "ATATT-example-token",
        projects: [String: String] = ["OPS": "10000"], issueTypes: [String: String] = ["Task": "10002", "Bug": "10004"]
    ) {
        self.email = email
        self.token = token
        self.projects = projects
        self.issueTypes = issueTypes
    }

    static func baseURL(port: Int) -> String { "http://127.0.0.1:\(port)" }

    // MARK: Seeding and inspection

    var issues: [Issue] { state.withLock { $0.issues } }
    var received: [Received] { state.withLock { $0.received } }
    func received(path: String) -> [Received] { received.filter { $0.path == path } }
    func issue(_ key: String) -> Issue? { issues.first { $0.key == key } }

    /// Moves an issue to another status category (`done` plays resolving it).
    func setStatusCategory(_ key: String, _ category: String) {
        state.withLock { state in
            if let index = state.issues.firstIndex(where: { $0.key == key }) { state.issues[index].statusCategory = category }
        }
    }

    /// Makes the next `count` authenticated requests (whose path starts with `pathPrefix`, when given) fail with
    /// `status` and an error body, with `Retry-After` when `retryAfterSeconds` is given. They change nothing.
    func failNext(_ count: Int, status: Int, retryAfterSeconds: Int? = nil, pathPrefix: String? = nil) {
        guard count > 0 else { return }
        state.withLock {
            $0.failures.append(PlannedFailure(
                remaining: count, status: status, retryAfterSeconds: retryAfterSeconds, pathPrefix: pathPrefix
            ))
        }
    }

    // MARK: HTTP

    var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            router.on("/**", method: method) { [self] request, _ -> Response in
                let body = Data(try await request.body.collect(upTo: 4 << 20).readableBytesView)
                let reply = answer(
                    method: request.method.rawValue, path: request.uri.path, authority: request.head.authority,
                    authorization: request.headers[.authorization], contentType: request.headers[.contentType],
                    accept: request.headers[.accept], body: body
                )
                var headers = HTTPFields()
                if let retryAfter = reply.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
                headers[.contentType] = "application/json;charset=UTF-8"
                return Response(
                    status: .init(code: reply.status), headers: headers,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: Self.encode(reply.json)))
                )
            }
        }
        return router
    }

    private struct Reply {
        var status: Int
        var json: JSONValue
        var retryAfterSeconds: Int?
    }

    private func answer(
        method: String, path: String, authority: String?, authorization: String?, contentType: String?,
        accept: String?, body: Data
    ) -> Reply {
        state.withLock { state in
            let reply = route(&state, method: method, path: path, site: "http://\(authority ?? "127.0.0.1")",
                              authorization: authorization, contentType: contentType, body: body)
            state.received.append(Received(
                method: method, path: path, authorization: authorization, contentType: contentType, accept: accept,
                body: body, status: reply.status
            ))
            return reply
        }
    }

    private func route(
        _ state: inout State, method: String, path: String, site: String, authorization: String?,
        contentType: String?, body: Data
    ) -> Reply {
        let expected = "Basic " + Data("\(email):\(token)".utf8).base64EncodedString()
        guard authorization == expected else {
            return Self.error(401, messages: ["Client must be authenticated to access this resource."])
        }
        if let index = state.failures.firstIndex(where: { $0.pathPrefix.map(path.hasPrefix) ?? true }) {
            let failure = state.failures[index]
            state.failures[index].remaining -= 1
            if state.failures[index].remaining == 0 { state.failures.remove(at: index) }
            var reply = Self.error(failure.status, messages: ["Injected by failNext (\(failure.status))."])
            reply.retryAfterSeconds = failure.retryAfterSeconds
            return reply
        }
        if method == "POST", contentType?.lowercased().hasPrefix("application/json") != true {
            return Self.error(415, messages: ["Unsupported Media Type: send Content-Type: application/json."])
        }
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.count) {
        case ("POST", 4) where parts == ["rest", "api", "3", "issue"]:
            return withObject(body) { create(&state, $0, site: site) }
        case ("POST", 5) where parts == ["rest", "api", "3", "search", "jql"]:
            return withObject(body) { search(state, $0, site: site) }
        case ("POST", 6) where Array(parts.prefix(4)) == ["rest", "api", "3", "issue"] && parts[5] == "comment":
            return withObject(body) { comment(&state, issue: parts[4], $0, site: site) }
        case ("GET", 5) where Array(parts.prefix(4)) == ["rest", "api", "3", "issue"]:
            guard let issue = state.issues.first(where: { $0.key == parts[4] || $0.id == parts[4] }) else {
                return Self.error(404, messages: ["Issue does not exist or you do not have permission to see it."])
            }
            return Reply(status: 200, json: Self.json(issue, site: site, fields: nil))
        default:
            return Self.error(404, messages: ["No endpoint \(method) \(path) in the fake Jira."])
        }
    }

    private func withObject(_ body: Data, _ handle: ([String: JSONValue]) -> Reply) -> Reply {
        guard let object = try? JSONValue.parseObject(body) else { return Self.error(400, messages: [Self.invalidPayload]) }
        return handle(object)
    }

    // MARK: Create

    private static let settableFields: Set<String> = [
        "project", "summary", "issuetype", "labels", "description", "priority", "assignee", "components",
    ]

    private func create(_ state: inout State, _ body: [String: JSONValue], site: String) -> Reply {
        guard let fields = body["fields"]?.objectValue else { return Self.error(400, messages: [Self.invalidPayload]) }
        var errors: [String: String] = [:]
        for key in fields.keys where !Self.settableFields.contains(key) {
            errors[key] = "Field '\(key)' cannot be set. It is not on the appropriate screen, or unknown."
        }
        var projectKey: String?
        switch fields["project"] {
        case nil, .null?:
            errors["project"] = "project is required"
        case .object(let reference)?:
            if let key = reference["key"]?.stringValue, projects[key] != nil {
                projectKey = key
            } else if let id = reference["id"]?.stringValue, let key = projects.first(where: { $0.value == id })?.key {
                projectKey = key
            } else {
                errors["project"] = "Specify a valid project ID or key"
            }
        default:
            errors["project"] = "Specify a valid project ID or key"
        }
        var issueType: String?
        switch fields["issuetype"] {
        case nil, .null?:
            errors["issuetype"] = "Specify an issue type"
        case .object(let reference)?:
            if let name = reference["name"]?.stringValue, issueTypes[name] != nil {
                issueType = name
            } else if let id = reference["id"]?.stringValue, let name = issueTypes.first(where: { $0.value == id })?.key {
                issueType = name
            } else {
                errors["issuetype"] = "Specify a valid issue type"
            }
        default:
            errors["issuetype"] = "Specify a valid issue type"
        }
        let summary = fields["summary"]?.stringValue ?? ""
        if summary.trimmingCharacters(in: .whitespaces).isEmpty {
            errors["summary"] = "You must specify a summary of the issue."
        } else if summary.utf16.count > 255 {
            errors["summary"] = "Summary must be less than 255 characters."
        } else if summary.contains(where: \.isNewline) {
            errors["summary"] = "The summary is invalid because it contains newline characters."
        }
        var labels: [String] = []
        if let value = fields["labels"], value != .null {
            if let strings = value.arrayValue?.compactMap(\.stringValue), strings.count == value.arrayValue?.count {
                labels = strings
                if let bad = strings.first(where: { $0.contains(where: \.isWhitespace) || $0.isEmpty }) {
                    errors["labels"] = "The label '\(bad)' contains spaces which is invalid."
                } else if let long = strings.first(where: { $0.utf16.count > 255 }) {
                    errors["labels"] = "The label '\(long)' exceeds the 255 character limit."
                }
            } else {
                errors["labels"] = "data was not an array"
            }
        }
        let description = fields["description"].flatMap { $0 == .null ? nil : $0 }
        if let description, !Self.isADF(description) { errors["description"] = Self.notADF }
        guard errors.isEmpty, let projectKey, let issueType else { return Self.error(400, errors: errors) }

        let id = String(state.nextID)
        state.nextID += 1
        let number = state.issues.filter { $0.project == projectKey }.count + 1
        let issue = Issue(
            id: id, key: "\(projectKey)-\(number)", project: projectKey, summary: summary, issueType: issueType,
            labels: labels, description: description, statusCategory: "new", comments: []
        )
        state.issues.append(issue)
        return Reply(status: 201, json: .object([
            "id": .string(id), "key": .string(issue.key), "self": .string("\(site)/rest/api/3/issue/\(id)"),
        ]))
    }

    // MARK: Search

    private static let searchKeys: Set<String> = [
        "jql", "nextPageToken", "maxResults", "fields", "expand", "properties", "fieldsByKeys", "failFast",
        "reconcileIssues",
    ]

    private func search(_ state: State, _ body: [String: JSONValue], site: String) -> Reply {
        // The enhanced search has no `startAt` (it pages with `nextPageToken`): unknown keys are refused.
        guard body.keys.allSatisfy(Self.searchKeys.contains) else { return Self.error(400, messages: [Self.invalidPayload]) }
        guard let jql = body["jql"]?.stringValue, !jql.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Self.error(400, messages: [
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            ])
        }
        let clauses: [JQLClause]
        do {
            clauses = try JQLClause.parse(jql)
        } catch {
            return Self.error(400, messages: ["Error in the JQL Query: \(error.description)"])
        }
        for clause in clauses where clause.field == "project" {
            for value in clause.values where projects[value] == nil && !projects.values.contains(value) {
                return Self.error(400, messages: ["The value '\(value)' does not exist for the field 'project'."])
            }
        }
        let maxResults = body["maxResults"]?.integerValue.map(Int.init) ?? 50
        let fields = body["fields"]?.arrayValue?.compactMap(\.stringValue)
        let matching = state.issues.reversed().filter { issue in clauses.allSatisfy { $0.matches(issue, projects: projects) } }
        return Reply(status: 200, json: .object([
            "issues": .array(matching.prefix(max(0, maxResults)).map { Self.json($0, site: site, fields: fields ?? []) }),
            "isLast": .bool(matching.count <= maxResults),
        ]))
    }

    /// One `field op value` clause of the JQL the fake understands: `project`, `labels` and `statusCategory`
    /// with `=`, `!=`, `in` and `not in`, joined by `AND`, with an optional `ORDER BY` (ignored: newest first).
    struct JQLClause: Sendable {
        struct ParseError: Error, CustomStringConvertible { var description: String }

        var field: String
        var negated: Bool
        var values: [String]

        func matches(_ issue: Issue, projects: [String: String]) -> Bool {
            let hit: Bool
            switch field {
            case "project":
                hit = values.contains { $0 == issue.project || $0 == projects[issue.project] }
            case "labels":
                hit = values.contains(where: issue.labels.contains)
            default:  // statuscategory
                let names = ["new": "To Do", "indeterminate": "In Progress", "done": "Done"]
                hit = values.contains {
                    $0.lowercased() == issue.statusCategory || $0.lowercased() == names[issue.statusCategory]?.lowercased()
                }
            }
            return hit != negated
        }

        static func parse(_ jql: String) throws(ParseError) -> [JQLClause] {
            var tokens = try tokenize(jql)[...]
            var clauses: [JQLClause] = []
            func word(_ token: Token?) -> String? {
                if case .word(let text)? = token { return text.lowercased() }
                return nil
            }
            while let first = tokens.first {
                if word(first) == "order" { break }
                guard case .word(let name) = tokens.removeFirst() else {
                    throw ParseError(description: "expected a field name")
                }
                let field = name.lowercased()
                guard ["project", "labels", "statuscategory"].contains(field) else {
                    throw ParseError(description: "the field '\(name)' is not understood by the fake Jira")
                }
                var negated = false
                var values: [String] = []
                switch tokens.popFirst() {
                case .symbol("=")?:
                    values = [try value(&tokens)]
                case .symbol("!=")?:
                    negated = true
                    values = [try value(&tokens)]
                case .word(let op)? where op.lowercased() == "in" || op.lowercased() == "not":
                    if op.lowercased() == "not" {
                        guard word(tokens.popFirst()) == "in" else { throw ParseError(description: "expected 'in' after 'not'") }
                        negated = true
                    }
                    guard case .symbol("(")? = tokens.popFirst() else { throw ParseError(description: "expected '('") }
                    while true {
                        values.append(try value(&tokens))
                        switch tokens.popFirst() {
                        case .symbol(",")?: continue
                        case .symbol(")")?: break
                        default: throw ParseError(description: "expected ',' or ')' in a list")
                        }
                        break
                    }
                default:
                    throw ParseError(description: "expected an operator after '\(name)'")
                }
                clauses.append(JQLClause(field: field, negated: negated, values: values))
                guard let next = tokens.first else { break }
                guard word(next) == "and" || word(next) == "order" else {
                    throw ParseError(description: "expected 'AND' or 'ORDER BY' after a clause")
                }
                if word(next) == "and" { tokens.removeFirst() }
            }
            guard !clauses.isEmpty else { throw ParseError(description: "the query has no clause") }
            return clauses
        }

        enum Token: Equatable {
            case word(String)
            case string(String)
            case symbol(String)
        }

        private static func value(_ tokens: inout ArraySlice<Token>) throws(ParseError) -> String {
            switch tokens.popFirst() {
            case .word(let text)?, .string(let text)?: return text
            default: throw ParseError(description: "expected a value")
            }
        }

        static func tokenize(_ jql: String) throws(ParseError) -> [Token] {
            var tokens: [Token] = []
            var characters = Array(jql)[...]
            while let character = characters.first {
                if character.isWhitespace {
                    characters.removeFirst()
                } else if character == "\"" || character == "'" {
                    characters.removeFirst()
                    var text = ""
                    var closed = false
                    while let next = characters.popFirst() {
                        if next == "\\" {
                            guard let escaped = characters.popFirst() else { break }
                            text.append(escaped)
                        } else if next == character {
                            closed = true
                            break
                        } else {
                            text.append(next)
                        }
                    }
                    guard closed else { throw ParseError(description: "unterminated string") }
                    tokens.append(.string(text))
                } else if character == "!" {
                    characters.removeFirst()
                    guard characters.popFirst() == "=" else { throw ParseError(description: "'!' must be followed by '='") }
                    tokens.append(.symbol("!="))
                } else if "=(),".contains(character) {
                    characters.removeFirst()
                    tokens.append(.symbol(String(character)))
                } else if character.isLetter || character.isNumber || "-_.".contains(character) {
                    var text = ""
                    while let next = characters.first, next.isLetter || next.isNumber || "-_.".contains(next) {
                        text.append(next)
                        characters.removeFirst()
                    }
                    tokens.append(.word(text))
                } else {
                    throw ParseError(description: "unexpected character '\(character)'")
                }
            }
            return tokens
        }
    }

    // MARK: Comments

    private func comment(_ state: inout State, issue reference: String, _ body: [String: JSONValue], site: String) -> Reply {
        guard let index = state.issues.firstIndex(where: { $0.key == reference || $0.id == reference }) else {
            return Self.error(404, messages: ["Issue does not exist or you do not have permission to see it."])
        }
        guard let document = body["body"], document != .null else {
            return Self.error(400, errors: ["comment": "Comment body can not be empty!"])
        }
        guard Self.isADF(document) else { return Self.error(400, errors: ["comment": Self.notADF]) }
        state.issues[index].comments.append(document)
        let id = String(state.nextCommentID)
        state.nextCommentID += 1
        let issueID = state.issues[index].id
        return Reply(status: 201, json: .object([
            "id": .string(id), "self": .string("\(site)/rest/api/3/issue/\(issueID)/comment/\(id)"),
            "body": document, "author": .object(["emailAddress": .string(email)]),
            "created": .string(RFC3339.formatWithMilliseconds(Date())),
        ]))
    }

    // MARK: Shapes

    /// Whether `value` is an ADF document: a `doc` of version 1 whose nodes all have a `type`, whose `content` are
    /// arrays of nodes, and whose `text` nodes hold non-empty text.
    static func isADF(_ value: JSONValue) -> Bool {
        guard value["type"]?.stringValue == "doc", value["version"]?.integerValue == 1,
              let content = value["content"]?.arrayValue
        else { return false }
        func valid(_ node: JSONValue) -> Bool {
            guard let type = node["type"]?.stringValue else { return false }
            if type == "text" {
                guard let text = node["text"]?.stringValue, !text.isEmpty else { return false }
            }
            if let children = node["content"] {
                guard let array = children.arrayValue, array.allSatisfy(valid) else { return false }
            }
            if let marks = node["marks"] {
                guard let array = marks.arrayValue, array.allSatisfy({ $0["type"]?.stringValue != nil }) else { return false }
            }
            return true
        }
        return content.allSatisfy(valid)
    }

    private static func json(_ issue: Issue, site: String, fields: [String]?) -> JSONValue {
        let names = ["new": "To Do", "indeterminate": "In Progress", "done": "Done"]
        var all: [String: JSONValue] = [
            "summary": .string(issue.summary),
            "labels": .array(issue.labels.map(JSONValue.string)),
            "status": .object([
                "name": .string(names[issue.statusCategory] ?? issue.statusCategory),
                "statusCategory": .object([
                    "key": .string(issue.statusCategory), "name": .string(names[issue.statusCategory] ?? ""),
                ]),
            ]),
            "issuetype": .object(["name": .string(issue.issueType)]),
            "project": .object(["key": .string(issue.project)]),
        ]
        all["description"] = issue.description
        let shown = fields.map { wanted in all.filter { wanted.contains($0.key) || wanted.contains("*all") } } ?? all
        return .object([
            "id": .string(issue.id), "key": .string(issue.key),
            "self": .string("\(site)/rest/api/3/issue/\(issue.id)"), "fields": .object(shown),
        ])
    }

    private static func error(_ status: Int, messages: [String] = [], errors: [String: String] = [:]) -> Reply {
        Reply(status: status, json: .object([
            "errorMessages": .array(messages.map(JSONValue.string)),
            "errors": .object(errors.mapValues(JSONValue.string)),
        ]))
    }

    private static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
