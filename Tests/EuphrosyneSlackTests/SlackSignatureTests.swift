import EuphrosyneTestSupport
import Testing

@testable import EuphrosyneSlack

/// Slack's `v0` request signature, checked before the interactivity route parses anything.
@Suite struct SlackSignatureTests {
    /// Slack's documented scheme on a vector checked against python-slack-sdk's `SignatureVerifier`.
    static let secret = "s3cr3t-signing"
    static let timestamp = "1764364800"
    static let body = "payload=%7B%22type%22%3A%22block_actions%22%7D"
    static let expected = "v0=e102335ca54e4f1f521ff7632f21233b170b6e03e40c0f69f24476b3a154f293"

    static func verify(timestamp: String? = timestamp, signature: String? = expected, body: String = body,
                       now: Int = 1_764_364_800) -> SlackSignature.Refusal? {
        do {
            try SlackSignature(signingSecret: secret).verify(timestamp: timestamp, signature: signature,
                                                             body: Array(body.utf8), now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func signsAsSlackDoes() {
        #expect(SlackSignature(signingSecret: Self.secret).signature(timestamp: Self.timestamp, body: Array(Self.body.utf8))
            == Self.expected)
        #expect(FakeSlack.signature(secret: Self.secret, timestamp: Self.timestamp, body: Self.body) == Self.expected)
    }

    @Test func acceptsASignedRequestWithinFiveMinutesEitherWay() {
        #expect(Self.verify() == nil)
        #expect(Self.verify(now: 1_764_364_800 + 300) == nil)
        #expect(Self.verify(now: 1_764_364_800 - 300) == nil)
        #expect(Self.verify(signature: Self.expected.uppercased().replacingOccurrences(of: "V0=", with: "v0=")) == nil,
                "hex digits in either case")
    }

    @Test func refusesWhatSlackDidNotSignNow() {
        #expect(Self.verify(now: 1_764_364_800 + 301) == .stale(skewSeconds: 301))
        #expect(Self.verify(now: 1_764_364_800 - 301) == .stale(skewSeconds: -301))
        #expect(Self.verify(timestamp: nil) == .missingTimestamp)
        #expect(Self.verify(timestamp: "") == .missingTimestamp)
        #expect(Self.verify(timestamp: "17643648OO") == .malformedTimestamp)
        #expect(Self.verify(timestamp: "-1764364800") == .malformedTimestamp)
        #expect(Self.verify(timestamp: "99999999999999999999") == .malformedTimestamp)
        #expect(Self.verify(signature: nil) == .missingSignature)
        #expect(Self.verify(signature: "e102335ca54e4f1f521ff7632f21233b170b6e03e40c0f69f24476b3a154f293") == .malformedSignature)
        #expect(Self.verify(signature: "v0=e102") == .malformedSignature)
        #expect(Self.verify(signature: "v1=" + Self.expected.dropFirst(3)) == .malformedSignature)
        // One byte of the body changed, the timestamp changed, or another secret.
        #expect(Self.verify(body: Self.body + "x") == .mismatch)
        #expect(Self.verify(timestamp: "1764364801", now: 1_764_364_801) == .mismatch)
        let forged = FakeSlack.signature(secret: "another-secret", timestamp: Self.timestamp, body: Self.body)
        #expect(Self.verify(signature: forged) == .mismatch)
    }

    @Test func aRefusalNamesTheHeaderNeverTheExpectedSignature() {
        for refusal in [SlackSignature.Refusal.mismatch, .stale(skewSeconds: 400), .malformedSignature] {
            #expect(!refusal.description.contains("e102335c"))
            #expect(refusal.description.contains("X-Slack-"))
        }
    }
}
