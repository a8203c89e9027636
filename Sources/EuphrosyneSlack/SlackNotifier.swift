import EuphrosyneCore
import EuphrosynePorts
import Foundation
import EuphrosyneSupport
import Logging

/// The built-in Slack notifier: posts each analysis to the channel as one Block Kit message with a button per
/// suggested action, and replies in that message's thread with action outcomes, job states and the resolve. The
/// buttons come back through `SlackApprovals`.
public final class SlackNotifier: Notifier {
    /// The key of this chat in an incident's `chatThreads`: the `ts` of the analysis message.
    public static let threadKey = "slack"

    let client: SlackClient
    public let channel: String
    let logger: Logger
    /// Incident → the message its thread hangs from, the newest `threadCapacity` kept (the incident store keeps
    /// them too, for restarts and other replicas).
    private let threadRoots: BoundedMemory<UUID, String>

    public init(client: SlackClient, channel: String, threadCapacity: Int = 10_000,
                logger: Logger = Logger(label: "euphrosyne.notifier.slack")) {
        self.client = client
        self.channel = channel
        threadRoots = BoundedMemory(capacity: threadCapacity)
        self.logger = logger
    }

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        switch notification {
        case .analysis(let incident, let analysis):
            // A later analysis (alerts joined the group) goes into the first one's thread.
            let root = threads[Self.threadKey] ?? threadRoot(of: incident)
            let posted = try await client.postMessage(
                channel: channel, text: SlackMessages.analysisText(incident: incident, analysis: analysis),
                blocks: SlackMessages.analysisBlocks(incident: incident, analysis: analysis), threadTS: root
            )
            if root == nil {
                threadRoots.set(posted.ts, for: incident)
                return [Self.threadKey: posted.ts]
            }
        case .actionOutcome(let incident, let approvalID, let analysis):
            try await reply(incident, heading: "*Outcome of approval \(approvalID)*", body: analysis.text, threads: threads)
        case .resolved(let incident, let alert, let cancelledRuns):
            try await reply(incident, heading: "*Resolved*",
                            body: ChatNotification.resolvedText(alert: alert, cancelledRuns: cancelledRuns), threads: threads)
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

    /// Replies in the thread of `message` (`SlackApprovals` tells the approver what became of a click).
    public func reply(toMessage ts: String, text: String) async throws {
        _ = try await client.postMessage(channel: channel, text: SlackMessages.escaped(text),
                                         blocks: [SlackMessages.section(plain: text)], threadTS: ts)
    }

    /// Posts in the incident's thread (a top-level message only when no thread is known anywhere): a heading of
    /// ours in mrkdwn, then `body`, which came from recipes or alerts, as plain text.
    private func reply(_ incident: UUID, heading: String, body: String, threads: ChatThreads) async throws {
        let root = threads[Self.threadKey] ?? threadRoot(of: incident)
        let chunks = SlackMessages.chunked(body.isEmpty ? "(empty)" : body, size: SlackMessages.maxSectionText)
            .prefix(SlackMessages.maxTextSections)
        _ = try await client.postMessage(
            channel: channel, text: "Incident \(incident.uuidString.lowercased()): " + SlackMessages.escaped(String(body.prefix(300))),
            blocks: [SlackMessages.section(mrkdwn: "\(heading) for incident `\(incident.uuidString.lowercased())`")]
                + chunks.map(SlackMessages.section(plain:)),
            threadTS: root
        )
    }

    func threadRoot(of incident: UUID) -> String? {
        threadRoots[incident]
    }
}
