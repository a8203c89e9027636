import Foundation
import Testing

@testable import EuphrosyneCore

@Suite struct RecipeResultTests {
    @Test func decodesTheOriginalWireSchema() throws {
        let wire = #"""
            {"incident": "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", "name": "http-errors", "status": "successful",
             "results": {"actions": ["jira"], "analysis": "5xx spike on /checkout", "json": "{\"count\": 3}",
                         "links": ["https://grafana.example/d/abc"]}}
            """#
        let result = try RecipeResult.decode(Data(wire.utf8))
        #expect(result == RecipeResult(
            incident: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", name: "http-errors", status: .successful,
            results: .init(actions: ["jira"], analysis: "5xx spike on /checkout", json: #"{"count": 3}"#,
                           links: ["https://grafana.example/d/abc"])
        ))
    }

    @Test func encodesWithTheOriginalFieldNames() throws {
        let result = RecipeResult(incident: "u", name: "dummy", status: .failed,
                                  results: .init(actions: ["jira"], analysis: "a", json: "{}", links: ["https://x/y"]))
        let object = try JSONValue.parseObject(result.encoded())
        #expect(object == [
            "incident": .string("u"), "name": .string("dummy"), "status": .string("failed"),
            "results": .object([
                "actions": .array([.string("jira")]), "analysis": .string("a"), "json": .string("{}"),
                "links": .array([.string("https://x/y")]),
            ]),
        ])
    }

    @Test func isLenientWhereTheOriginalSDKWas() throws {
        let minimal = try RecipeResult.decode(Data(#"{"incident":"u","name":"n","status":"SUCCESSFUL"}"#.utf8))
        #expect(minimal.status == .successful)
        #expect(minimal.results == .init())
        let odd = try RecipeResult.decode(Data(#"{"incident":"u","name":"n","status":"weird","results":{"json":{"a":1}}}"#.utf8))
        #expect(odd.status == .unknown)
        #expect(odd.results.json == #"{"a":1}"#)
    }

    @Test func namesTheMissingOrMistypedField() {
        #expect(throws: JSONInputError(message: "is required", path: "name")) {
            try RecipeResult.decode(Data(#"{"incident":"u","status":"successful"}"#.utf8))
        }
        #expect(throws: JSONInputError(message: "must be an array", path: "results.actions")) {
            try RecipeResult.decode(Data(#"{"incident":"u","name":"n","results":{"actions":"jira"}}"#.utf8))
        }
        #expect(throws: JSONInputError(message: "must be a string", path: "results.actions[1]")) {
            try RecipeResult.decode(Data(#"{"incident":"u","name":"n","results":{"actions":["a",2]}}"#.utf8))
        }
    }
}

@Suite struct AnalysisTests {
    static func run(_ id: Int, _ recipe: String, state: RecipeRun.State, result: RecipeResult? = nil,
                    reason: String? = nil) -> RecipeRun {
        var run = RecipeRun(id: id, recipe: recipe, kind: .debugging, description: "", name: "\(recipe)-bbbbb",
                            timeoutSeconds: 60, createdAt: Date(timeIntervalSince1970: 0))
        run.state = state
        run.result = result
        run.failureReason = reason
        return run
    }

    static func reported(_ id: Int, _ recipe: String, _ status: RecipeResult.Status, analysis: String,
                         actions: [String] = [], links: [String] = []) -> RecipeRun {
        run(id, recipe, state: .reported, result: RecipeResult(
            incident: "u", name: recipe, status: status,
            results: .init(actions: actions, analysis: analysis, links: links)))
    }

    @Test func unitesActionsAndLinksOfSuccessfulRunsInOrder() {
        let analysis = Analysis.aggregate([
            Self.reported(2, "b", .successful, analysis: "second", actions: ["webhook", "jira"], links: ["l2", "l1"]),
            Self.reported(1, "a", .successful, analysis: "first", actions: ["jira"], links: ["l1"]),
            Self.reported(3, "c", .failed, analysis: "broken", actions: ["restart"], links: ["l3"]),
        ])
        #expect(analysis.actions == ["jira", "webhook"])
        #expect(analysis.links == ["l1", "l2"])
        #expect(analysis.successful == ["a", "b"])
        #expect(analysis.text == "a: first\n\nb: second\n\nDid not succeed:\n- c: reported failure: broken")
    }

    @Test func saysSoWhenNothingSucceeded() {
        let analysis = Analysis.aggregate([
            Self.run(1, "a", state: .timedOut, reason: "timed out after 60 s"),
            Self.run(2, "b", state: .failed, reason: "exited with status 1 without reporting a result; stderr: oops"),
        ])
        #expect(analysis.actions.isEmpty)
        #expect(analysis.text == """
            No recipe reported a successful result.

            Did not succeed:
            - a: timed out after 60 s
            - b: exited with status 1 without reporting a result; stderr: oops
            """)
    }
}

@Suite struct JobStatusTests {
    @Test(arguments: [
        (RecipeRun.State.pending, JobStatus.Phase.active), (.running, .active), (.reported, .completed),
        (.failed, .failed), (.timedOut, .failed), (.cancelled, .failed),
    ])
    func mapsRunStatesToJobPhases(state: RecipeRun.State, phase: JobStatus.Phase) {
        let incident = UUID(uuidString: "6F1C1E2A-1111-4C5D-9E8F-0123456789AB")!
        var run = RecipeRun(id: 1, recipe: "dummy", kind: .debugging, description: "Does nothing", name: "dummy-x2x2x",
                            timeoutSeconds: 60, createdAt: Date(timeIntervalSince1970: 1_800_000_000))
        run.state = state
        run.startedAt = Date(timeIntervalSince1970: 1_800_000_001.75)
        let status = JobStatus(run: run, incident: incident)
        #expect(status == JobStatus(
            name: "dummy-x2x2x", startTime: "2027-01-15T08:00:01Z", status: phase,
            labels: ["app": "euphrosyne", "recipe": "dummy", "uuid": "6f1c1e2a-1111-4c5d-9e8f-0123456789ab"],
            description: "Does nothing"
        ))
    }

    @Test func encodesTheBotProtocolFieldNames() throws {
        let status = JobStatus(name: "n", startTime: "2026-11-28T21:13:44Z", status: .completed, labels: ["app": "euphrosyne"],
                               description: "d")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(status), as: UTF8.self)
        #expect(text == #"{"description":"d","labels":{"app":"euphrosyne"},"name":"n","startTime":"2026-11-28T21:13:44Z","status":"Completed"}"#)
    }
}
