import EuphrosyneCore
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Testing

@testable import EuphrosyneEngine

/// The one chat message per incident: the card as a value, the mailbox that sends one incident's cards one at a
/// time and newest first, and the coordinator sending a card whenever what the chats show changed, once.
@Suite struct IncidentCardTests {
    static let catalog = RecipeCatalog(debugging: [.fake("dummy")], actions: [.fake("jira", .action)])

    @Test func theCardFollowsTheIncidentsStateAndOffersActionsOnlyWhileTheyCanBeApproved() {
        let analysis = Analysis(text: "a", actions: ["jira"], links: [], successful: ["dummy"], shortfalls: [])
        var incident = SampleIncidents.incident(alerts: [["pod": "a"], ["pod": "b"]], state: .received, recipes: ["dummy"])
        let expected: [(Incident.State, IncidentCard.Stage, [String])] = [
            (.received, .diagnosing, []), (.diagnosing, .diagnosing, []), (.analysed, .analysed, ["jira"]),
            (.acting, .acting, ["jira"]), (.done, .done, ["jira"]), (.resolved, .resolved, []), (.failed, .failed, []),
            (.expired, .expired, []),
        ]
        for (state, stage, approvable) in expected {
            incident.state = state
            incident.analysis = state == .received || state == .diagnosing ? nil : analysis
            let card = IncidentCard(incident)
            #expect(card.stage == stage && card.approvable == approvable, "\(state)")
        }
        let card = IncidentCard(incident)
        #expect(card.firingAlerts == 2 && card.alertLines == ["PodCrashLooping pod=a", "PodCrashLooping pod=b"])
        #expect(card.labelSets.map { $0["pod"] } == ["a", "b"])
        #expect(card.debuggingRecipes == ["dummy"])
    }

    @Test func theKeyIsStableAndChangesWithWhatTheMessageShows() {
        let id = UUID()
        let one = SampleIncidents.card(id: id, state: .analysed)
        #expect(one.key == SampleIncidents.card(id: id, state: .analysed).key, "the same in every process")
        #expect(one.key.hasPrefix("analysed:"))
        #expect(one.key != SampleIncidents.card(id: id, state: .resolved).key)
        #expect(one.key != SampleIncidents.card(id: id, alerts: [[:], ["pod": "b"]], state: .analysed).key)
        // What the message does not show (when it was saved, its revision) does not change it.
        var incident = SampleIncidents.incident(id: id, state: .analysed)
        incident.revision += 3
        incident.updatedAt = incident.updatedAt.addingTimeInterval(60)
        #expect(IncidentCard(incident).key == one.key)
        // A run starting is no edit; a run ending is.
        var diagnosing = SampleIncidents.incident(id: id, state: .diagnosing, recipes: ["dummy"])
        diagnosing.runs[0].state = .pending
        let pending = IncidentCard(diagnosing).key
        diagnosing.runs[0].state = .running
        #expect(IncidentCard(diagnosing).key == pending)
        diagnosing.runs[0].state = .reported
        #expect(IncidentCard(diagnosing).key != pending)
    }

    @Test func theMailboxKeepsOneSenderPerIncidentAndOnlyTheNewestCard() {
        let mailbox = CardMailbox()
        let id = UUID()
        let diagnosing = SampleIncidents.card(id: id, state: .diagnosing)
        let analysed = SampleIncidents.card(id: id, state: .analysed)
        let resolved = SampleIncidents.card(id: id, state: .resolved)
        #expect(mailbox.offer(diagnosing, key: diagnosing.key), "no sender yet: start one")
        #expect(!mailbox.offer(diagnosing, key: diagnosing.key), "the same card again")
        #expect(mailbox.next(id)?.card == diagnosing)
        // While it is being sent, two more arrive: only the newest waits.
        #expect(!mailbox.offer(analysed, key: analysed.key))
        #expect(!mailbox.offer(resolved, key: resolved.key))
        #expect(mailbox.next(id)?.card == resolved)
        #expect(mailbox.next(id) == nil, "nothing waits: the sender stops")
        #expect(mailbox.sending == 0)
        #expect(!mailbox.offer(resolved, key: resolved.key), "the card last sent, offered again by a late save")
        #expect(mailbox.offer(analysed, key: analysed.key), "a change starts a sender again")
    }

    @Test func theMailboxRemembersOnlySoManyIncidentsWithoutASender() {
        let mailbox = CardMailbox(idleCapacity: 3)
        for _ in 0..<20 {
            let card = SampleIncidents.card(state: .analysed)
            #expect(mailbox.offer(card, key: card.key))
            _ = mailbox.next(card.incident)
            #expect(mailbox.next(card.incident) == nil)
        }
        #expect(mailbox.remembered <= 6 && mailbox.sending == 0)
    }

