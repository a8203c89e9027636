import EuphrosyneCore

/// Where analyses and outcomes go: the built-in Webex integration (`WebexNotifier`), the original bot
/// (`BotNotifier`) or the log (`LogNotifier`); several at once through `FanOutNotifier`.
///
/// The coordinator sends each notification in its own task, so a slow or failing notifier never holds up an
/// incident. `send` retries as the adapter sees fit and throws only when it gave up.
public protocol Notifier: Sendable {
    func send(_ notification: ChatNotification) async throws
    /// Sends in the conversation the incident already has in this chat (`threads`, kept with the incident), and
    /// returns what this send changed there (the thread it started, the message it posts its cards in), for the
    /// coordinator to keep with the incident: each key replaces the kept one, and an empty value removes it.
    func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads
    /// Whether this chat keeps one message per incident up to date (Slack, Webex): the coordinator then sends it
    /// `.incident` cards as the incident changes. Others (the bot, the log) never get them.
    var followsIncidents: Bool { get }
}

extension Notifier {
    public var followsIncidents: Bool { false }

    /// Notifiers without threads (the bot, the log) just send.
    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        try await send(notification)
        return [:]
    }
}
