import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import Synchronization
import Testing

/// Several chats at once: each gets every notification; one failing neither stops the others nor loses the
/// threads they started.
@Suite struct FanOutNotifierTests {
    struct Broken: Error, CustomStringConvertible {
        var description: String { "the chat is down" }
    }

    /// A chat that starts a thread (keyed by its name) with each analysis, or fails every send.
    final class Chat: Notifier {
        let name: String
        let fails: Bool
        let given = Mutex<[(kind: String, threads: ChatThreads)]>([])

        init(_ name: String, fails: Bool = false) {
            self.name = name
            self.fails = fails
        }

        func send(_ notification: ChatNotification) async throws {}

        func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
            given.withLock { $0.append((notification.kind, threads)) }
            if fails { throw Broken() }
            if case .analysis = notification, threads[name] == nil { return [name: "\(name)-message-1"] }
            return [:]
        }
    }

    static let analysis = ChatNotification.analysis(incident: UUID(), Analysis(text: "fine", actions: [], links: [], successful: [], shortfalls: []))

    @Test func everyChatGetsEachNotificationAndTheirThreadsMerge() async throws {
        let webex = Chat("webex"), slack = Chat("slack"), bot = RecordingNotifier()
        let fanOut = FanOutNotifier([(name: "webex", notifier: webex), (name: "slack", notifier: slack),
                                     (name: "bot", notifier: bot)])
        let started = try await fanOut.send(Self.analysis, threads: [:])
        #expect(started == ["webex": "webex-message-1", "slack": "slack-message-1"])
        #expect(bot.notifications.count == 1)
        // The next notification carries every chat's thread to every chat; each picks its own.
        _ = try await fanOut.send(Self.analysis, threads: started)
        #expect(webex.given.withLock { $0.last?.threads } == started)
    }

    @Test func aFailingChatIsNamedAndTheOthersStillDeliverAndKeepTheirThreads() async throws {
        let webex = Chat("webex"), broken = Chat("bot", fails: true)
        let fanOut = FanOutNotifier([(name: "bot", notifier: broken), (name: "webex", notifier: webex)])
        do {
            _ = try await fanOut.send(Self.analysis, threads: [:])
            Issue.record("a failing chat was not reported")
        } catch let failure as FanOutNotifier.PartialFailure {
            #expect(failure.failures.map(\.name) == ["bot"])
            #expect(failure.started == ["webex": "webex-message-1"])
            #expect("\(failure)" == "bot: the chat is down")
        }
        #expect(webex.given.withLock { $0.count } == 1)
    }

    @Test func theCoordinatorKeepsTheThreadsOfTheChatsThatWorked() async throws {
        let webex = Chat("webex"), broken = Chat("bot", fails: true)
        let store = InMemoryIncidentStore()
        let launcher = ScriptedLauncher(["dummy": .report(analysis: "fine", actions: [], delay: .zero)])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(IncidentCoordinatorTests.catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"),
            notifier: FanOutNotifier([(name: "bot", notifier: broken), (name: "webex", notifier: webex)]),
            store: store, configuration: .init(drainTimeout: .milliseconds(200))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
            let id = try await coordinator.openIncident(payload: ["version": .string("4")]).id
            try await waitUntil("the working chat's thread to be stored") {
                await store.incident(id)?.chatThreads == ["webex": "webex-message-1"]
            }
            #expect(broken.given.withLock { $0.contains { $0.kind == "analysis" } })
        }
    }
}
