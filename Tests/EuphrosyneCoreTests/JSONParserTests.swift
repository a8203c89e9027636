import Foundation
import Testing

@testable import EuphrosyneCore

@Suite struct JSONParserTests {
    static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Data(text.utf8)) }

    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5e3,"g":"","h":[]}"#,
        #"  [ 1 , 2.0 , -0 , 1e2 , 1E-2 , 9223372036854775807 , -9223372036854775808 , 12345678901234567890 ]  "#,
        #""caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t""#,
        #"{"nested":{"deeper":{"deepest":[[[{"x":"y"}]]]}}}"#,
        "\"plain ünïcödé 😀\"",
        "0", "-1", "true", "null",
    ])
    func agreesWithJSONDecoderOnValidInput(text: String) throws {
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try Self.parse(text) == expected)
    }

    @Test func keepsIntegersExactAndOtherNumbersAsDoubles() throws {
        #expect(try Self.parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(try Self.parse("1.5") == .number(1.5))
        #expect(try Self.parse("2.0") == .integer(2))
        #expect(try Self.parse("1e20") == .number(1e20))
    }

    @Test(arguments: [
        ("", "unexpected end of input; expected a value at byte 0"),
        ("{", "expected a string key at byte 1"),
        (#"{"a" 1}"#, "expected ':' after a key at byte 5"),
        (#"{"a":1,}"#, "expected a string key at byte 7"),
        ("[1 2]", "expected ',' or ']' in an array at byte 3"),
        ("[1,]", "unexpected character ']'; expected a value at byte 3"),
        ("tru", "unexpected end of input in a literal at byte 0"),
        ("nul!", "invalid literal; expected null at byte 0"),
        (#""abc"#, "unterminated string at byte 4"),
        ("\"a\u{01}b\"", "control character in a string at byte 2"),
        (#""\x""#, "invalid escape at byte 2"),
        (#""\ud83d""#, "unpaired surrogate in a \\u escape at byte 7"),
        (#""\u12G4""#, "invalid hex digit in a \\u escape at byte 5"),
        ("01", "unexpected data after the JSON value at byte 1"),
        ("-", "expected a digit at byte 1"),
        ("1.", "expected a digit after '.' at byte 2"),
        ("1e", "expected a digit in the exponent at byte 2"),
        ("1e999", "number out of range at byte 5"),
        ("{} {}", "unexpected data after the JSON value at byte 3"),
    ])
    func refusesMalformedInputSayingWhereAndWhy(text: String, message: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try Self.parse(text) }
        do {
            _ = try Self.parse(text)
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Data([0x22, 0xFF, 0xFE, 0x22])) }
        // Also after ASCII (the ASCII fast path must not take it) and in an escaped string.
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Data([0x22, 0x61, 0xC3, 0x22])) }
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Data([0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22])) }
    }

    @Test func keepsValidNonASCIIText() throws {
        #expect(try Self.parse(#"["plain", "Zürich ✓", "naïve\n🚀"]"#) == .array([
            .string("plain"), .string("Zürich ✓"), .string("naïve\n🚀"),
        ]))
    }

    @Test func capsNesting() throws {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParser.SyntaxError.self) { try Self.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        _ = try Self.parse(fine)
    }

    @Test func parsesTheFixturePayloadsLikeJSONDecoder() throws {
        for name in ["alertmanager-firing", "alertmanager-resolved", "grafana-firing"] {
            let data = try CoreFixtures.data(name, "json")
            #expect(try JSONParser.parse(data) == (try JSONDecoder().decode(JSONValue.self, from: data)))
        }
    }
}
