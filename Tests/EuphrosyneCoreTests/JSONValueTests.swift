import Foundation
import Testing
@testable import EuphrosyneCore

@Suite struct JSONValueTests {
    private func parse(_ text: String) throws -> [String: JSONValue] {
        try JSONValue.parseObject(Data(text.utf8))
    }

    @Test func decodesEveryKind() throws {
        let object = try parse(#"{"n":null,"t":true,"f":false,"i":42,"d":93.1,"s":"x","a":[1,"y"],"o":{"k":"v"}}"#)
        #expect(object["n"] == .null)
        #expect(object["t"] == .bool(true))
        #expect(object["f"] == .bool(false))
        #expect(object["i"] == .integer(42))
        #expect(object["d"] == .number(93.1))
        #expect(object["s"] == .string("x"))
        #expect(object["a"] == .array([.integer(1), .string("y")]))
        #expect(object["o"] == .object(["k": .string("v")]))
    }

    @Test func keepsLargeIntegersExactly() throws {
        let object = try parse(#"{"big":9007199254740993,"neg":-9223372036854775808}"#)
        // 2^53 + 1 is not representable as a Double; it must survive as Int64.
        #expect(object["big"] == .integer(9_007_199_254_740_993))
        #expect(object["neg"] == .integer(Int64.min))
    }

    @Test func integersBeyondInt64FallBackToDouble() throws {
        let object = try parse(#"{"huge":18446744073709551616}"#)
        #expect(object["huge"] == .number(18_446_744_073_709_551_616))
    }

    @Test func booleansAreNotNumbers() throws {
        let object = try parse(#"{"one":1,"yes":true}"#)
        #expect(object["one"] == .integer(1))
        #expect(object["yes"] == .bool(true))
    }

    @Test func conveniences() {
        let value: JSONValue = .object(["name": .string("api"), "list": .array([.null]), "n": .integer(3)])
        #expect(value["name"]?.stringValue == "api")
        #expect(value["missing"] == nil)
        #expect(value["list"]?.arrayValue == [.null])
        #expect(value.objectValue?.count == 3)
        #expect(value["n"]?.stringValue == nil)
        #expect(value.stringValue == nil)
        #expect(value.arrayValue == nil)
        #expect(JSONValue.string("x")["name"] == nil)
        #expect(JSONValue.array([])["0"] == nil)
        #expect(JSONValue.number(2.0).integerValue == 2)
        #expect(JSONValue.number(2.5).integerValue == nil)
        #expect(JSONValue.integer(7).doubleValue == 7)
    }

    @Test func roundTripsThroughEncoding() throws {
        let original: JSONValue = .object([
            "a": .array([.integer(1), .number(1.5), .bool(false), .null, .string("é\n\"")]),
            "o": .object(["nested": .object([:])]),
        ])
        let encoded = try JSONEncoder().encode(original)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: encoded)
        #expect(decoded == original)
    }

    @Test func malformedJSONIsReported() {
        let error = #expect(throws: JSONInputError.self) {
            try JSONValue.parseObject(Data(#"{"a": }"#.utf8))
        }
        #expect(error?.message == "malformed JSON: unexpected character '}'; expected a value at byte 6")
    }

    @Test func emptyBodyIsMalformed() {
        let error = #expect(throws: JSONInputError.self) {
            try JSONValue.parseObject(Data())
        }
        #expect(error?.message == "malformed JSON: unexpected end of input; expected a value at byte 0")
    }

    @Test(arguments: [
        ("[1,2]", "expected a JSON object, got an array"),
        ("\"text\"", "expected a JSON object, got a string"),
        ("12", "expected a JSON object, got a number"),
        ("true", "expected a JSON object, got a boolean"),
        ("null", "expected a JSON object, got null"),
    ])
    func nonObjectTopLevelIsRejected(body: String, message: String) {
        let error = #expect(throws: JSONInputError.self) {
            try JSONValue.parseObject(Data(body.utf8))
        }
        #expect(error?.message == message)
        #expect(error?.path == nil)
    }

    @Test func errorDescriptionIncludesPath() {
        let error = JSONInputError(message: "bad", path: "alerts[0]")
        #expect(error.description == "alerts[0]: bad")
        #expect(JSONInputError(message: "bad").description == "bad")
    }
}
