import EuphrosyneCore

/// Where analyses and outcomes go: the built-in Webex integration (`WebexNotifier`), the original bot
/// (`BotNotifier`) or the log (`LogNotifier`); several at once through `FanOutNotifier`.
///
/// The coordinator sends each notification in its own task, so a slow or failing notifier never holds up an
/// incident. `send` retries as the adapter sees fit and throws only when it gave up.
public protocol Notifier: Sendable {
    func send(_ notification: ChatNotification) async throws
    /// Sends in the conversation the incident already has in this chat (`threads`, kept with the incident), and
    /// returns the thread this send started, if it started one, for the coordinator to keep with the incident.
    func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads
}

extension Notifier {
    /// Notifiers without threads (the bot, the log) just send.
    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        try await send(notification)
        return [:]
    }
}
