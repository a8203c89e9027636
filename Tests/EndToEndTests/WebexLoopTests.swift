import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneSupport
import EuphrosyneTestSupport
import EuphrosyneWebex
import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing

/// The built-in Webex integration against the fake Webex API: the card goes out, a signed card submission comes
/// back over HTTP, the action runs and the outcome is replied in the card's thread.
@Suite struct WebexLoopTests {
    static let room = "ROOM-OPS"
    static let quickRetry = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(20), maxDelay: .milliseconds(200))

    /// The reconciler's side: coordinator, Webex notifier and approvals, and the API listener on port 0.
    struct Reconciler {
        let coordinator: IncidentCoordinator
        let launcher: ScriptedLauncher
        let notifier: WebexNotifier
        let approvals: WebexApprovals
        let api: Application<RouterResponder<BasicRequestContext>>
    }

    static func reconciler(webexPort: Int, fake: FakeWebex, approvers: Set<String>, apiPorts: PortCollector,
                           clock: any Clock<Duration>) -> Reconciler {
        var quickRetry = Self.quickRetry
        quickRetry.clock = clock
        var jira = Recipe.fake("jira", .action)
        jira.inputs = ["summary"]
        let registry = StaticRecipeRegistry(RecipeCatalog(debugging: [.fake("dummy")], actions: [jira]))
        let launcher = ScriptedLauncher([
            "dummy": .report(analysis: "pods are crash-looping", actions: ["jira"], delay: .zero),
            "jira": .report(analysis: "OPS-7 opened", actions: [], delay: .zero),
        ])
        let client = WebexClient(baseURL: FakeWebex.baseURL(port: webexPort), token: fake.botToken,
                                 httpClient: .shared, retry: quickRetry)
        let notifier = WebexNotifier(client: client, roomID: room, registry: registry)
        let coordinator = IncidentCoordinator(
            registry: registry, launcher: launcher, resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"),
            notifier: notifier, store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .milliseconds(200))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        let approvals = WebexApprovals(
            client: client, notifier: notifier, coordinator: coordinator,
            configuration: .init(targetURL: "http://127.0.0.1:9/unset", secret: "whsec-test", approvers: approvers),
            retry: quickRetry
        )
        var logger = Logger(label: "webex-loop")
        logger.logLevel = .warning
        let api = Application(
            router: Listeners.apiRouter(coordinator: coordinator, readiness: Readiness(),
                                        routes: [WebexRoutes(approvals: approvals)]),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in await apiPorts.set(0, channel.localAddress?.port ?? 0) },
            logger: logger
        )
        return Reconciler(coordinator: coordinator, launcher: launcher, notifier: notifier, approvals: approvals, api: api)
    }

    /// Runs the fake Webex, then the reconciler's listener and coordinator, then (once the callback URL is known)
    /// the approvals service, around `body`.
    static func withLoop(
        approvers: Set<String>, prepare: @Sendable (FakeWebex) -> Void = { _ in },
        beforeRegistration: @escaping @Sendable (FakeWebex, String) -> Void = { _, _ in },
        clock: any Clock<Duration> = ContinuousClock(),
        duringRegistration: @escaping @Sendable (FakeWebex) async throws -> Void = { _ in },
        _ body: @escaping @Sendable (FakeWebex, Reconciler, String) async throws -> Void
    ) async throws {
        let fake = FakeWebex()
        prepare(fake)
        try await RunningServer.with([fake.router]) { webexPorts in
            let apiPorts = PortCollector(count: 1)
            let reconciler = reconciler(webexPort: webexPorts[0], fake: fake, approvers: approvers, apiPorts: apiPorts,
                                        clock: clock)
            try await RunningServer.with(services: [reconciler.coordinator, reconciler.api], ports: apiPorts) { ports in
                let target = "http://127.0.0.1:\(ports[0])/api/webex/events"
                reconciler.approvals.setTargetURL(target)
                beforeRegistration(fake, target)
                try await RunningServer.with(services: [reconciler.approvals], ports: PortCollector(count: 0)) { _ in
                    try await duringRegistration(fake)
                    try await waitUntil("the webhook to be registered") { reconciler.approvals.isWebhookRegistered }
                    try await body(fake, reconciler, target)
                }
            }
        }
    }

    /// What Webex sends for a click on `action`'s button of `card`: the button's data and what was typed.
    static func submit(_ card: FakeWebex.Message, _ action: String = "jira", summary: String) -> [String: JSONValue] {
        let buttons = card.attachments?.arrayValue?.first?["content"]?["actions"]?.arrayValue ?? []
        var inputs = buttons.first { $0["data"]?["action"]?.stringValue == action }?["data"]?.objectValue ?? [:]
        inputs["\(action).summary"] = .string(summary)
        return inputs
    }

    @Test func aCardClickRunsTheActionOnceAndTheOutcomeIsRepliedInTheThread() async throws {
        let people = PersonIDs()
        try await Self.withLoop(approvers: ["Alice@Example.com"], prepare: { fake in
            people.alice = fake.addPerson(email: "alice@example.com", displayName: "Alice")
            people.eve = fake.addPerson(email: "eve@example.com", displayName: "Eve")
        }) { fake, reconciler, target in
            let registered = try #require(fake.webhooks.first)
            #expect(fake.webhooks.count == 1)
            #expect(registered.targetUrl == target && registered.resource == "attachmentActions"
                && registered.event == "created" && registered.secret == "whsec-test" && registered.status == "active")

            let incident = try await reconciler.coordinator.openIncident(payload: ["version": .string("4")])
            try await waitUntil("the analysis card") { fake.messages.contains { $0.attachments != nil } }
            let card = try #require(fake.messages.first { $0.attachments != nil })
            let root = try #require(fake.messages.first { $0.parentId == nil })
            #expect(card.roomId == Self.room && card.parentId == root.id, "the buttons are in the incident's thread")
            #expect(root.markdown?.contains("pods are crash-looping") == true && root.markdown?.contains("**Analysed**") == true)
            let content = card.attachments?.arrayValue?.first?["content"]
            #expect(content?["actions"]?.arrayValue?.first?["title"] == .string("Run jira"))
            #expect(content?["body"]?.arrayValue?.contains { $0["id"] == .string("jira.summary") } == true)
            let rootID = root.id
            @Sendable func replies() -> [FakeWebex.Message] { fake.messages.filter { $0.parentId == rootID } }

            // Someone off the allow-list: refused, told so in the thread, audited.
            let byEve = try await fake.submitCard(messageID: card.id, personID: people.eve,
                                                  inputs: Self.submit(card, summary: "from eve"))
            #expect(byEve.statuses == [202])
            try await waitUntil("the refusal in the thread") { replies().contains { $0.markdown?.contains("may not approve") == true } }
            let audited = try await reconciler.coordinator.incident(incident.id)?.approvalAttempts ?? []
            #expect(audited.map(\.outcome) == [.refused] && audited.first?.by == "webex:eve@example.com")
            #expect(reconciler.launcher.requests.allSatisfy { $0.recipe.name != "jira" })

            // A wrong signature never gets in.
            let forged = try await fake.submitCard(messageID: card.id, personID: people.alice,
                                                   inputs: Self.submit(card, summary: "forged"),
                                                   signatureOverride: "0000000000000000000000000000000000000000")
            #expect(forged.statuses == [401])

            // Alice approves, with the summary typed into the card.
            let byAlice = try await fake.submitCard(messageID: card.id, personID: people.alice,
                                                    inputs: Self.submit(card, summary: "API down"))
            #expect(byAlice.statuses == [202])
            try await waitUntil("the approval in the thread") { replies().contains { $0.markdown?.contains("approved `jira`") == true } }
            try await waitUntil("the outcome in the thread") {
                replies().contains { $0.markdown?.contains("Outcome of approval 1") == true && $0.markdown?.contains("OPS-7 opened") == true }
            }
            let jira = try #require(reconciler.launcher.requests.first { $0.recipe.name == "jira" })
            #expect(jira.run.actionData == ["summary": .string("API down")])

            // A second click: answered from the thread, not run again.
            _ = try await fake.submitCard(messageID: card.id, personID: people.alice,
                                          inputs: Self.submit(card, summary: "again"))
            try await waitUntil("the repeat answer") { replies().contains { $0.markdown?.contains("already approved") == true } }
            #expect(reconciler.launcher.requests.filter { $0.recipe.name == "jira" }.count == 1)
            let attempts = try await reconciler.coordinator.incident(incident.id)?.approvalAttempts ?? []
            #expect(attempts.map(\.outcome) == [.refused, .approved, .duplicate])
            #expect(attempts.dropFirst().allSatisfy { $0.by == "webex:alice@example.com" })
        }
    }

    @Test func startUpRepairsTheWebhookAfterWaitingOutA429() async throws {
        // Pauses on a manual clock: the test moves it past Retry-After, and no wall-clock second passes.
        let clock = ManualClock()
        try await Self.withLoop(approvers: [], beforeRegistration: { fake, target in
            fake.failNext(1, status: 429, retryAfterSeconds: 5, pathPrefix: "/v1/webhooks")
            // Ours, disabled by Webex after failed deliveries and with an old secret; a duplicate; someone else's.
            _ = fake.seedWebhook(name: "euphrosyne-approvals", targetUrl: target, resource: "attachmentActions",
                                 event: "created", secret: "old", status: "inactive")
            _ = fake.seedWebhook(name: "euphrosyne-approvals", targetUrl: target, resource: "attachmentActions",
                                 event: "created", secret: "old", status: "active")
            _ = fake.seedWebhook(name: "someone-else", targetUrl: "https://other.example/hook",
                                 resource: "attachmentActions", event: "created", secret: "x", status: "active")
        }, clock: clock, duringRegistration: { fake in
            try await waitUntil("the pause after the 429") { clock.sleepers == 1 }
            clock.advance(by: .milliseconds(4_999))
            #expect(clock.sleepers == 1, "Retry-After (5 s) is honoured, not the 20 ms back-off")
            #expect(fake.requestLog.map(\.status) == [429])
            clock.advance(by: .milliseconds(1))
        }) { fake, _, target in
            #expect(fake.requestLog.first?.status == 429)
            let ours = fake.webhooks.filter { $0.targetUrl == target }
            #expect(ours.count == 1)
            #expect(ours.first?.secret == "whsec-test" && ours.first?.status == "active")
            #expect(fake.webhooks.contains { $0.name == "someone-else" }, "a webhook of someone else is left alone")
        }
    }
}

/// The person ids `prepare` creates, for the test body.
final class PersonIDs: Sendable {
    private let ids = Mutex<(alice: String, eve: String)>(("", ""))
    var alice: String {
        get { ids.withLock { $0.alice } }
        set { ids.withLock { $0.alice = newValue } }
    }
    var eve: String {
        get { ids.withLock { $0.eve } }
        set { ids.withLock { $0.eve = newValue } }
    }
}
