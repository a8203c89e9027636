import EuphrosyneCore
import EuphrosynePorts
import Foundation
import EuphrosyneSupport
import Logging

/// The built-in Webex notifier: one message per incident, posted when the incident opens (to the room its route
/// names, else the default room) and edited in place as it moves on; the buttons are an Adaptive Card posted as a
/// reply in its thread (Webex cannot edit a message with a card), replaced when the actions change and deleted
/// once the incident closes. Action outcomes and job states are replies in the thread. `serve` uses it when
/// `WEBEX_TOKEN` is set; the card buttons come back through `WebexApprovals`.
public final class WebexNotifier: Notifier {
    /// Cards allow at most 5 buttons.
    public static let maxButtons = 5
    /// Webex refuses the 11th edit of a message; past that, states are posted as replies in the thread.
    public static let maxEdits = 10
    /// The card's `data` marker that tells our submissions from other cards in the room.
    public static let submitMarker = "approve"

    /// The keys of this chat in an incident's `chatThreads`: its message (the thread), the room, the edits made,
    /// the buttons card and the actions it offers.
    public static let threadKey = "webex"
    static let roomKey = "webex.room"
    static let editsKey = "webex.edits"
    static let buttonsKey = "webex.buttons"
    static let buttonsForKey = "webex.buttons.for"

    let client: WebexClient
    let roomID: String
    let routes: ChatRoutes
    let registry: any RecipeRegistry
    let logger: Logger
    /// Incident → what this process posted for it (the incident store keeps it too), the newest `threadCapacity`.
    private let posted: BoundedMemory<UUID, ChatThreads>

    public init(client: WebexClient, roomID: String, routes: ChatRoutes = ChatRoutes(), registry: any RecipeRegistry,
                threadCapacity: Int = 10_000, logger: Logger = Logger(label: "euphrosyne.notifier.webex")) {
        self.client = client
        self.roomID = roomID
        self.routes = routes
        self.registry = registry
        posted = BoundedMemory(capacity: threadCapacity)
        self.logger = logger
    }

