/// Lowercase hexadecimal text of bytes: signatures, digests and random secrets all print this way (Core's digests and
/// result signatures, the coordinator's secrets, the API's HMAC checks, the Webex callback check).
///
/// Written out by hand: `String(format: "%02x")` per byte once cost a sixth of the CPU of opening an incident.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
