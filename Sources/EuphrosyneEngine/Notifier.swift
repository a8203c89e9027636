import EuphrosyneCore

/// Where analyses and outcomes go: the original Webex bot (`BotNotifier`) or the log (`LogNotifier`).
///
/// The coordinator sends each notification in its own task, so a slow or failing notifier never holds up an
/// incident. `send` retries as the adapter sees fit and throws only when it gave up.
public protocol Notifier: Sendable {
    func send(_ notification: ChatNotification) async throws
}
