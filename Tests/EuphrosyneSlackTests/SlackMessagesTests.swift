import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneSlack

/// The analysis message as Block Kit values: what came from outside stays plain text, buttons carry the incident
/// and the action, and Slack's limits hold however long the analysis.
@Suite struct SlackMessagesTests {
    static let incident = UUID(uuidString: "6F1D2C3B-4A59-4E6D-8F70-81928374A5B6")!

    static func analysis(text: String = "disk: /var is 97% full", actions: [String] = ["cleanup-logs", "jira"],
                         links: [String] = []) -> Analysis {
        Analysis(text: text, actions: actions, links: links, successful: ["disk"], shortfalls: [])
    }

    static func texts(_ blocks: [JSONValue], type: String) -> [String] {
        blocks.compactMap { block in
            block["text"]?["type"]?.stringValue == type ? block["text"]?["text"]?.stringValue : nil
        }
    }

    @Test func theAnalysisHasAHeadingItsTextAndOneButtonPerAction() throws {
        let blocks = SlackMessages.analysisBlocks(incident: Self.incident, analysis: Self.analysis())
        #expect(Self.texts(blocks, type: "mrkdwn").first == "*Incident* `6f1d2c3b-4a59-4e6d-8f70-81928374a5b6`")
        #expect(Self.texts(blocks, type: "plain_text") == ["disk: /var is 97% full"])
        let actions = try #require(blocks.first { $0["type"]?.stringValue == "actions" })
        let buttons = try #require(actions["elements"]?.arrayValue)
        #expect(buttons.map { $0["text"]?["text"]?.stringValue } == ["Run cleanup-logs", "Run jira"])
        #expect(buttons.map { $0["action_id"]?.stringValue } == ["euphrosyne-approve-0", "euphrosyne-approve-1"])
        let value = try #require(buttons.first?["value"]?.stringValue)
        #expect(SlackMessages.ButtonValue(decoding: value) == .init(incident: Self.incident, action: "cleanup-logs"))
        #expect(buttons.first?["confirm"]?["confirm"]?["text"]?.stringValue == "Run it", "a click asks first")
        #expect(FakeSlack.blocksProblem(blocks) == nil)
        #expect(SlackMessages.analysisText(incident: Self.incident, analysis: Self.analysis())
            == "Incident 6f1d2c3b-4a59-4e6d-8f70-81928374a5b6: disk: /var is 97% full")
    }

    @Test func whatCameFromOutsideCannotMentionLinkOrFormat() {
        let hostile = "<!channel> *urgent* <https://evil.example|click to approve> <@U0123ALICE>"
        let analysis = Self.analysis(text: hostile, links: [
            "https://grafana.example/d/abc?from=now-1h&to=now", "https://evil.example|Grafana", "javascript:alert(1)",
        ])
        let blocks = SlackMessages.analysisBlocks(incident: Self.incident, analysis: analysis)
        #expect(Self.texts(blocks, type: "plain_text") == [hostile], "plain_text: shown as typed, nothing parsed")
        let links = Self.texts(blocks, type: "mrkdwn").last ?? ""
        #expect(links.contains("<https://grafana.example/d/abc?from=now-1h&amp;to=now|https://grafana.example/d/abc?from=now-1h&amp;to=now>"))
        #expect(links.contains("• https://evil.example|Grafana"), "a link that would show other words is not a link")
        #expect(links.contains("• javascript:alert(1)"))
        #expect(!SlackMessages.analysisText(incident: Self.incident, analysis: analysis).contains("<!channel>"))
    }

    @Test func slacksLimitsHoldForALongAnalysisAndManyActions() throws {
        let long = (0..<4_000).map { "line \($0) of a long analysis" }.joined(separator: "\n")
        let actions = (0..<30).map { "action-\($0)" }
        let blocks = SlackMessages.analysisBlocks(incident: Self.incident, analysis: Self.analysis(text: long, actions: actions))
        #expect(FakeSlack.blocksProblem(blocks) == nil)
        #expect(blocks.count <= 50)
        let texts = Self.texts(blocks, type: "plain_text")
        #expect(texts.allSatisfy { $0.count <= 3_000 })
        #expect(texts.dropLast().last?.hasSuffix("…(truncated)") == true)
        #expect(texts.first?.hasPrefix("line 0 of") == true && texts.first?.hasSuffix("analysis") == true, "cut at a line break")
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
