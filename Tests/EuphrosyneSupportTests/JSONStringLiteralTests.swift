import EuphrosyneSupport
import Foundation
import Testing

@Suite struct JSONStringLiteralTests {
    @Test(arguments: [
        "", "plain", #"a "quoted" word"#, #"back\slash"#, "line\nbreak\r\ttab", "bell\u{07}\u{08}\u{0C}\u{1F}",
        "path/with/slashes", "Zürich ✓ 🚀", "\u{7F}",
    ])
    func writesWhatJSONEncoderWrites(text: String) throws {
        var output: [UInt8] = []
        JSONStringLiteral.append(text, to: &output)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        #expect(String(decoding: output, as: UTF8.self) == String(decoding: try encoder.encode(text), as: UTF8.self))
        // And it reads back as the same text.
        #expect(try JSONDecoder().decode(String.self, from: Data(output)) == text)
    }
}
