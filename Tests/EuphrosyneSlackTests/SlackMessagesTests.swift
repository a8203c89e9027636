import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneSlack

/// The incident message as Block Kit values: a state line of ours, what came from outside as plain text, buttons
/// carrying the incident and the action while it can be approved, input fields for declared inputs, and Slack's
/// limits however long the analysis.
@Suite struct SlackMessagesTests {
    static let incident = UUID(uuidString: "6F1D2C3B-4A59-4E6D-8F70-81928374A5B6")!

    static func analysis(text: String = "disk: /var is 97% full", actions: [String] = ["cleanup-logs", "jira"],
                         links: [String] = []) -> Analysis {
        Analysis(text: text, actions: actions, links: links, successful: ["disk"], shortfalls: [])
    }

    static func card(_ analysis: Analysis? = analysis(), state: Incident.State = .analysed,
                     alerts: [[String: String]] = [[:]]) -> IncidentCard {
        SampleIncidents.card(id: incident, alertname: "DiskFull", alerts: alerts, state: state, analysis: analysis,
                             recipes: ["disk"])
    }

    static func texts(_ blocks: [JSONValue], type: String) -> [String] {
        blocks.compactMap { block in
            block["text"]?["type"]?.stringValue == type ? block["text"]?["text"]?.stringValue : nil
        }
    }

