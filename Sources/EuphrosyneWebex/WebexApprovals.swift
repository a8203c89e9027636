import Crypto
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Approvals from Webex card buttons: registers (or repairs) the `attachmentActions` webhook at start-up, takes the
/// signed callbacks the API listener receives on `POST /api/webex/events`, and for each card submission fetches it,
/// checks the person against the approver allow-list, runs the approval through the coordinator's policy (the same
/// as the API's) and replies in the card's thread with the outcome.
///
/// A `Service` in the reconciler's group: callbacks are answered at once and worked off a queue, which a graceful
/// shutdown finishes before the coordinator drains. A Webex outage only delays the webhook registration and the
/// replies; it never blocks an incident.
public final class WebexApprovals: Service {
    public struct Configuration: Sendable {
        /// Our callback URL as Webex reaches it, e.g. `https://reconciler.example.com/api/webex/events`.
        public var targetURL: String
        /// The webhook secret Webex signs callbacks with (`X-Spark-Signature`, HMAC-SHA1).
        public var secret: String
        /// Who may approve: Webex emails (compared case-insensitively) or person ids. Empty: nobody.
        public var approvers: Set<String>
        /// Rooms whose cards may approve. Empty: any room.
        public var rooms: Set<String>
        public var webhookName: String

        public init(targetURL: String, secret: String, approvers: Set<String>, rooms: Set<String> = [],
                    webhookName: String = "euphrosyne-approvals") {
            self.targetURL = targetURL
            self.secret = secret
            self.approvers = Set(approvers.map { $0.contains("@") ? $0.lowercased() : $0 })
            self.rooms = rooms
            self.webhookName = webhookName
        }
    }

    /// What became of a callback.
    public enum Acceptance: Sendable, Equatable {
        case queued
        case ignored(String)
        /// Shutting down: the sender should deliver it again later.
        case unavailable
    }

    struct Submission: Sendable {
        var actionID: String
    }

    let client: WebexClient
    let notifier: WebexNotifier
    /// The coordinator, seen through the approvals port.
    let coordinator: any ApprovalHandling
    let configuration: Configuration
    let retry: RetryPolicy
    let logger: Logger
    private let submissions: AsyncStream<Submission>
    private let submissionsContinuation: AsyncStream<Submission>.Continuation
    /// Callback ids seen lately: Webex may deliver one twice.
    private let seen = BoundedMemory<String, Void>(capacity: 10_000)
    /// Whether the webhook is registered as configured (for readiness and tests).
    private let registered = Mutex(false)
    /// The callback URL registered at start; `setTargetURL` may set it before `run()` (tests bind port 0).
    private let target: Mutex<String>

    public init(client: WebexClient, notifier: WebexNotifier, coordinator: any ApprovalHandling,
                configuration: Configuration, retry: RetryPolicy = RetryPolicy(initialDelay: .seconds(1), maxDelay: .seconds(60)),
                logger: Logger = Logger(label: "euphrosyne.webex.approvals")) {
        self.client = client
        self.notifier = notifier
        self.coordinator = coordinator
        self.configuration = configuration
        self.retry = retry
        self.logger = logger
        (submissions, submissionsContinuation) = AsyncStream.makeStream(of: Submission.self)
        target = Mutex(configuration.targetURL)
    }

    /// Sets the callback URL to register, once the listener knows its port. Takes effect at the next registration.
    public func setTargetURL(_ url: String) {
        target.withLock { $0 = url }
    }

    public var isWebhookRegistered: Bool { registered.withLock { $0 } }

    // MARK: Callbacks

    /// Whether `signature` (the `X-Spark-Signature` header) is the HMAC-SHA1 of the raw body under our secret.
    public func isSignatureValid(body: some Collection<UInt8>, signature: String?) -> Bool {
        guard let signature else { return false }
        let code = HMAC<Insecure.SHA1>.authenticationCode(for: Array(body), using: SymmetricKey(data: Array(configuration.secret.utf8)))
        return ConstantTime.equals(Array(signature.lowercased().utf8), Array(Hex.lowercase(code).utf8))
    }

    /// Takes a verified callback body: queues a card submission, ignores anything else (other resources, repeats).
    public func accept(_ body: Data) -> Acceptance {
        guard let event = try? JSONValue.parseObject(body) else { return .ignored("the body is not a JSON object") }
        guard event["resource"]?.stringValue == "attachmentActions", event["event"]?.stringValue == "created" else {
            return .ignored("not a card submission")
        }
        guard let id = event["data"]?["id"]?.stringValue, !id.isEmpty else { return .ignored("the event has no data.id") }
        let fresh = seen.insertIfAbsent((), for: id)
        guard fresh else { return .ignored("already received") }
        guard case .enqueued = submissionsContinuation.yield(Submission(actionID: id)) else {
            // Not taken: forget it, so a redelivery after the restart is worked off.
            seen.remove(id)
            return .unavailable
        }
        return .queued
    }

