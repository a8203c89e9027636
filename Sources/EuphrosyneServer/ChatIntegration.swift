import EuphrosynePorts
import Logging
import ServiceLifecycle

/// A chat platform the reconciler talks to: where notifications go, and what the chat needs once the engine
/// exists — routes on the API listener (signed callbacks such as Webex's card buttons) and services that run beside
/// the coordinator (registering that callback). The app builder takes a list of them: each incident goes to every
/// one (`FanOutNotifier` when there are several), and their routes and services join the listeners and the
/// service group. The server mounts them without knowing any chat.
public protocol ChatIntegration: Sendable {
    /// Its name in logs, in metrics and in an incident's chat threads.
    var name: String { get }
    /// Where the incidents' notifications go.
    var notifier: any Notifier { get }
    /// Routes and services it adds once the coordinator exists; approvals from the chat go to `approvals`.
    func attachments(approvals: any ApprovalHandling, logger: Logger) -> ChatAttachments
}

/// What a chat integration adds to the listeners and the service group.
public struct ChatAttachments: Sendable {
    /// Mounted on the API listener, outside its authenticated group (they carry their own authentication).
    public var routes: [any ListenerRoutes]
    /// Run beside the coordinator, stopped before it.
    public var services: [any Service]

    public init(routes: [any ListenerRoutes] = [], services: [any Service] = []) {
        self.routes = routes
        self.services = services
    }
}

/// A chat that only receives notifications (the original bot, the log): no routes, no services.
public struct NotificationOnlyChat: ChatIntegration {
    public let name: String
    public let notifier: any Notifier

    public init(name: String, notifier: any Notifier) {
        self.name = name
        self.notifier = notifier
    }

    public func attachments(approvals: any ApprovalHandling, logger: Logger) -> ChatAttachments { ChatAttachments() }
}
