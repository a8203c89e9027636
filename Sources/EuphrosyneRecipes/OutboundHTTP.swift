import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore

/// Small helpers the recipes that call other services share: how to name a URL in messages without leaking what
/// it carries, and how to keep text short.
enum OutboundHTTP {
    /// `scheme://host[:port]` of an http(s) URL, or nil when `text` is not one. Messages name a service by its
    /// origin only: paths and queries of webhook URLs often carry secrets (Slack, Teams, …), and userinfo always does.
    static func origin(_ text: String) -> String? {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty
        else { return nil }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(shownHost)" + (components.port.map { ":\($0)" } ?? "")
    }

    /// At most `limit` characters of `text`, with "…" when cut.
    static func prefix(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "…"
    }

    /// The body of an answer as text for a message: at most `limit` characters, on one line.
    static func bodyExcerpt(_ body: Data, limit: Int = 500) -> String {
        let text = String(decoding: body, as: UTF8.self)
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return prefix(text, limit)
    }

    /// `text` with every occurrence of `secret` replaced, a last guard so that no message carries a credential
    /// even if a peer echoes it back. Secrets shorter than 6 characters are not searched for (they would mangle
    /// ordinary words and are not real tokens anyway).
    static func redacting(_ secret: String?, in text: String) -> String {
        guard let secret, secret.count >= 6 else { return text }
        return text.replacingOccurrences(of: secret, with: "[redacted]")
    }

    /// Runs `body` with an HTTP client of its own, shut down after. Unlike `HTTPClient.shared` (which keeps retrying
    /// to connect for up to 90 s), a failure to connect fails the request at once, so the recipe's own retries and
    /// messages apply; connecting gives up after 5 s. Redirects are followed (at most 5), and AsyncHTTPClient drops
    /// `Authorization` on a redirect to another origin.
    static func withClient<Result: Sendable>(
        _ body: (HTTPClient) async throws -> Result
    ) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// A request timeout for AsyncHTTPClient.
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// An environment flag: `1`, `true`, `yes` or `on` (any case).
    static func flag(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "true", "yes", "on"].contains(value.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// Encodes a JSON tree with sorted keys and unescaped slashes.
    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A JSONValue tree always encodes, except non-finite numbers, which JSON parsing never produces.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