    public var followsIncidents: Bool { true }

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    /// Sends in the incident's thread: the one kept with the incident (`threads`, so replies land there after a
    /// restart or on another replica), else the one this process remembers. Returns what this send changed.
    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        let known = threads[Self.threadKey] != nil ? threads : notification.incidentID.flatMap { posted[$0] } ?? threads
        switch notification {
        case .incident(let card):
            let changed = try await show(card, threads: known)
            posted.set(known.applying(changed), for: card.incident)
            return changed
        case .analysis, .resolved:
            // The incident's message shows them; nothing is posted anew.
            return [:]
        case .actionOutcome(let incident, let approvalID, let analysis):
            try await reply(incident, "**Outcome of approval \(approvalID)**\n\n\(ChatText.markdown(analysis.text))", threads: known)
        case .jobStatus(let incident, let jobs):
            let lines = jobs.isEmpty ? ["No jobs."] : jobs.map {
                // Job names are Kubernetes names (lowercase letters, digits, '-' and '.'): safe inside backticks.
                "- `\($0.name.filter { $0 != "`" })`: \($0.status.rawValue)"
            }
            let text = "**Jobs**\n\n" + lines.joined(separator: "\n")
            if let incident { try await reply(incident, text, threads: known) } else {
                _ = try await client.post(.init(roomId: roomID, text: text, markdown: text))
            }
        }
        return [:]
    }

    /// Shows `card`: edits the incident's message (posts it when there is none, and as a reply in its thread once
    /// Webex allows no more edits), then makes the buttons card offer exactly the actions still approvable.
    private func show(_ card: IncidentCard, threads: ChatThreads) async throws -> ChatThreads {
        var changed: ChatThreads = [:]
        let markdown = Self.incidentMarkdown(card)
        var room = threads[Self.roomKey] ?? roomID
        var root = threads[Self.threadKey]
        if let message = root {
            let edits = Int(threads[Self.editsKey] ?? "") ?? 0
            if edits < Self.maxEdits, try await edited(message, room: room, markdown: markdown) {
                changed[Self.editsKey] = String(edits + 1)
            } else {
                _ = try await client.post(.init(roomId: room, parentId: message, text: markdown, markdown: markdown))
                changed[Self.editsKey] = String(Self.maxEdits)
            }
        } else {
            room = routes.destination(in: Self.threadKey, for: card) ?? roomID
            let message = try await client.post(.init(roomId: room, text: markdown, markdown: markdown))
            root = message.id
            changed = [Self.threadKey: message.id, Self.roomKey: room, Self.editsKey: "0"]
        }
        guard let root else { return changed }
        let actions = Array(card.approvable.prefix(Self.maxButtons))
        let offered = actions.joined(separator: "\n")
        guard offered != (threads[Self.buttonsForKey] ?? "") else { return changed }
        if let old = threads[Self.buttonsKey] {
            try await client.deleteMessage(id: old)
            changed[Self.buttonsKey] = ""
            changed[Self.buttonsForKey] = ""
        }
        if !actions.isEmpty {
            let catalog = await registry.catalog()
            let buttons = Self.card(incident: card.incident, actions: actions, catalog: catalog, thread: root)
            let text = "Approve an action for incident \(card.incident.uuidString.lowercased())"
            let message = try await client.post(.init(roomId: room, parentId: root, text: text, markdown: text, card: buttons))
            changed[Self.buttonsKey] = message.id
            changed[Self.buttonsForKey] = offered
        }
        return changed
    }

    /// Edits the message; false when Webex refused (the edit limit, a message that has a card or is gone), after
    /// which the state goes into the thread instead. Other failures (Webex unreachable) are thrown.
    private func edited(_ message: String, room: String, markdown: String) async throws -> Bool {
        do {
            _ = try await client.edit(messageID: message, roomID: room, markdown: markdown)
            return true
        } catch let error as WebexError where error.code == .refused {
            logger.warning("cannot edit the incident's Webex message; replying in its thread instead", metadata: [
                "error": "\(error)",
            ])
            return false
        }
    }

    /// Replies in the message a card submission came from (`WebexApprovals` tells the approver what happened).
    public func reply(toMessage messageID: String, roomID: String, markdown: String) async throws {
        _ = try await client.post(.init(roomId: roomID, parentId: messageID, text: markdown, markdown: markdown))
    }

    /// Posts in the incident's thread; a top-level message in the default room only when no thread is known.
    private func reply(_ incident: UUID, _ markdown: String, threads: ChatThreads) async throws {
        let text = "Incident `\(incident.uuidString.lowercased())`: " + markdown
        _ = try await client.post(.init(roomId: threads[Self.roomKey] ?? roomID, parentId: threads[Self.threadKey],
                                        text: text, markdown: text))
    }

    // MARK: The message and the card (pure, for tests)

    /// The incident's message: the state line (ours), then what came from alerts and recipes, escaped
    /// (`ChatText`): the alert, its group, the runs, the analysis, links, approvals, why it closed.
    static func incidentMarkdown(_ card: IncidentCard) -> String {
        let id = card.incident.uuidString.lowercased()
        var parts = ["\(card.colourMark) **\(card.stage.title)**: \(card.stateDetail) · incident `\(id)`",
                     ChatText.markdown(card.alert)]
        if let alerts = card.alertsText {
            parts.append(alerts.split(separator: "\n").map { "- " + ChatText.markdown(String($0)) }.joined(separator: "\n"))
        }
        if let runs = card.runsLine { parts.append(ChatText.markdown(runs)) }
        if let analysis = card.analysis {
            parts.append(ChatText.markdown(analysis.text))
            if !analysis.links.isEmpty {
                parts.append(analysis.links.map { "- " + ChatText.markdownLink($0) }.joined(separator: "\n"))
            }
        }
        if !card.approvalLines.isEmpty {
            parts.append(card.approvalLines.map { "- " + ChatText.markdown($0) }.joined(separator: "\n"))
        }
        if let reason = card.closedReason, card.stage == .failed || card.stage == .expired {
            parts.append(ChatText.markdown(reason))
        }
        if card.approvable.count > maxButtons {
            let rest = card.approvable.dropFirst(maxButtons).joined(separator: ", ")
            parts.append("Also suggested (approve through the API): \(ChatText.markdown(rest))")
        }
        return parts.joined(separator: "\n\n")
    }

    /// One `Action.Submit` per action (at most 5) carrying the incident, the action and the thread to answer in,
    /// and one `Input.Text` per input the action recipe declares, with id `<action>.<input>`.
    static func card(incident: UUID, actions: [String], catalog: RecipeCatalog, thread: String) -> JSONValue {
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
                    "action": .string(action), "thread": .string(thread),
                ]),
            ])
        }
        return .object([
            "type": .string("AdaptiveCard"), "$schema": .string("http://adaptivecards.io/schemas/adaptive-card.json"), "version": .string("1.3"),
            "body": .array(body), "actions": .array(buttons),
        ])
    }
}
