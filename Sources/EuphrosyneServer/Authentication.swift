import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Who may call the API listener: named bearer tokens and HMAC signing keys, several of each so they can be
/// rotated. `serve` builds it from `--api-tokens-file` / `EUPHROSYNE_API_TOKENS` and `--api-hmac-keys-file` /
/// `EUPHROSYNE_API_HMAC_KEYS`. With neither, the API is open, as the original was.
///
/// A signed request carries `X-Euphrosyne-Key-Id`, `X-Euphrosyne-Timestamp` (Unix seconds) and
/// `X-Euphrosyne-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; it is accepted within
/// `replayWindow` of its timestamp, once.
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
public enum RequestSignature {
    public static let keyIDHeader = HTTPField.Name("X-Euphrosyne-Key-Id")!
    public static let timestampHeader = HTTPField.Name("X-Euphrosyne-Timestamp")!
    public static let signatureHeader = HTTPField.Name("X-Euphrosyne-Signature")!

    /// `sha256=<lowercase hex>` over `"<timestamp>.<body>"`.
    public static func sign(body: some Collection<UInt8>, timestamp: Int, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + code.map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]], as: UTF8.self)
        }.joined()
    }
}

/// Authenticates every request of the API listener except the probes, `/metrics` and `/openapi.yaml`.
/// Refusals are 401 with a JSON error saying what was wrong, never which secret was close.
struct APIAuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Open to anyone: the probes, metrics and the spec; and the Webex callback, which Webex signs instead.
    static var openPaths: Set<String> { ["/healthz", "/readyz", "/metrics", "/openapi.yaml", WebexRoutes.path] }

    let credentials: APICredentials
    let replayGuard = ReplayGuard()
    let now: @Sendable () -> Date

    init(credentials: APICredentials, now: @escaping @Sendable () -> Date = Date.init) {
        self.credentials = credentials
        self.now = now
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if credentials.isOpen || Self.openPaths.contains(request.uri.path) {
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
            let keyName = try await verifySignature(&request, keyID: keyID)
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

    private func verifySignature(_ request: inout Request, keyID: String) async throws -> String {
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
        let expected = RequestSignature.sign(body: body.readableBytesView, timestamp: timestamp, secret: secret)
        guard ConstantTime.equals(Array(signature.utf8), Array(expected.utf8)) else {
            throw Self.unauthorized("the request signature does not match")
        }
        guard replayGuard.admit(signature, sentAt: sentAt, now: current, window: window) else { throw Self.unauthorized("this signed request was already received (replay)") }
        return keyID
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, code: "unauthorized", message: message)
        error.headers[.wwwAuthenticate] = #"Bearer realm="euphrosyne""#
        return error
    }
}

/// Asks `/webhook` senders for the configured bearer token or basic-auth pair; other webhook-listener routes
/// (probes, metrics, the local-mode result callback with its own secret) stay as they are.
struct WebhookAuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let credentials: WebhookCredentials

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !credentials.isOpen, request.uri.path == "/webhook" else { return try await next(request, context) }
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

/// Signatures already accepted, kept until their timestamp leaves the replay window, so a replay inside the
/// window is refused as well as one outside it.
final class ReplayGuard: Sendable {
    private let seen = Mutex<[String: Date]>([:])

    /// True the first time `signature` is seen within the window.
    func admit(_ signature: String, sentAt: Date, now: Date, window: TimeInterval) -> Bool {
        seen.withLock { seen in
            if seen.count > 1_000 { seen = seen.filter { now.timeIntervalSince($0.value) <= window } }
            if let earlier = seen[signature], now.timeIntervalSince(earlier) <= window { return false }
            seen[signature] = sentAt
            return true
        }
    }
}
