/// Lowercase hexadecimal text of bytes: signatures, digests and random secrets all print this way (Core's digests and
/// result signatures, the coordinator's secrets, the API's HMAC checks, the Webex callback check).
///
/// Written out by hand: `String(format: "%02x")` per byte once cost a sixth of the CPU of opening an incident.
public enum Hex {
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ lowercase(buffer: $0) }) { return text }
        return Array(bytes).withUnsafeBufferPointer { lowercase(buffer: $0) }
    }

    /// The text written straight into the string's storage: no intermediate array, no per-byte growth checks.
    private static func lowercase(buffer bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            let digits: StaticString = "0123456789abcdef"
            let digit = digits.utf8Start
            for (index, byte) in bytes.enumerated() {
                text[2 * index] = digit[Int(byte >> 4)]
                text[2 * index + 1] = digit[Int(byte & 0x0f)]
            }
            return bytes.count * 2
        }
    }
}
