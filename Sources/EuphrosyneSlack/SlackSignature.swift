import Crypto
import EuphrosyneSupport
import Foundation

/// Slack's request signing (version `v0`), which the interactivity route checks before it parses anything: Slack
/// sends `X-Slack-Request-Timestamp` (Unix seconds) and `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of
/// `v0:<timestamp>:<raw body>` under the app's signing secret. A request more than five minutes from now is refused
/// whatever its signature, so a captured click cannot be replayed later.
public struct SlackSignature: Sendable {
    /// Why a request was refused; the route answers `401` with it (never with the expected signature).
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case missingTimestamp
        case malformedTimestamp
        /// Further than `tolerance` from now, either way.
        case stale(skewSeconds: Int)
        case missingSignature
        case malformedSignature
        case mismatch

        public var description: String {
            switch self {
            case .missingTimestamp: "X-Slack-Request-Timestamp is missing"
            case .malformedTimestamp: "X-Slack-Request-Timestamp is not a number of seconds"
            case .stale(let skew): "X-Slack-Request-Timestamp is \(skew) s from now (more than 5 minutes): refused as a possible replay"
            case .missingSignature: "X-Slack-Signature is missing"
            case .malformedSignature: "X-Slack-Signature is not v0= followed by 64 hex digits"
            case .mismatch: "X-Slack-Signature does not match the body under the signing secret"
            }
        }
    }

    /// How far a request's timestamp may be from now: Slack's own five minutes.
    public static let tolerance = 300

    private let key: SymmetricKey

    public init(signingSecret: String) {
        key = SymmetricKey(data: Array(signingSecret.utf8))
    }

    /// The `X-Slack-Signature` value for `body` sent at `timestamp` (what Slack computes; tests sign with it).
    public func signature(timestamp: String, body: some Collection<UInt8>) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array("v0:\(timestamp):".utf8))
        hmac.update(data: Array(body))
        return "v0=" + Hex.lowercase(Array(hmac.finalize()))
    }

    /// Checks a request's headers against its raw body at `now` (Unix seconds); throws why it is refused.
    public func verify(timestamp: String?, signature: String?, body: some Collection<UInt8>, now: Int) throws(Refusal) {
        guard let timestamp, !timestamp.isEmpty else { throw .missingTimestamp }
        guard timestamp.utf8.count <= 12, timestamp.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seconds = Int(timestamp) else {
            throw .malformedTimestamp
        }
        let skew = now - seconds
        guard abs(skew) <= Self.tolerance else { throw .stale(skewSeconds: skew) }
        guard let signature, !signature.isEmpty else { throw .missingSignature }
        guard signature.hasPrefix("v0="), signature.utf8.count == 67 else { throw .malformedSignature }
        let expected = self.signature(timestamp: timestamp, body: body)
        guard ConstantTime.equals(Array(signature.lowercased().utf8), Array(expected.utf8)) else { throw .mismatch }
    }
}
