import Foundation
import Testing

@testable import EuphrosyneCore

/// The signature recipes put on results: its exact message (any SDK must reproduce it), verification, and how it
/// travels in the wire schema without changing an unsigned result's bytes.
@Suite struct ResultSignatureTests {
    static let key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"

    /// Upper-case incident (signed lower-cased), non-ASCII text and a newline (counted in UTF-8 bytes), two actions,
    /// a link with a query.
    static let result = RecipeResult(
        incident: "6F1C1E2A-1111-4C5D-9E8F-0123456789AB", name: "http-errors", status: .successful,
        results: .init(actions: ["jira", "webhook"], analysis: "5xx spike: 12 % of requests — über-slow\nsecond line",
                       json: #"{"rate":0.12}"#, links: ["https://grafana.example/d/x?from=now-1h"]))

    /// Computed independently with Python's `hmac` over the message the format defines (see `ResultSignature`):
    /// `"sha256=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()`.
    static let expected = "sha256=87f60d6ebb51c1287910f02647e44231031693bbab39b43145d33ec82a8675c8"

    @Test func theMessageIsTheDocumentedNetstrings() {
        let message = String(decoding: ResultSignature.message(for: Self.result), as: UTF8.self)
        #expect(message == "euphrosyne-result-v1\n"
            + "36:6f1c1e2a-1111-4c5d-9e8f-0123456789ab,11:http-errors,10:successful,"
            + "54:5xx spike: 12 % of requests — über-slow\nsecond line,13:{\"rate\":0.12},"
            + "1:2,4:jira,7:webhook,1:1,39:https://grafana.example/d/x?from=now-1h,")
    }

    @Test func matchesAnIndependentlyComputedVector() {
        #expect(ResultSignature.sign(Self.result, key: Self.key) == Self.expected)
        // An empty result has a well-defined message too (`0:` netstrings, counts of zero).
        #expect(ResultSignature.sign(RecipeResult(incident: "u", name: "dummy", status: .unknown), key: "k")
            == "sha256=5f9463d97018f0d3fedf2c2d798ac8193845638ad023197b828acf587e5249da")
    }

    @Test func verifyAcceptsTheSignatureAndOnlyIt() {
        let signed = ResultSignature.signed(Self.result, key: Self.key)
        #expect(signed.signature == Self.expected)
        #expect(ResultSignature.verify(signed, key: Self.key))
        // Upper-case hex digits are the same digest.
        var upper = signed
        upper.signature = "sha256=" + Self.expected.dropFirst(7).uppercased()
        #expect(ResultSignature.verify(upper, key: Self.key))

        #expect(!ResultSignature.verify(Self.result, key: Self.key), "unsigned")
        #expect(!ResultSignature.verify(signed, key: Self.key + "0"), "another incident's key")
        #expect(!ResultSignature.verify(signed, key: ""), "no key")
        var changes: [(String, (inout RecipeResult) -> Void)] = [
            ("incident", { $0.incident = "7f1c1e2a-1111-4c5d-9e8f-0123456789ab" }),
            ("name", { $0.name = "jira" }),
            ("status", { $0.status = .failed }),
            ("analysis", { $0.results.analysis += " " }),
            ("json", { $0.results.json = "{}" }),
            ("actions", { $0.results.actions = ["jira"] }),
            ("actions moved into links", { $0.results.actions = ["jira"]; $0.results.links.insert("webhook", at: 0) }),
            ("links", { $0.results.links = [] }),
        ]
        for signature in ["", "sha256=", "sha1=" + Self.expected.dropFirst(7), Self.expected + "00",
                          "sha256=" + String(repeating: "g", count: 64), String(Self.expected.dropFirst(7))] {
            changes.append(("signature \(signature)", { $0.signature = signature }))
        }
        for (what, change) in changes {
            var tampered = signed
            change(&tampered)
            #expect(!ResultSignature.verify(tampered, key: Self.key), "\(what)")
        }
        // The incident is signed lower-cased, so its case does not matter.
        var lower = signed
        lower.incident = lower.incident.lowercased()
        #expect(ResultSignature.verify(lower, key: Self.key))
    }

    @Test func anUnsignedResultEncodesExactlyAsBefore() {
        let unsigned = RecipeResult(incident: "u", name: "dummy", status: .failed,
                                    results: .init(actions: ["jira"], analysis: "a/b", json: "{}", links: ["https://x/y"]))
        #expect(String(decoding: unsigned.encoded(), as: UTF8.self)
            == #"{"incident":"u","name":"dummy","results":{"actions":["jira"],"analysis":"a/b","json":"{}","links":["https://x/y"]},"status":"failed"}"#)
    }

    @Test func theSignatureRoundTripsThroughTheWireSchema() throws {
        let signed = ResultSignature.signed(Self.result, key: Self.key)
        let bytes = signed.encoded()
        let object = try JSONValue.parseObject(bytes)
        #expect(object["signature"] == .string(Self.expected))
        let decoded = try RecipeResult.decode(bytes)
        #expect(decoded == signed)
        #expect(ResultSignature.verify(decoded, key: Self.key))
        #expect(try JSONDecoder().decode(RecipeResult.self, from: bytes) == signed)
        // A signed result from another SDK: the signature is a top-level field, anywhere in the object.
        let foreign = try RecipeResult.decode(Data(#"""
            {"signature": "\#(ResultSignature.sign(RecipeResult(incident: "u", name: "n", status: .successful), key: "k"))",
             "incident": "u", "name": "n", "status": "SUCCESSFUL"}
            """#.utf8))
        #expect(ResultSignature.verify(foreign, key: "k"))
    }

    @Test func aSignatureThatIsNotAStringIsNamed() {
        #expect(throws: JSONInputError(message: "must be a string", path: "signature")) {
            try RecipeResult.decode(Data(#"{"incident":"u","name":"n","signature":42}"#.utf8))
        }
        #expect(throws: JSONInputError(message: "must be a string", path: "signature")) {
            try RecipeResult.decode(Data(#"{"incident":"u","name":"n","signature":["sha256=00"]}"#.utf8))
        }
        // null is as good as absent, as for the other fields.
        #expect((try? RecipeResult.decode(Data(#"{"incident":"u","name":"n","signature":null}"#.utf8)))?.signature == nil)
    }
}