    /// A coordinator whose only chat records cards.
    static func coordinator(_ launcher: ScriptedLauncher, _ notifier: CardRecordingNotifier,
                            store: any IncidentStore = InMemoryIncidentStore()) -> IncidentCoordinator {
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier, store: store,
            configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .seconds(5))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        return coordinator
    }

    @Test func eachChangeTheChatsShowIsSentOnceInOrderAndTheMessageIsKeptWithTheIncident() async throws {
        let launcher = ScriptedLauncher([
            "dummy": .report(analysis: "found it", actions: ["jira"], delay: .zero),
            "jira": .report(analysis: "OPS-1", actions: [], delay: .zero),
        ])
        let notifier = CardRecordingNotifier()
        let coordinator = Self.coordinator(launcher, notifier)
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: .unique).id
            try await waitUntil("the analysed card") { notifier.cards(for: id).last?.stage == .analysed }
            _ = try await coordinator.approve(incident: id, ApprovalRequest(actions: [ActionRequest(name: "jira")]))
            try await waitUntil("the done card") { notifier.cards(for: id).last?.stage == .done }
            let cards = notifier.cards(for: id)
            #expect(cards.first?.stage == .diagnosing)
            #expect(zip(cards, cards.dropFirst()).allSatisfy { $0.key != $1.key }, "no card twice in a row")
            let order = cards.map(\.stage).reduce(into: [IncidentCard.Stage]()) { if $0.last != $1 { $0.append($1) } }
            #expect(order == [.diagnosing, .analysed, .acting, .done])
            #expect(cards.last?.approvals.first?.result == .succeeded)
            // Posted once: every later card went to that message.
            #expect(notifier.threadsSeen.first == [:])
            #expect(notifier.threadsSeen.dropFirst().allSatisfy { $0["card"] == "card-1" })
            try await waitUntil("the last card recorded as shown") {
                try await coordinator.incident(id)?.chatCard == cards.last?.key
            }
            #expect(try await coordinator.incident(id)?.chatThreads["card"] == "card-1")
        }
    }

    @Test func cardsPiledUpBehindASlowChatBecomeOneEdit() async throws {
        let launcher = ScriptedLauncher(["dummy": .report(analysis: "found it", actions: ["jira"], delay: .zero)])
        let notifier = CardRecordingNotifier()
        notifier.hold()
        let coordinator = Self.coordinator(launcher, notifier)
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: .unique).id
            try await waitUntil("the first card to wait") { notifier.waitingSends == 1 }
            try await waitUntil("the analysis") { try await coordinator.incident(id)?.state == .analysed }
            notifier.release()
            try await waitUntil("the analysed card") { notifier.cards(for: id).last?.stage == .analysed }
            #expect(notifier.cards(for: id).map(\.stage) == [.diagnosing, .analysed],
                    "the changes made while the first card was on its way are one card")
        }
    }

    @Test func aLeaderTakingOverSendsOnlyTheCardsTheChatsDoNotShowYet() async throws {
        let store = DurableTestStore()
        let first = CardRecordingNotifier()
        let firstCoordinator = Self.coordinator(ScriptedLauncher(["dummy": .report(analysis: "a", actions: ["jira"], delay: .zero)]),
                                                first, store: store)
        let (shown, behind) = try await RunningServer.with(services: [firstCoordinator], ports: PortCollector(count: 0)) { _ in
            let shown = try await firstCoordinator.openIncident(payload: .unique).id
            let behind = try await firstCoordinator.openIncident(payload: .unique).id
            for id in [shown, behind] {
                try await waitUntil("the analysed card shown") {
                    let incident = try await firstCoordinator.incident(id)
                    return incident?.state == .analysed && incident?.chatCard == incident.map { IncidentCard($0).key }
                }
            }
            return (shown, behind)
        }
        // The previous leader stopped before the chats showed the latest state of one of them.
        var behindStored = try #require(try await store.incident(behind))
        behindStored.chatCard = "diagnosing:0000000000000000"
        behindStored.revision += 1
        try await store.save(behindStored)
        let stale = behindStored

        let second = CardRecordingNotifier()
        let secondCoordinator = Self.coordinator(ScriptedLauncher([:]), second, store: store)
        try await RunningServer.with(services: [secondCoordinator], ports: PortCollector(count: 0)) { _ in
            try await waitUntil("the card that was behind") { !second.cards(for: behind).isEmpty }
            #expect(second.cards(for: behind).map(\.stage) == [.analysed])
            #expect(second.threadsSeen.first?["card"] == stale.chatThreads["card"], "into the message the incident keeps")
            #expect(stale.chatThreads["card"] != nil)
            #expect(second.cards(for: shown).isEmpty, "the chats show it already")
        }
    }
}

/// The changes the dashboard follows: every subscriber gets each saved change, a slow one keeps the newest, and a
/// subscriber that goes away is forgotten.
@Suite struct IncidentChangesTests {
    static func change(_ revision: Int) -> IncidentChange {
        IncidentChange(id: UUID(uuidString: "6f1d2c3b-4a59-4e6d-8f70-81928374a5b6")!, state: .analysed, revision: revision)
    }

    @Test func eachSubscriberGetsEachChangeAndASlowOneKeepsTheNewest() async {
        let changes = IncidentChanges(bufferSize: 2)
        let fast = changes.subscribe()
        let slow = changes.subscribe()
        #expect(changes.subscriberCount == 2)
        var fastIterator = fast.makeAsyncIterator()
        changes.publish(Self.change(1))
        #expect(await fastIterator.next()?.revision == 1)
        changes.publish(Self.change(2))
        changes.publish(Self.change(3))
        var slowIterator = slow.makeAsyncIterator()
        #expect(await slowIterator.next()?.revision == 2, "the oldest (1) gave way")
        #expect(await slowIterator.next()?.revision == 3)
    }

    @Test func aSubscriberThatGoesAwayIsForgotten() async throws {
        let changes = IncidentChanges()
        let task = Task {
            for await _ in changes.subscribe() {}
        }
        try await waitUntil("the subscription") { changes.subscriberCount == 1 }
        task.cancel()
        try await waitUntil("the subscription to end") { changes.subscriberCount == 0 }
        _ = await task.value
    }
}
