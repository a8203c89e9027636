import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle

/// Approvals from Slack buttons: takes the verified interactivity callbacks the API listener receives on
/// `POST /api/slack/interactions`, and for each click on one of our buttons looks the person up, checks them against
/// the approver allow-list (and the channel against the allowed ones), runs the approval through the coordinator's
/// policy (the same as the API's, audited as `slack:<email or user id>`) and replies in the message's thread.
///
/// A `Service` in the reconciler's group: a callback is answered at once (Slack wants an answer within 3 s) and the
/// click is worked off a queue, which a graceful shutdown finishes before the coordinator drains. Slack may deliver a
/// callback again; a click is taken once (its user and `action_ts`).
public final class SlackApprovals: Service {
    public struct Configuration: Sendable {
        /// The app's signing secret, which Slack signs callbacks with.
        public var signingSecret: String
        /// Who may approve: Slack user ids (`U0123ALICE`) or emails (compared case-insensitively; looking those up
        /// needs the `users:read.email` scope). Empty: nobody.
        public var approvers: Set<String>
        /// Channels whose buttons may approve (ids). Empty: any channel.
        public var channels: Set<String>

        public init(signingSecret: String, approvers: Set<String>, channels: Set<String> = []) {
            self.signingSecret = signingSecret
            self.approvers = Set(approvers.map { $0.contains("@") ? $0.lowercased() : $0 })
            self.channels = channels
        }
    }

    /// What became of a callback.
    public enum Acceptance: Sendable, Equatable {
        case queued
        case ignored(String)
        /// Shutting down: Slack should deliver it again later.
        case unavailable
    }

    /// One click on one of our buttons.
    struct Click: Sendable, Hashable {
        var user: String
        var channel: String
        var messageTS: String
        var actionTS: String
        var value: SlackMessages.ButtonValue
        /// What the clicker typed into the action's input fields, by input name.
        var data: [String: JSONValue] = [:]
    }

    let client: SlackClient
    let notifier: SlackNotifier
    let coordinator: any ApprovalHandling
    let configuration: Configuration
    let signature: SlackSignature
    let logger: Logger
    private let clicks: AsyncStream<Click>
    private let clicksContinuation: AsyncStream<Click>.Continuation
    /// Clicks seen lately (user and `action_ts`): Slack may deliver one twice.
    private let seen = BoundedMemory<String, Void>(capacity: 10_000)

    public init(client: SlackClient, notifier: SlackNotifier, coordinator: any ApprovalHandling,
                configuration: Configuration, logger: Logger = Logger(label: "euphrosyne.slack.approvals")) {
        self.client = client
        self.notifier = notifier
        self.coordinator = coordinator
        self.configuration = configuration
        self.signature = SlackSignature(signingSecret: configuration.signingSecret)
        self.logger = logger
        (clicks, clicksContinuation) = AsyncStream.makeStream(of: Click.self)
    }

    // MARK: Callbacks

    /// Checks a callback's signing headers against its raw body (`now` in Unix seconds); throws why it is refused.
    public func verify(timestamp: String?, signature given: String?, body: some Collection<UInt8>,
                       now: Int = Int(Date().timeIntervalSince1970)) throws(SlackSignature.Refusal) {
        try signature.verify(timestamp: timestamp, signature: given, body: body, now: now)
    }

    /// Takes a verified callback body (`payload=<JSON>`, form-encoded): queues a click on one of our buttons,
    /// ignores anything else (other interactions, other apps' buttons, repeats).
    public func accept(_ body: Data) -> Acceptance {
        let click: Click
        switch Self.click(in: body) {
        case .success(let found): click = found
        case .failure(let reason): return .ignored(reason.description)
        }
        let key = "\(click.user) \(click.actionTS)"
        let fresh = seen.insertIfAbsent((), for: key)
        guard fresh else { return .ignored("already received") }
        guard case .enqueued = clicksContinuation.yield(click) else {
            // Not taken: forget it, so a redelivery after the restart is worked off.
            seen.remove(key)
            return .unavailable
        }
        return .queued
    }