    // MARK: Service

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.registerWebhookUntilDone() }
            await withGracefulShutdownHandler {
                for await submission in self.submissions {
                    await self.process(submission)
                }
            } onGracefulShutdown: {
                // Submissions already queued are still worked off; nothing new is taken.
                self.submissionsContinuation.finish()
            }
            group.cancelAll()
        }
    }

    /// Lists the webhooks, keeps (and updates) one for our target, deletes duplicates, creates it if missing;
    /// retried with back-off until it works or the service stops.
    func registerWebhookUntilDone() async {
        var untilDone = retry
        untilDone.maxAttempts = .max
        do {
            try await untilDone.run { (_: Int) -> RetryPolicy.Attempt<Void> in
                try Task.checkCancellation()
                do {
                    try await registerWebhook()
                    return .done(())
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    return .retry(problem: "\(error)")
                }
            } willRetry: { _, failure, delay in
                logger.error("cannot register the Webex webhook; retrying", metadata: [
                    "error": "\(failure)", "retryIn": "\(delay)",
                ])
            } giveUp: { _, _ in
                // Never reached: the attempts are unbounded; only cancellation ends them.
                CancellationError()
            }
        } catch {
            return
        }
        registered.withLock { $0 = true }
        logger.notice("Webex webhook registered", metadata: ["target": "\(target.withLock { $0 })"])
    }

    func registerWebhook() async throws {
        let targetURL = target.withLock { $0 }
        let ours = try await client.webhooks().filter {
            $0.resource == "attachmentActions" && $0.event == "created" && $0.targetUrl == targetURL
        }
        if let keep = ours.first {
            _ = try await client.updateWebhook(id: keep.id, name: configuration.webhookName,
                                               targetUrl: targetURL, secret: configuration.secret)
            for duplicate in ours.dropFirst() { try await client.deleteWebhook(id: duplicate.id) }
        } else {
            _ = try await client.createWebhook(name: configuration.webhookName, targetUrl: targetURL,
                                               resource: "attachmentActions", event: "created", secret: configuration.secret)
        }
    }

    // MARK: One submission

    func process(_ submission: Submission) async {
        var logger = self.logger
        logger[metadataKey: "attachmentAction"] = "\(submission.actionID)"
        let action: WebexClient.AttachmentAction
        do {
            action = try await client.attachmentAction(id: submission.actionID)
        } catch {
            logger.error("cannot read a card submission", metadata: ["error": "\(error)"])
            return
        }
        guard action.inputs["euphrosyne"]?.stringValue == WebexNotifier.submitMarker,
              let incidentText = action.inputs["incident"]?.stringValue, let incident = UUID(uuidString: incidentText),
              let name = action.inputs["action"]?.stringValue
        else {
            logger.info("ignoring a card submission that is not an approval of ours")
            return
        }
        logger[metadataKey: "incident"] = "\(incident.uuidString.lowercased())"

        let email: String?
        do {
            email = try await client.person(id: action.personId).emails.first?.lowercased()
        } catch {
            logger.error("cannot look up who submitted a card", metadata: ["error": "\(error)"])
            await reply(to: action, "Could not check who you are with Webex, so `\(name)` was not run. Try again.")
            return
        }
        let who = "webex:\(email ?? action.personId)"
        var data: [String: JSONValue] = [:]
        for (key, value) in action.inputs where key.hasPrefix(name + ".") {
            data[String(key.dropFirst(name.count + 1))] = value
        }
        let request = ApprovalRequest(actions: [ActionRequest(name: name, data: data)], approvedBy: who,
                                      idempotencyKey: "webex:\(action.id)")

        guard isAllowed(personID: action.personId, email: email, roomID: action.roomId) else {
            let reason = "\(who) is not on the Webex approver list"
                + (configuration.rooms.isEmpty || configuration.rooms.contains(action.roomId) ? "" : " for this room")
            await coordinator.recordRefusedApproval(incident: incident, request, reason: reason)
            await reply(to: action, "⛔ \(email ?? "You") may not approve actions here, so `\(name)` was not run.")
            return
        }
        do {
            let (_, decision) = try await coordinator.approve(incident: incident, request)
            switch decision {
            case .started(let approval, _):
                await reply(to: action, "✅ \(email ?? who) approved `\(name)` (approval \(approval.id)); it is running.")
            case .duplicate(let earlier):
                await reply(to: action, "ℹ️ `\(name)` was already approved (approval \(earlier.id)); it is not run again.")
            }
        } catch {
            await reply(to: action, "❌ `\(name)` was not run: \(error.description)")
        }
    }

    func isAllowed(personID: String, email: String?, roomID: String) -> Bool {
        let person = configuration.approvers.contains(personID) || email.map { configuration.approvers.contains($0) } == true
        let room = configuration.rooms.isEmpty || configuration.rooms.contains(roomID)
        return person && room
    }

    private func reply(to action: WebexClient.AttachmentAction, _ markdown: String) async {
        do {
            // In the incident's thread: the buttons are a reply in it, and Webex threads are one level deep.
            let thread = action.inputs["thread"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? action.messageId
            try await notifier.reply(toMessage: thread, roomID: action.roomId, markdown: markdown)
        } catch {
            logger.error("cannot reply in Webex", metadata: ["error": "\(error)"])
        }
    }
}