    @Test func theMessageHasAStateLineTheAlertTheRunsTheAnalysisAndOneButtonPerAction() throws {
        let blocks = SlackMessages.incidentBlocks(Self.card(), catalog: nil)
        #expect(Self.texts(blocks, type: "mrkdwn").first
            == "🟠 *Analysed*: waiting for someone to approve an action · incident `6f1d2c3b-4a59-4e6d-8f70-81928374a5b6`")
        #expect(Self.texts(blocks, type: "plain_text") == ["DiskFull (firing)", "Recipes: disk (reported)", "disk: /var is 97% full"])
        let actions = try #require(blocks.first { $0["type"]?.stringValue == "actions" })
        let buttons = try #require(actions["elements"]?.arrayValue)
        #expect(buttons.map { $0["text"]?["text"]?.stringValue } == ["Run cleanup-logs", "Run jira"])
        #expect(buttons.map { $0["action_id"]?.stringValue } == ["euphrosyne-approve-0", "euphrosyne-approve-1"])
        let value = try #require(buttons.first?["value"]?.stringValue)
        #expect(SlackMessages.ButtonValue(decoding: value) == .init(incident: Self.incident, action: "cleanup-logs"))
        #expect(buttons.first?["confirm"]?["confirm"]?["text"]?.stringValue == "Run it", "a click asks first")
        #expect(FakeSlack.blocksProblem(blocks) == nil)
        #expect(SlackMessages.incidentText(Self.card()) == "Analysed: DiskFull (firing)")
        let colour = SlackMessages.incidentAttachments(Self.card()).first?["color"]?.stringValue
        #expect(colour == "#E8912D")
    }

    @Test func eachStageHasItsLineAndColourAndOnlyAnOpenIncidentHasButtons() {
        let expected: [(Incident.State, String, String, Bool)] = [
            (.diagnosing, "🟡 *Diagnosing*", "#ECB22E", false), (.analysed, "🟠 *Analysed*", "#E8912D", true),
            (.acting, "🔵 *Acting*", "#1D9BD1", true), (.done, "🟢 *Done*", "#2EB67D", true),
            (.resolved, "🟢 *Resolved*", "#2EB67D", false), (.failed, "🔴 *Failed*", "#E01E5A", false),
            (.expired, "⚪ *Expired*", "#9E9EA6", false),
        ]
        for (state, line, colour, buttons) in expected {
            let card = Self.card(state == .diagnosing ? nil : Self.analysis(), state: state)
            let blocks = SlackMessages.incidentBlocks(card, catalog: nil)
            #expect(Self.texts(blocks, type: "mrkdwn").first?.hasPrefix(line) == true, "\(state)")
            #expect(SlackMessages.incidentAttachments(card).first?["color"]?.stringValue == colour, "\(state)")
            #expect(blocks.contains { $0["type"]?.stringValue == "actions" } == buttons, "\(state)")
        }
    }

    @Test func aGroupListsItsFiringAlertsAndCountsTheRest() {
        let alerts = (1...12).map { ["pod": "api-\($0)"] }
        let blocks = SlackMessages.incidentBlocks(Self.card(alerts: alerts), catalog: nil)
        let group = Self.texts(blocks, type: "plain_text").first { $0.hasPrefix("12 alerts firing") }
        #expect(group?.contains("DiskFull pod=api-1\n") == true)
        #expect(group?.hasSuffix("…and 2 more") == true)
    }

    @Test func declaredInputsBecomeOptionalFieldsWhoseValuesAClickCarries() throws {
        var jira = Recipe.fake("jira", .action)
        jira.inputs = ["summary"]
        let catalog = RecipeCatalog(debugging: [], actions: [jira, .fake("cleanup-logs", .action)])
        let blocks = SlackMessages.incidentBlocks(Self.card(), catalog: catalog)
        let input = try #require(blocks.first { $0["type"]?.stringValue == "input" })
        #expect(input["block_id"]?.stringValue == "euphrosyne-input:jira:summary")
        #expect(input["optional"] == .bool(true))
        #expect(input["element"]?["type"]?.stringValue == "plain_text_input")
        #expect(FakeSlack.blocksProblem(blocks) == nil)
        let state: JSONValue = .object(["values": .object([
            "euphrosyne-input:jira:summary": .object(["value": .object(["type": .string("plain_text_input"), "value": .string("disk full")])]),
            "euphrosyne-input:jira:empty": .object(["value": .object(["value": .null])]),
            "euphrosyne-input:cleanup-logs:path": .object(["value": .object(["value": .string("/var")])]),
        ])])
        #expect(SlackMessages.inputValues(for: "jira", in: state) == ["summary": .string("disk full")])
        // Resolved: no fields, no buttons.
        let closed = SlackMessages.incidentBlocks(Self.card(state: .resolved), catalog: catalog)
        #expect(!closed.contains { ["input", "actions"].contains($0["type"]?.stringValue) })
    }

    @Test func whatCameFromOutsideCannotMentionLinkOrFormat() {
        let hostile = "<!channel> *urgent* <https://evil.example|click to approve> <@U0123ALICE>"
        let analysis = Self.analysis(text: hostile, links: [
            "https://grafana.example/d/abc?from=now-1h&to=now", "https://evil.example|Grafana", "javascript:alert(1)",
        ])
        let blocks = SlackMessages.incidentBlocks(Self.card(analysis), catalog: nil)
        #expect(Self.texts(blocks, type: "plain_text").contains(hostile), "plain_text: shown as typed, nothing parsed")
        let links = Self.texts(blocks, type: "mrkdwn").last ?? ""
        #expect(links.contains("<https://grafana.example/d/abc?from=now-1h&amp;to=now|https://grafana.example/d/abc?from=now-1h&amp;to=now>"))
        #expect(links.contains("• https://evil.example|Grafana"), "a link that would show other words is not a link")
        #expect(links.contains("• javascript:alert(1)"))
        let hostileAlert = SampleIncidents.card(alertname: "<!channel>", analysis: analysis)
        #expect(!SlackMessages.incidentText(hostileAlert).contains("<!channel>"))
    }

    @Test func slacksLimitsHoldForALongAnalysisAndManyActions() throws {
        let long = (0..<10_000).map { "line \($0) of a long analysis" }.joined(separator: "\n")
        let actions = (0..<30).map { "action-\($0)" }
        let blocks = SlackMessages.incidentBlocks(Self.card(Self.analysis(text: long, actions: actions)), catalog: nil)
        #expect(FakeSlack.blocksProblem(blocks) == nil)
        #expect(blocks.count == 50)
        let texts = Self.texts(blocks, type: "plain_text")
        #expect(texts.allSatisfy { $0.count <= 3_000 })
        #expect(texts.dropLast().last?.hasSuffix("…(truncated)") == true)
        #expect(texts[2].hasPrefix("line 0 of") == true && texts[2].hasSuffix("analysis") == true, "cut at a line break")
        let buttons = try #require(blocks.first { $0["type"]?.stringValue == "actions" }?["elements"]?.arrayValue)
        #expect(buttons.count == 25)
        #expect(texts.last == "Also suggested (approve through the API): action-25, action-26, action-27, action-28, action-29")
    }

    @Test func aButtonValueThatIsNotOursIsNotReadAsOne() {
        #expect(SlackMessages.ButtonValue(decoding: "approve") == nil)
        #expect(SlackMessages.ButtonValue(decoding: #"{"incident":"not-a-uuid","action":"x"}"#) == nil)
        #expect(SlackMessages.ButtonValue(decoding: #"{"incident":"6f1d2c3b-4a59-4e6d-8f70-81928374a5b6"}"#) == nil)
        #expect(SlackMessages.ButtonValue(decoding: #"{"incident":"6f1d2c3b-4a59-4e6d-8f70-81928374a5b6","action":""}"#) == nil)
        let long = #"{"incident":"6f1d2c3b-4a59-4e6d-8f70-81928374a5b6","action":""# + String(repeating: "a", count: 2_000) + #""}"#
        #expect(SlackMessages.ButtonValue(decoding: long) == nil)
    }
}
