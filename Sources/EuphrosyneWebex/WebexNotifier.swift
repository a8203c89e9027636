import EuphrosyneCore
import EuphrosynePorts
import Foundation
import EuphrosyneSupport
import Logging

/// The built-in Webex notifier: posts each analysis to a room as markdown plus an Adaptive Card with one button per
/// suggested action (and a text box per input the action recipe declares), and replies in that message's thread with
/// action outcomes, job states and the resolve. `serve` uses it when `WEBEX_TOKEN` is set; the card buttons come
/// back through `WebexApprovals`.
public final class WebexNotifier: Notifier {
    /// Cards allow at most 5 buttons.
    public static let maxButtons = 5
    /// The card's `data` marker that tells our submissions from other cards in the room.
    public static let submitMarker = "approve"

    let client: WebexClient
    let roomID: String
    let registry: any RecipeRegistry
    let logger: Logger
    /// Incident → the message its thread hangs from (the first analysis), the newest `threadCapacity` kept.
    private let threadRoots: BoundedMemory<UUID, String>

    public init(client: WebexClient, roomID: String, registry: any RecipeRegistry, threadCapacity: Int = 10_000,
                logger: Logger = Logger(label: "euphrosyne.notifier.webex")) {
        self.client = client
        self.roomID = roomID
        self.registry = registry
        threadRoots = BoundedMemory(capacity: threadCapacity)
        self.logger = logger
    }

    /// The key of this chat in an incident's `chatThreads`.
    public static let threadKey = "webex"

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    /// Sends in the incident's thread: the one kept with the incident (`threads["webex"]`, so replies land there
    /// after a restart or on another replica), else the one this process remembers. Returns the thread this send
    /// started, for the incident store.
    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        switch notification {
        case .analysis(let incident, let analysis):
            let catalog = await registry.catalog()
            let card = Self.card(incident: incident, analysis: analysis, catalog: catalog)
            let markdown = Self.analysisMarkdown(incident: incident, analysis: analysis)
            // A later analysis (alerts joined the group) goes into the first one's thread.
            let root = threads[Self.threadKey] ?? threadRoot(of: incident)
            let posted = try await client.post(.init(roomId: roomID, parentId: root, text: markdown, markdown: markdown,
                                                     card: card))
            if root == nil {
                threadRoots.set(posted.id, for: incident)
                return [Self.threadKey: posted.id]
            }
        case .actionOutcome(let incident, let approvalID, let analysis):
            try await reply(incident, "**Outcome of approval \(approvalID)**\n\n\(ChatText.markdown(analysis.text))",
                            threads: threads)
        case .resolved(let incident, let alert, let cancelledRuns):
            try await reply(incident, ChatText.markdown(ChatNotification.resolvedText(alert: alert, cancelledRuns: cancelledRuns)),
                            threads: threads)
        case .jobStatus(let incident, let jobs):
            let lines = jobs.isEmpty ? ["No jobs."] : jobs.map {
                // Job names are Kubernetes names (lowercase letters, digits, '-' and '.'): safe inside backticks.
                "- `\($0.name.filter { $0 != "`" })`: \($0.status.rawValue)"
            }
            let text = "**Jobs**\n\n" + lines.joined(separator: "\n")
            if let incident { try await reply(incident, text, threads: threads) } else {
                _ = try await client.post(.init(roomId: roomID, text: text, markdown: text))
            }
        }
        return [:]
    }

    /// Replies in the message a card submission came from (`WebexApprovals` tells the approver what happened).
    public func reply(toMessage messageID: String, roomID: String, markdown: String) async throws {
        _ = try await client.post(.init(roomId: roomID, parentId: messageID, text: markdown, markdown: markdown))
    }

    /// Posts in the incident's thread; a top-level message only when no thread is known anywhere.
    private func reply(_ incident: UUID, _ markdown: String, threads: ChatThreads) async throws {
        let text = "Incident `\(incident.uuidString.lowercased())`: " + markdown
        let root = threads[Self.threadKey] ?? threadRoot(of: incident)
        _ = try await client.post(.init(roomId: roomID, parentId: root, text: text, markdown: text))
    }

    func threadRoot(of incident: UUID) -> String? {
        threadRoots[incident]
    }

    // MARK: The message and the card (pure, for tests)

    /// The analysis message. Everything in it that came from alerts or recipes is escaped (`ChatText`).
    static func analysisMarkdown(incident: UUID, analysis: Analysis) -> String {
        var markdown = "**Incident `\(incident.uuidString.lowercased())`**\n\n\(ChatText.markdown(analysis.text))"
        if !analysis.links.isEmpty {
            markdown += "\n\n" + analysis.links.map { "- " + ChatText.markdownLink($0) }.joined(separator: "\n")
        }
        if analysis.actions.count > maxButtons {
            let rest = analysis.actions.dropFirst(maxButtons).joined(separator: ", ")
            markdown += "\n\nAlso suggested (approve through the API): \(rest)"
        }
        return markdown
    }

    /// One `Action.Submit` per suggested action (at most 5) carrying the incident and the action, and one
    /// `Input.Text` per input the action recipe declares, with id `<action>.<input>`. Nil when nothing was suggested.
    static func card(incident: UUID, analysis: Analysis, catalog: RecipeCatalog) -> JSONValue? {
        let actions = Array(analysis.actions.prefix(maxButtons))
        guard !actions.isEmpty else { return nil }
        var body: [JSONValue] = [
            .object(["type": .string("TextBlock"), "text": .string("Approve an action for incident \(incident.uuidString.lowercased().prefix(8))"),
                     "weight": .string("Bolder"), "size": .string("Medium"), "wrap": .bool(true)]),
        ]
        for action in actions {
            for input in catalog.action(named: action)?.inputs ?? [] {
                body.append(.object([
                    "type": .string("Input.Text"), "id": .string("\(action).\(input)"), "label": .string("\(action): \(input)"),
                    "isMultiline": .bool(false),
                ]))
            }
        }
        let buttons: [JSONValue] = actions.map { action in
            .object([
                "type": .string("Action.Submit"), "title": .string("Run \(action)"),
                "data": .object([
                    "euphrosyne": .string(submitMarker), "incident": .string(incident.uuidString.lowercased()),
                    "action": .string(action),
                ]),
            ])
        }
        return .object([
            "type": .string("AdaptiveCard"), "$schema": .string("http://adaptivecards.io/schemas/adaptive-card.json"), "version": .string("1.3"),
            "body": .array(body), "actions": .array(buttons),
        ])
    }
}
