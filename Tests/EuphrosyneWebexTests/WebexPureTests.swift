import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneWebex

/// The Webex integration's pure parts: the card, the text limits, the signature check, the allow-list.
@Suite struct WebexPureTests {
    static let incident = UUID(uuidString: "0b0e7a61-39f6-4c0c-9a59-1f2e3d4c5b6a")!

    static func approvals(approvers: Set<String>, rooms: Set<String> = [], secret: String = "s3cr3t") -> WebexApprovals {
        let client = WebexClient(baseURL: "http://127.0.0.1:9/v1", token: "t", httpClient: HTTPClient.shared)
        let registry = StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: []))
        let notifier = WebexNotifier(client: client, roomID: "room", registry: registry)
        let coordinator = IncidentCoordinator(
            registry: registry, launcher: ScriptedLauncher([:]), resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"),
            notifier: RecordingNotifier(), store: InMemoryIncidentStore()
        )
        return WebexApprovals(client: client, notifier: notifier, coordinator: coordinator,
                              configuration: .init(targetURL: "https://r.example/api/webex/events", secret: secret,
                                                   approvers: approvers, rooms: rooms))
    }

    /// The card of an incident with `analysis`, in `state`.
    static func incidentCard(_ analysis: Analysis?, state: Incident.State = .analysed) -> IncidentCard {
        SampleIncidents.card(id: incident, state: state, analysis: analysis)
    }

    @Test func theButtonsCardHasAButtonPerActionABoxPerDeclaredInputAndTheThreadToAnswerIn() throws {
        var jira = Recipe.fake("jira", .action)
        jira.inputs = ["summary", "priority"]
        let catalog = RecipeCatalog(debugging: [], actions: [jira, .fake("webhook", .action)])
        let card = WebexNotifier.card(incident: Self.incident, actions: ["jira", "webhook"], catalog: catalog, thread: "ROOT")
        #expect(card["type"] == .string("AdaptiveCard") && card["version"] == .string("1.3"))
        let inputs = card["body"]?.arrayValue?.filter { $0["type"] == .string("Input.Text") } ?? []
        #expect(inputs.map { $0["id"]?.stringValue } == ["jira.summary", "jira.priority"])
        let buttons = card["actions"]?.arrayValue ?? []
        #expect(buttons.map { $0["title"]?.stringValue } == ["Run jira", "Run webhook"])
        #expect(buttons.first?["data"] == .object([
            "euphrosyne": .string("approve"), "incident": .string(Self.incident.uuidString.lowercased()), "action": .string("jira"),
            "thread": .string("ROOT"),
        ]))
    }

    @Test func theIncidentMessageSaysItsStateAndNamesActionsPastFiveButtons() throws {
        let names = (1...7).map { "a\($0)" }
        let analysis = Analysis(text: "x **bold**", actions: names, links: ["https://grafana/d/1"], successful: [], shortfalls: [])
        let markdown = WebexNotifier.incidentMarkdown(Self.incidentCard(analysis))
        #expect(markdown.hasPrefix("🟠 **Analysed**: waiting for someone to approve an action"))
        #expect(markdown.contains("Also suggested (approve through the API): a6, a7"))
        #expect(markdown.contains("- [https://grafana/d/1](https://grafana/d/1)"))
        #expect(markdown.contains("x \\*\\*bold\\*\\*"), "outside text is escaped")
        let resolved = WebexNotifier.incidentMarkdown(Self.incidentCard(analysis, state: .resolved))
        #expect(resolved.hasPrefix("🟢 **Resolved**") && !resolved.contains("Also suggested"))
    }

    @Test func textIsCutToWebexsByteLimitOnACharacterBoundary() {
        let long = String(repeating: "é", count: 5_000)  // 10,000 bytes
        let cut = WebexClient.truncated(long)
        #expect(cut.utf8.count <= 7439 && cut.hasSuffix("…(truncated)"))
        #expect(WebexClient.truncated("short") == "short")
        let message = WebexClient.OutgoingMessage(roomId: "r", text: long, markdown: long)
        #expect(message.markdown.utf8.count <= 7439 && message.text.utf8.count <= 7439)
    }

    @Test func theSparkSignatureIsHMACSHA1OfTheRawBody() {
        // The test vector from Webex's "Using a Webhook Secret".
        let approvals = Self.approvals(approvers: [])
        let body = Array(#"{"id":"WH-1","name":"cards","resource":"attachmentActions","event":"created","data":{"id":"ACT-1"}}"#.utf8)
        #expect(approvals.isSignatureValid(body: body, signature: "8ee031d54cbb8eba67de922baeeadb09743a336e"))
        #expect(approvals.isSignatureValid(body: body, signature: "8EE031D54CBB8EBA67DE922BAEEADB09743A336E"))
        #expect(!approvals.isSignatureValid(body: body, signature: "8ee031d54cbb8eba67de922baeeadb09743a336f"))
        #expect(!approvals.isSignatureValid(body: body + [0x20], signature: "8ee031d54cbb8eba67de922baeeadb09743a336e"))
        #expect(!approvals.isSignatureValid(body: body, signature: nil))
        #expect(!approvals.isSignatureValid(body: body, signature: ""))
    }

    @Test func theAllowListTakesEmailsCaseInsensitivelyOrPersonIdsAndOptionallyRooms() {
        let anyRoom = Self.approvals(approvers: ["Alice@Example.com", "PERSON-2"])
        #expect(anyRoom.isAllowed(personID: "P1", email: "alice@example.com", roomID: "R"))
        #expect(anyRoom.isAllowed(personID: "PERSON-2", email: nil, roomID: "R"))
        #expect(!anyRoom.isAllowed(personID: "P3", email: "eve@example.com", roomID: "R"))
        let oneRoom = Self.approvals(approvers: ["alice@example.com"], rooms: ["OPS"])
        #expect(oneRoom.isAllowed(personID: "P1", email: "alice@example.com", roomID: "OPS"))
        #expect(!oneRoom.isAllowed(personID: "P1", email: "alice@example.com", roomID: "OTHER"))
        #expect(!Self.approvals(approvers: []).isAllowed(personID: "P1", email: "alice@example.com", roomID: "OPS"))
    }

    @Test func callbacksAreQueuedOnceAndOtherEventsIgnored() {
        let approvals = Self.approvals(approvers: [])
        let submit = Data(#"{"resource":"attachmentActions","event":"created","data":{"id":"ACT-9"}}"#.utf8)
        #expect(approvals.accept(submit) == .queued)
        #expect(approvals.accept(submit) == .ignored("already received"))
        #expect(approvals.accept(Data(#"{"resource":"messages","event":"created","data":{"id":"M"}}"#.utf8))
            == .ignored("not a card submission"))
        #expect(approvals.accept(Data("[1]".utf8)) == .ignored("the body is not a JSON object"))
        #expect(approvals.accept(Data(#"{"resource":"attachmentActions","event":"created","data":{}}"#.utf8))
            == .ignored("the event has no data.id"))
    }

    @Test func afterShutdownACallbackIsRefusedSoWebexDeliversItAgain() async throws {
        let approvals = Self.approvals(approvers: [])
        try await RunningServer.with(services: [approvals], ports: PortCollector(count: 0)) { _ in }
        let submit = Data(#"{"resource":"attachmentActions","event":"created","data":{"id":"ACT-late"}}"#.utf8)
        #expect(approvals.accept(submit) == .unavailable)
        #expect(approvals.accept(submit) == .unavailable, "not remembered as seen")
    }

    @Test func textFromAlertsAndRecipesCannotMentionPeopleHideLinksOrFormat() {
        let hostile = "<@all> urgent: [approve here](https://evil.example) **now** `rm -rf` # title\n| a | b |"
        let escaped = ChatText.markdown(hostile)
        #expect(!escaped.contains("<@"))
        #expect(escaped.contains("\\[approve here\\]\\(https://evil.example\\)"))
        #expect(escaped.contains("\\*\\*now\\*\\*") && escaped.contains("\\`rm -rf\\`") && escaped.contains("\\# title"))
        // Plain words pass unchanged; a backslash is escaped too, so it cannot undo an escape.
        #expect(ChatText.markdown("pod api-1 OOMKilled: limit 256Mi.") == "pod api-1 OOMKilled: limit 256Mi.")
        #expect(ChatText.markdown("\\[x]") == "\\\\\\[x\\]")
        #expect(ChatText.neutralizingMentions("hi <@personEmail:ceo@example.com>") == "hi <\u{200B}@personEmail:ceo@example.com>")

        // A link shows exactly where it goes; only http(s) is clickable.
        #expect(ChatText.markdownLink("https://grafana.example/d/1?a=b_c") == "[https://grafana.example/d/1?a=b\\_c](https://grafana.example/d/1?a=b_c)")
        #expect(ChatText.markdownLink("https://x.example/a) [click](https://evil") == "[https://x.example/a\\) \\[click\\]\\(https://evil](https://x.example/a%29%20[click]%28https://evil)")
        #expect(ChatText.markdownLink("javascript:alert(1)") == "javascript:alert\\(1\\)")

        // In the incident message, the state line is ours; everything from recipes is escaped.
        let analysis = Analysis(text: "dummy: <@all> see [here](https://evil.example)", actions: [],
                                links: ["https://grafana.example/d/1"], successful: ["dummy"], shortfalls: [])
        let markdown = WebexNotifier.incidentMarkdown(Self.incidentCard(analysis))
        #expect(markdown.hasPrefix("🟡 **Analysed**: nothing to approve · incident `\(Self.incident.uuidString.lowercased())`"))
        #expect(!markdown.contains("<@all>") && !markdown.contains("[here](https://evil.example)"))
    }
}
