import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import RecipeKit
import Testing

/// The `jira` action against a fake Jira Cloud that keeps to the REST contract (FakeJira).
@Suite struct JiraRecipeTests {
    static let token = "ATATT-example-token"

    static func environment(port: Int, _ extra: [String: String] = [:]) -> [String: String] {
        [
            "JIRA_URL": FakeJira.baseURL(port: port) + "/", "JIRA_USER": "bot@example.com", "JIRA_TOKEN": token,
            "JIRA_PROJECT": "OPS",
        ].merging(extra) { $1 }
    }

    /// A recipe that does not wait long between attempts.
    static let quick = JiraRecipe(initialBackoff: .milliseconds(5), requestTimeout: .seconds(10))

    static func run(
        _ environment: [String: String], _ input: RecipeInput, recipe: JiraRecipe = quick
    ) async throws -> RecipeOutcome {
        try await ActionInputs.outcome(recipe.run, ActionInputs.context("jira", environment: environment, input: input))
    }

    @Test func createsAnIssueWithAnADFDescriptionAndTheFingerprintLabel() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let base = FakeJira.baseURL(port: ports[0])
            let input = ActionInputs.input(
                data: ["summary": .string("api is crash looping"), "ticket": .string("CHG-1")],
                analysis: "dummy: the api pod restarts every 30 s.\n\nLast log line: OOMKilled"
            )
            let outcome = try await Self.run(Self.environment(port: ports[0]), input)
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.links == ["\(base)/browse/OPS-1"])
            #expect(outcome.analysis.hasPrefix("Created OPS-1 (\(base)/browse/OPS-1): api is crash looping"))
            #expect(outcome.json.contains(#""created":true"#))

            let issue = try #require(jira.issue("OPS-1"))
            #expect(issue.summary == "api is crash looping")
            #expect(issue.issueType == "Task")
            #expect(issue.labels == ["euphrosyne", "euphrosyne-09f827451c0fe9f3"])
            let description = try #require(issue.description)
            #expect(FakeJira.isADF(description))
            let text = description.adfText
            for expected in [input.incident, "PodCrashLooping (firing): api pod restarting", "namespace", "shop",
                             "api-7d9f", "runbook", "restart-api", "09f827451c0fe9f3", "ticket", "CHG-1",
                             "dummy: the api pod restarts every 30 s.", "Last log line: OOMKilled"] {
                #expect(text.contains(expected), "the description should mention \(expected): \(text)")
            }

            // It searched first, in the project, for an open issue with the label; then created.
            #expect(jira.received.map(\.path) == ["/rest/api/3/search/jql", "/rest/api/3/issue"])
            let search = try #require(jira.received.first?.json)
            let jql = try #require(search["jql"]?.stringValue)
            #expect(jql.contains(#"project = "OPS""#))
            #expect(jql.contains(#"labels in ("euphrosyne-09f827451c0fe9f3")"#))
            #expect(jql.contains("statusCategory != Done"))
            for request in jira.received {
                #expect(request.authorization == "Basic Ym90QGV4YW1wbGUuY29tOkFUQVRULWV4YW1wbGUtdG9rZW4=")
                #expect(request.accept == "application/json")
                #expect(request.contentType == "application/json")
            }
        }
    }

    @Test func aSecondRunForTheSameFingerprintCommentsInsteadOfOpeningADuplicate() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let base = FakeJira.baseURL(port: ports[0])
            let environment = Self.environment(port: ports[0])
            let first = try await Self.run(environment, ActionInputs.input())
            #expect(first.links == ["\(base)/browse/OPS-1"])

            let again = ActionInputs.input(data: ["summary": .string("still crashing")], analysis: "second look")
            let second = try await Self.run(environment, again)
            #expect(second.status == .successful, "\(second.analysis)")
            #expect(second.links == ["\(base)/browse/OPS-1"])
            #expect(second.analysis.hasPrefix("Commented on OPS-1"))
            #expect(second.analysis.contains("instead of opening a duplicate"))
            #expect(second.json.contains(#""created":false"#))
            #expect(jira.issues.count == 1)
            let comments = try #require(jira.issue("OPS-1")?.comments)
            #expect(comments.count == 1)
            let comment = try #require(comments.first)
            #expect(FakeJira.isADF(comment))
            for expected in [again.incident, "still crashing", "second look", "euphrosyne-09f827451c0fe9f3"] {
                #expect(comment.adfText.contains(expected), "the comment should mention \(expected)")
            }
            #expect(jira.received(path: "/rest/api/3/issue/OPS-1/comment").map(\.status) == [201])

            // Once the issue is done, the alert gets a new one.
            jira.setStatusCategory("OPS-1", "done")
            let third = try await Self.run(environment, ActionInputs.input())
            #expect(third.links == ["\(base)/browse/OPS-2"])
            #expect(jira.issues.map(\.key) == ["OPS-1", "OPS-2"])
        }
    }

    @Test func projectAndIssueTypeMayComeFromTheApprovalAndTheSummaryFromTheAlert() async throws {
        let jira = FakeJira(projects: ["OPS": "10000", "SEC": "10001"])
        try await RunningServer.with([jira.router]) { ports in
            let outcome = try await Self.run(
                Self.environment(port: ports[0], ["JIRA_ISSUE_TYPE": "Task"]),
                ActionInputs.input(data: ["project": .string("SEC"), "issueType": .string("10004")])
            )
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let issue = try #require(jira.issues.first)
            #expect(issue.key == "SEC-1")
            #expect(issue.issueType == "Bug")  // given by id
            #expect(issue.summary == "PodCrashLooping (firing): api pod restarting")
        }
    }

    @Test func aGenericAlertIsLabelledByItsPayloadAndDescribedAsJSON() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let input = ActionInputs.input(alert: ["check": .string("disk"), "host": .string("db-1")])
            let outcome = try await Self.run(Self.environment(port: ports[0]), input)
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let issue = try #require(jira.issues.first)
            #expect(issue.summary == "Alert for Euphrosyne incident \(input.incident)")
            #expect(issue.labels.count == 2)
            #expect(issue.labels.allSatisfy { !$0.contains(" ") && !$0.contains(":") })
            #expect(issue.description?.adfText.contains("db-1") == true)

            // The same payload again is the same label.
            let again = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input(alert: input.alert.raw))
            #expect(again.analysis.hasPrefix("Commented on OPS-1"), "\(again.analysis)")
        }
    }

    @Test func aRefusedIssueQuotesJiraAndNamesTheField() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let outcome = try await Self.run(
                Self.environment(port: ports[0], ["JIRA_ISSUE_TYPE": "Epic"]), ActionInputs.input()
            )
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Jira refused creating the issue (400)"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("issuetype: Specify a valid issue type"), "\(outcome.analysis)")
            #expect(jira.issues.isEmpty)
            // A 400 is final: no retry.
            #expect(jira.received(path: "/rest/api/3/issue").count == 1)
        }
    }

    @Test func aProjectFromTheApprovalCannotRewriteTheSearch() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let sneaky = #"OPS" OR project != "OPS"#
            let outcome = try await Self.run(
                Self.environment(port: ports[0]), ActionInputs.input(data: ["project": .string(sneaky)])
            )
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("The value '\(sneaky)' does not exist for the field 'project'"),
                    "\(outcome.analysis)")
        }
    }

    @Test func refusedCredentialsNameTheUserNeverTheToken() async throws {
        let jira = FakeJira(token: "ATATT-the-real-one")
        try await RunningServer.with([jira.router]) { ports in
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input())
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Jira refused the credentials for bot@example.com (401)"),
                    "\(outcome.analysis)")
            #expect(!outcome.analysis.contains(Self.token))
            #expect(!outcome.analysis.contains(Data("bot@example.com:\(Self.token)".utf8).base64EncodedString()))
            #expect(jira.received.count == 1)
        }
    }

    @Test func throttlingAndServerErrorsAreRetried() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            jira.failNext(1, status: 429, retryAfterSeconds: 0, pathPrefix: "/rest/api/3/search")
            jira.failNext(2, status: 503, pathPrefix: "/rest/api/3/issue")
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input())
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(jira.received.map(\.status) == [429, 200, 503, 503, 201])
            #expect(jira.issues.count == 1)
        }
    }

    @Test func jiraThatKeepsFailingFailsTheRunAfterTheAttempts() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            jira.failNext(10, status: 503)
            let recipe = JiraRecipe(attempts: 3, initialBackoff: .milliseconds(5))
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input(), recipe: recipe)
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Jira answered 503"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("gave up after 3 attempts"), "\(outcome.analysis)")
            #expect(jira.received.count == 3)
            #expect(jira.issues.isEmpty)
        }
    }

    @Test func unreachableJiraFailsWithTheReason() async throws {
        let port = try await ActionInputs.closedPort()
        let outcome = try await Self.run(
            Self.environment(port: port), ActionInputs.input(), recipe: JiraRecipe(attempts: 2, initialBackoff: .milliseconds(5))
        )
        #expect(outcome.status == .failed)
        #expect(outcome.analysis.contains("Jira at http://127.0.0.1:\(port) is unreachable"), "\(outcome.analysis)")
        #expect(outcome.analysis.contains("gave up after 2 attempts"), "\(outcome.analysis)")
        #expect(!outcome.analysis.contains(Self.token))
    }

    @Test func missingSettingsAreNamed() async throws {
        var environment = Self.environment(port: 1)
        environment["JIRA_URL"] = nil
        let noURL = try await Self.run(environment, ActionInputs.input())
        #expect(noURL.status == .failed)
        #expect(noURL.analysis.contains("JIRA_URL is not set"), "\(noURL.analysis)")

        let nothing = try await Self.run([:], ActionInputs.input())
        #expect(nothing.analysis.contains("JIRA_URL, JIRA_USER, JIRA_TOKEN and JIRA_PROJECT are not set"),
                "\(nothing.analysis)")

        environment = Self.environment(port: 1)
        environment["JIRA_PROJECT"] = nil
        let noProject = try await Self.run(environment, ActionInputs.input())
        #expect(noProject.analysis.contains("JIRA_PROJECT is not set and the approval data has no \"project\""),
                "\(noProject.analysis)")

        environment = Self.environment(port: 1)
        environment["JIRA_URL"] = "example.atlassian.net"
        let notURL = try await Self.run(environment, ActionInputs.input())
        #expect(notURL.analysis.contains("JIRA_URL is not an http(s) URL"), "\(notURL.analysis)")
    }

    @Test func aLongSummaryIsCutToWhatJiraAccepts() async throws {
        let jira = FakeJira()
        try await RunningServer.with([jira.router]) { ports in
            let long = String(repeating: "é", count: 300) + "\nsecond line"
            let outcome = try await Self.run(
                Self.environment(port: ports[0]), ActionInputs.input(data: ["summary": .string(long)])
            )
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let summary = try #require(jira.issues.first?.summary)
            #expect(summary.utf16.count <= 255)
            #expect(summary.hasSuffix("…"))
        }
    }
}
