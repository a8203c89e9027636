import Crypto
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// Who may call the API listener: named bearer tokens and HMAC signing keys, several of each so they can be
/// rotated. `serve` builds it from `--api-tokens-file` / `API_TOKENS_FILE` / `API_TOKENS` and
/// `--api-hmac-keys-file` / `API_HMAC_KEYS_FILE` / `API_HMAC_KEYS`. With neither, the API is open, as the original was.
///
/// A signed request carries `X-Euphrosyne-Key-Id`, `X-Euphrosyne-Timestamp` (Unix seconds) and
/// `X-Euphrosyne-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>\n<METHOD>\n<request target>\n<raw body>")>`
/// (see `RequestSignature`); it is accepted within `replayWindow` of its timestamp, once (`ReplayCache`).
public struct APICredentials: Sendable {
    /// Token name → token.
    public var bearerTokens: [String: String]
    /// Key id → secret.
    public var hmacKeys: [String: String]
    public var replayWindow: Duration

    public init(bearerTokens: [String: String] = [:], hmacKeys: [String: String] = [:],
                replayWindow: Duration = .seconds(300)) {
        self.bearerTokens = bearerTokens
        self.hmacKeys = hmacKeys
        self.replayWindow = replayWindow
    }

    /// True when nothing is configured: every caller is let in, anonymously.
    public var isOpen: Bool { bearerTokens.isEmpty && hmacKeys.isEmpty }
}

/// Credentials the webhook listener asks of senders: what Alertmanager's `http_config` (`authorization` with a
/// Bearer token, or `basic_auth`) or Grafana's contact point can send. Off (nil) by default, for compatibility.
public struct WebhookCredentials: Sendable {
    public var bearerTokens: [String]
    /// `user:password` pairs.
    public var basicAuth: [(user: String, password: String)]

    public init(bearerTokens: [String] = [], basicAuth: [(user: String, password: String)] = []) {
        self.bearerTokens = bearerTokens
        self.basicAuth = basicAuth
    }

    public var isOpen: Bool { bearerTokens.isEmpty && basicAuth.isEmpty }
}

/// Parses credential lists: one `name:secret` per line (or comma-separated in an environment variable), `#`
/// comments and blank lines ignored. Errors name the line, never the secret.
public enum CredentialList {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String, source: String) throws(Problem) -> [(name: String, secret: String)] {
        var entries: [(name: String, secret: String)] = []
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "," }).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        for (index, line) in lines.enumerated() where !line.isEmpty && !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else {
                throw Problem(description: "\(source), entry \(index + 1): expected name:secret")
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let secret = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !secret.isEmpty else {
                throw Problem(description: "\(source), entry \(index + 1): name and secret must not be empty")
            }
            guard !entries.contains(where: { $0.name == name }) else {
                throw Problem(description: "\(source): \"\(name)\" is listed twice")
            }
            entries.append((name, secret))
        }
        return entries
    }
}

/// The authenticated caller of the current API request, for the approval audit. Set by
/// `APIAuthenticationMiddleware` around the route: `token:<name>`, `hmac:<key id>`, or nil when the API is open.
public enum APICaller {
    @TaskLocal public static var current: String?
}

/// HMAC request signing as `APIAuthenticationMiddleware` checks it; public so clients and tests sign the same way.
///
/// The signed message binds the signature to one request: its timestamp, method, request target (path and query,
/// exactly as sent) and body, separated by newlines (none of the first three can hold one), so a signature
/// captured for one route or method is useless on another.
public enum RequestSignature {
    public static let keyIDHeader = HTTPField.Name("X-Euphrosyne-Key-Id")!
    public static let timestampHeader = HTTPField.Name("X-Euphrosyne-Timestamp")!
    public static let signatureHeader = HTTPField.Name("X-Euphrosyne-Signature")!

    /// `sha256=<lowercase hex>` over `"<timestamp>\n<METHOD>\n<target>\n<body>"`.
    public static func sign(
        method: String, target: String, body: some Collection<UInt8>, timestamp: Int, secret: String
    ) -> String {
        var message = Array("\(timestamp)\n\(method.uppercased())\n\(target)\n".utf8)
        message.append(contentsOf: body)
        return "sha256=" + hexHMAC(message, secret: secret)
    }

    /// The form signatures had before they covered the method and target (`"<timestamp>.<body>"`). Never
    /// accepted; recognised only to tell such a caller what changed.
    static func legacySignature(body: some Collection<UInt8>, timestamp: Int, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "sha256=" + hexHMAC(message, secret: secret)
    }

    private static func hexHMAC(_ message: [UInt8], secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return Hex.lowercase(code)
    }
}