    struct NotOurs: Error, CustomStringConvertible {
        var description: String
    }

    /// The click a callback body carries, or why it is not one of ours.
    static func click(in body: Data) -> Result<Click, NotOurs> {
        guard let payload = formField("payload", in: body) else { return .failure(.init(description: "the body has no payload field")) }
        guard let object = try? JSONValue.parseObject(Data(payload.utf8)) else {
            return .failure(.init(description: "the payload is not a JSON object"))
        }
        guard object["type"]?.stringValue == "block_actions" else { return .failure(.init(description: "not a button click")) }
        guard let action = object["actions"]?.arrayValue?.first,
              action["action_id"]?.stringValue?.hasPrefix(SlackMessages.ButtonValue.actionIDPrefix) == true,
              let value = action["value"]?.stringValue.flatMap(SlackMessages.ButtonValue.init(decoding:))
        else { return .failure(.init(description: "not one of our buttons")) }
        guard let user = object["user"]?["id"]?.stringValue, !user.isEmpty,
              let channel = object["container"]?["channel_id"]?.stringValue ?? object["channel"]?["id"]?.stringValue,
              let messageTS = object["container"]?["message_ts"]?.stringValue,
              let actionTS = action["action_ts"]?.stringValue
        else { return .failure(.init(description: "the click lacks its user, channel, message or action_ts")) }
        return .success(Click(user: user, channel: channel, messageTS: messageTS, actionTS: actionTS, value: value,
                              data: SlackMessages.inputValues(for: value.action, in: object["state"])))
    }

    /// The value of field `name` in a form-encoded body (`+` is a space, `%XX` a byte), or nil.
    static func formField(_ name: String, in body: Data) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    // MARK: Service

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await click in self.clicks {
                await self.process(click)
            }
        } onGracefulShutdown: {
            self.clicksContinuation.finish()
        }
    }

    // MARK: One click

    func process(_ click: Click) async {
        var logger = self.logger
        let incident = click.value.incident
        let name = click.value.action
        logger[metadataKey: "incident"] = "\(incident.uuidString.lowercased())"
        let email: String?
        do {
            email = try await client.user(id: click.user).email?.lowercased()
        } catch {
            logger.error("cannot look up who clicked a button", metadata: ["error": "\(error)"])
            await reply(to: click, "Could not check who you are with Slack, so \(name) was not run. Try again.")
            return
        }
        let who = "slack:\(email ?? click.user)"
        let request = ApprovalRequest(actions: [ActionRequest(name: name, data: click.data)], approvedBy: who,
                                      idempotencyKey: "slack:\(click.user):\(click.actionTS)")
        guard isAllowed(user: click.user, email: email, channel: click.channel) else {
            let reason = "\(who) is not on the Slack approver list"
                + (configuration.channels.isEmpty || configuration.channels.contains(click.channel) ? "" : " for this channel")
            await coordinator.recordRefusedApproval(incident: incident, request, reason: reason)
            await reply(to: click, "⛔ \(email ?? click.user) may not approve actions here, so \(name) was not run.")
            return
        }
        do {
            let (_, decision) = try await coordinator.approve(incident: incident, request)
            switch decision {
            case .started(let approval, _):
                await reply(to: click, "✅ \(email ?? click.user) approved \(name) (approval \(approval.id)); it is running.")
            case .duplicate(let earlier):
                await reply(to: click, "ℹ️ \(name) was already approved (approval \(earlier.id)); it is not run again.")
            }
        } catch {
            await reply(to: click, "❌ \(name) was not run: \(error.description)")
        }
    }

    func isAllowed(user: String, email: String?, channel: String) -> Bool {
        let person = configuration.approvers.contains(user) || email.map { configuration.approvers.contains($0) } == true
        let place = configuration.channels.isEmpty || configuration.channels.contains(channel)
        return person && place
    }

    private func reply(to click: Click, _ text: String) async {
        do {
            try await notifier.reply(toMessage: click.messageTS, channel: click.channel, text: text)
        } catch {
            logger.error("cannot reply in Slack", metadata: ["error": "\(error)"])
        }
    }
}
