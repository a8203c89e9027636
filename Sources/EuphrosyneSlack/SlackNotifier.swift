import EuphrosyneCore
import EuphrosynePorts
import Foundation
import EuphrosyneSupport
import Logging

/// The built-in Slack notifier: one message per incident, posted when the incident opens (to the channel its route
/// names, else the default channel) and edited in place as it moves on — its state line and colour, the alerts of
/// its group, the analysis, a button per action that can still be approved (none once it closed). Action outcomes and
/// job states are replies in that message's thread. The buttons come back through `SlackApprovals`.
public final class SlackNotifier: Notifier {
    /// The keys of this chat in an incident's `chatThreads`: the incident message's `ts` and its channel.
    public static let threadKey = "slack"
    public static let channelKey = "slack.channel"

    let client: SlackClient
    /// The default channel.
    public let channel: String
    let routes: ChatRoutes
    let registry: (any RecipeRegistry)?
    let logger: Logger
    /// Incident → its message, the newest `threadCapacity` kept (the incident store keeps them too, for restarts
    /// and other replicas).
    private let messages: BoundedMemory<UUID, SlackClient.MessageReference>

    /// - Parameter registry: where the actions' declared inputs are read, for the message's input fields.
    public init(client: SlackClient, channel: String, routes: ChatRoutes = ChatRoutes(),
                registry: (any RecipeRegistry)? = nil, threadCapacity: Int = 10_000,
                logger: Logger = Logger(label: "euphrosyne.notifier.slack")) {
        self.client = client
        self.channel = channel
        self.routes = routes
        self.registry = registry
        messages = BoundedMemory(capacity: threadCapacity)
        self.logger = logger
    }

    public var followsIncidents: Bool { true }

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        switch notification {
        case .incident(let card):
            return try await show(card, threads: threads)
        case .analysis, .resolved:
            // The incident's message shows them (its card); nothing is posted anew.
            return [:]
        case .actionOutcome(let incident, let approvalID, let analysis):
            try await reply(incident, heading: "*Outcome of approval \(approvalID)*", body: analysis.text, threads: threads)
        case .jobStatus(let incident, let jobs):
            let lines = jobs.isEmpty ? "No jobs." : jobs.map { "\($0.name): \($0.status.rawValue)" }.joined(separator: "\n")
            if let incident {
                try await reply(incident, heading: "*Jobs*", body: lines, threads: threads)
            } else {
                _ = try await client.postMessage(channel: channel, text: "Jobs",
                                                 blocks: [SlackMessages.section(mrkdwn: "*Jobs*"), SlackMessages.section(plain: lines)])
            }
        }
        return [:]
    }

    /// Edits the incident's message to show `card`, or posts it when the incident has none (or Slack no longer
    /// lets us edit it); returns the message it posted.
    private func show(_ card: IncidentCard, threads: ChatThreads) async throws -> ChatThreads {
        let catalog = await registry?.catalog()
        let text = SlackMessages.incidentText(card)
        let blocks = SlackMessages.incidentBlocks(card, catalog: catalog)
        let attachments = SlackMessages.incidentAttachments(card)
        if let message = message(of: card.incident, threads: threads) {
            do {
                _ = try await client.update(message, text: text, blocks: blocks, attachments: attachments)
                return [:]
            } catch let error as SlackError where Self.cannotEdit.contains(error.error) {
                logger.warning("cannot edit the incident's Slack message; posting it again", metadata: [
                    "incident": "\(card.incident.uuidString.lowercased())", "error": "\(error)",
                ])
            }
        }
        let destination = routes.destination(in: Self.threadKey, for: card) ?? channel
        let posted = try await client.postMessage(channel: destination, text: text, blocks: blocks, attachments: attachments)
        messages.set(posted, for: card.incident)
        return [Self.threadKey: posted.ts, Self.channelKey: posted.channel]
    }

    /// Slack's answers that mean the message cannot be edited any more (deleted, too old, not ours).
    static let cannotEdit: Set<String> = ["message_not_found", "cant_update_message", "edit_window_closed"]

    /// Replies in the thread of `message` in `channel` (`SlackApprovals` tells the approver what became of a click).
    public func reply(toMessage ts: String, channel: String, text: String) async throws {
        _ = try await client.postMessage(channel: channel, text: SlackMessages.escaped(text),
                                         blocks: [SlackMessages.section(plain: text)], threadTS: ts)
    }

    /// Posts in the incident's thread (a top-level message in the default channel only when no message is known
    /// anywhere): a heading of ours in mrkdwn, then `body`, which came from recipes or alerts, as plain text.
    private func reply(_ incident: UUID, heading: String, body: String, threads: ChatThreads) async throws {
        let root = message(of: incident, threads: threads)
        let chunks = SlackMessages.chunked(body.isEmpty ? "(empty)" : body, size: SlackMessages.maxSectionText)
            .prefix(SlackMessages.maxTextSections)
        _ = try await client.postMessage(
            channel: root?.channel ?? channel,
            text: "Incident \(incident.uuidString.lowercased()): " + SlackMessages.escaped(String(body.prefix(300))),
            blocks: [SlackMessages.section(mrkdwn: "\(heading) for incident `\(incident.uuidString.lowercased())`")]
                + chunks.map(SlackMessages.section(plain:)),
            threadTS: root?.ts
        )
    }

    /// The incident's message: as the incident records it, else as this process remembers it.
    func message(of incident: UUID, threads: ChatThreads) -> SlackClient.MessageReference? {
        if let ts = threads[Self.threadKey] {
            return SlackClient.MessageReference(channel: threads[Self.channelKey] ?? channel, ts: ts)
        }
        return messages[incident]
    }
}