/// Authenticates the API's protected routes. `Listeners` attaches it to the route group that holds them, so a
/// request is authenticated when it reaches one of those routes, however its path is spelled (`/api/actions/`,
/// `//api//actions`); what stays open (probes, metrics, the spec, the integrations' routes with their own
/// signature) is simply registered outside the group.
/// Refusals are 401 with a JSON error saying what was wrong, never which secret was close.
struct APIAuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let credentials: APICredentials
    let replayCache: any ReplayCache
    let now: @Sendable () -> Date

    init(credentials: APICredentials, replayCache: any ReplayCache = InMemoryReplayCache(),
         now: @escaping @Sendable () -> Date = Date.init) {
        self.credentials = credentials
        self.replayCache = replayCache
        self.now = now
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if credentials.isOpen {
            return try await next(request, context)
        }
        if let authorization = request.headers[.authorization] {
            guard let name = bearerTokenName(authorization) else {
                throw Self.unauthorized("the bearer token is not valid")
            }
            return try await APICaller.$current.withValue("token:\(name)") { try await next(request, context) }
        }
        if let keyID = request.headers[RequestSignature.keyIDHeader] {
            var request = request
            let keyName = try await verifySignature(&request, keyID: keyID, logger: context.logger)
            return try await APICaller.$current.withValue("hmac:\(keyName)") { try await next(request, context) }
        }
        throw Self.unauthorized("this API needs a bearer token or a signed request")
    }

    /// The name of the token the header carries, comparing against every configured token in constant time.
    private func bearerTokenName(_ authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let offered = Array(parts[1].utf8)
        var match: String?
        for (name, token) in credentials.bearerTokens.sorted(by: { $0.key < $1.key }) {
            if ConstantTime.equals(offered, Array(token.utf8)), match == nil { match = name }
        }
        return match
    }

    private func verifySignature(_ request: inout Request, keyID: String, logger: Logger) async throws -> String {
        guard let secret = credentials.hmacKeys[keyID] else { throw Self.unauthorized("unknown signing key id") }
        guard let timestampText = request.headers[RequestSignature.timestampHeader], let timestamp = Int(timestampText) else {
            throw Self.unauthorized("a signed request needs X-Euphrosyne-Timestamp in Unix seconds")
        }
        guard let signature = request.headers[RequestSignature.signatureHeader] else {
            throw Self.unauthorized("a signed request needs X-Euphrosyne-Signature")
        }
        let sentAt = Date(timeIntervalSince1970: TimeInterval(timestamp))
        let window = TimeInterval(credentials.replayWindow.components.seconds)
        let current = now()
        guard abs(current.timeIntervalSince(sentAt)) <= window else {
            throw Self.unauthorized("the request timestamp is outside the \(Int(window)) s replay window")
        }
        let body = try await request.collectBody(upTo: RequestBody.limit)
        let expected = RequestSignature.sign(method: request.method.rawValue, target: request.head.path ?? "/",
                                             body: body.readableBytesView, timestamp: timestamp, secret: secret)
        guard ConstantTime.equals(Array(signature.utf8), Array(expected.utf8)) else {
            let legacy = RequestSignature.legacySignature(body: body.readableBytesView, timestamp: timestamp, secret: secret)
            if ConstantTime.equals(Array(signature.utf8), Array(legacy.utf8)) {
                throw Self.unauthorized("the signature covers only the timestamp and body; sign "
                                        + "\"<timestamp>\\n<METHOD>\\n<path and query>\\n<body>\" instead")
            }
            throw Self.unauthorized("the request signature does not match")
        }
        let fresh: Bool
        do {
            fresh = try await replayCache.admit(keyID: keyID, signature: signature, sentAt: sentAt, now: current,
                                                window: window)
        } catch {
            logger.error("cannot check a signed request against the replay cache", metadata: ["error": "\(error)"])
            var refusal = APIError(.serviceUnavailable, code: "replay_check_unavailable",
                                   message: "signed requests cannot be checked for replays right now; retry shortly")
            refusal.headers[HTTPField.Name("Retry-After")!] = "5"
            throw refusal
        }
        guard fresh else { throw Self.unauthorized("this signed request was already received (replay)") }
        return keyID
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, code: "unauthorized", message: message)
        error.headers[.wwwAuthenticate] = #"Bearer realm="euphrosyne""#
        return error
    }
}

/// Asks `/webhook` senders for the configured bearer token or basic-auth pair. `Listeners` attaches it to the
/// route of `/webhook` alone, so every spelling of that path is covered; the other webhook-listener routes
/// (probes, metrics, the local-mode result callback with its own secret) are registered outside it.
struct WebhookAuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let credentials: WebhookCredentials

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !credentials.isOpen else { return try await next(request, context) }
        guard let authorization = request.headers[.authorization], accepts(authorization) else {
            var error = APIError(.unauthorized, code: "unauthorized",
                                 message: "the webhook needs the configured bearer token or basic auth")
            error.headers[.wwwAuthenticate] = credentials.basicAuth.isEmpty
                ? #"Bearer realm="euphrosyne-webhook""# : #"Basic realm="euphrosyne-webhook""#
            throw error
        }
        return try await next(request, context)
    }

    private func accepts(_ authorization: String) -> Bool {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return false }
        let scheme = parts[0].lowercased()
        let offered = Array(parts[1].utf8)
        var accepted = false
        if scheme == "bearer" {
            for token in credentials.bearerTokens where ConstantTime.equals(offered, Array(token.utf8)) { accepted = true }
        } else if scheme == "basic" {
            for pair in credentials.basicAuth {
                let expected = Array(Data("\(pair.user):\(pair.password)".utf8).base64EncodedString().utf8)
                if ConstantTime.equals(offered, expected) { accepted = true }
            }
        }
        return accepted
    }
}
