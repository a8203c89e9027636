/// JSON written by hand for the answers of the hottest route (`/webhook`), byte for byte what `JSONResponse`'s
/// encoder writes (sorted keys, slashes not escaped), without a `JSONEncoder` per request.
enum JSONText {
    /// Appends `text` as a JSON string literal, escaped as `JSONEncoder` escapes it.
    static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(digits[Int(byte >> 4)])
                output.append(digits[Int(byte & 0x0f)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

extension WebhookRoutes.Received {
    /// This answer as `JSONResponse.make` would encode it.
    var json: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(160)
        output.append(contentsOf: Array(#"{"new":"#.utf8))
        output.append(contentsOf: Array((new ? "true" : "false").utf8))
        output.append(contentsOf: Array(#","outcome":"#.utf8))
        JSONText.appendString(outcome, to: &output)
        if let reason {
            output.append(contentsOf: Array(#","reason":"#.utf8))
            JSONText.appendString(reason, to: &output)
        }
        output.append(contentsOf: Array(#","recipes":["#.utf8))
        for (index, recipe) in recipes.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONText.appendString(recipe, to: &output)
        }
        output.append(UInt8(ascii: "]"))
        if let state {
            output.append(contentsOf: Array(#","state":"#.utf8))
            JSONText.appendString(state, to: &output)
        }
        if let uuid {
            output.append(contentsOf: Array(#","uuid":"#.utf8))
            JSONText.appendString(uuid, to: &output)
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}
