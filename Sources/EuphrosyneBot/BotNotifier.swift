import AsyncHTTPClient
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Sends notifications to the Webex bot of the original system, in its protocol:
/// `POST {bot}/api/analysis` with `{"uuid","actions","analysis"}` and `POST {bot}/api/status` with an array of
/// Job states.
///
/// Retries 5xx, 429 and transport errors with back-off (honouring `Retry-After`); a 4xx other than 429 is the
/// bot refusing the message and is not retried. Failures are `BotError`s (or `CancellationError`).
public struct BotNotifier: Notifier {
    /// The body of `POST /api/analysis`.
    struct AnalysisBody: Codable, Equatable {
        var uuid: String
        var actions: [String]
        var analysis: String
    }

    public let baseURL: String
    public let httpClient: HTTPClient
    public let retry: RetryPolicy
    public let requestTimeout: Duration
    public let logger: Logger

    public init(
        baseURL: String, httpClient: HTTPClient, retry: RetryPolicy = RetryPolicy(),
        requestTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "euphrosyne.notifier.bot")
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.httpClient = httpClient
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    public func send(_ notification: ChatNotification) async throws {
        // The bot protocol has no message that changes: it gets the analysis, outcomes and the resolve instead.
        guard let (path, body) = Self.request(for: notification) else { return }
        let encoded: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoded = try encoder.encode(body)
        } catch {
            throw BotError(.invalidRequest, path: path, underlying: error)
        }
        try await post(path: path, body: encoded, notification: notification)
    }

    /// The bot's path for a notification and the body to post there; nil for what the bot does not take.
    static func request(for notification: ChatNotification) -> (path: String, body: any Encodable)? {
        switch notification {
        case .analysis(let incident, let analysis), .actionOutcome(let incident, _, let analysis):
            return ("/api/analysis", AnalysisBody(
                uuid: incident.uuidString.lowercased(), actions: analysis.actions,
                analysis: ChatText.neutralizingMentions(analysis.text)
            ))
        case .jobStatus(_, let jobs):
            return ("/api/status", jobs)
        case .resolved(let incident, let alert, let cancelledRuns):
            // The bot protocol has no resolve message: an analysis without actions shows the text with no buttons.
            return ("/api/analysis", AnalysisBody(
                uuid: incident.uuidString.lowercased(), actions: [],
                analysis: ChatText.neutralizingMentions(ChatNotification.resolvedText(alert: alert, cancelledRuns: cancelledRuns))
            ))
        case .incident:
            return nil
        }
    }

    private func post(path: String, body: Data, notification: ChatNotification) async throws {
        var logger = self.logger
        if let incident = notification.incidentID {
            logger[metadataKey: "incident"] = "\(incident.uuidString.lowercased())"
        }
        try await retry.run { (_: Int) -> RetryPolicy.Attempt<Void> in
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "euphrosyne")
            // The same on every attempt, and from every replica: a bot that keeps them shows a notice once.
            if let key = notification.idempotencyKey { request.headers.add(name: "Idempotency-Key", value: key) }
            request.body = .bytes(ByteBuffer(bytes: body))

            let response: HTTPClientResponse
            do {
                response = try await httpClient.execute(request, timeout: .nanoseconds(requestTimeout.wholeNanoseconds))
                // Drain the body so the connection can be reused.
                _ = try? await response.body.collect(upTo: 64 * 1024)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                return .retry(problem: "\(error)")
            }
            switch response.status.code {
            case 200..<300:
                logger.debug("bot accepted notification", metadata: ["kind": "\(notification.kind)"])
                return .done(())
            case 429, 500..<600:
                return .retry(problem: "bot answered \(response.status.code)",
                              retryAfter: response.headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds($0) })
            default:
                throw BotError(.refused, path: path, statusCode: Int(response.status.code))
            }
        } willRetry: { attempt, failure, delay in
            logger.warning("bot notification failed; retrying", metadata: [
                "kind": "\(notification.kind)", "attempt": "\(attempt)", "error": "\(failure)",
                "retryIn": "\(delay)",
            ])
        } giveUp: { attempts, failure in
            BotError(.unreachable, path: path, message: "gave up after \(attempts) attempts: \(failure)")
        }
    }
}
