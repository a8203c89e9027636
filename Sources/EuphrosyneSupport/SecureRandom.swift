import Foundation

/// Bytes from the system's cryptographically secure generator (`SystemRandomNumberGenerator`: `getrandom` on
/// Linux), eight at a time: what the coordinator draws an incident's id and callback secret from, once per new
/// incident.
///
/// Foundation's `UUID()` opens and reads `/dev/urandom` for every id on Linux; on the webhook's hottest path (a
/// new alert group) that showed up in profiles.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    /// A random (version 4) UUID made from the first 16 of `bytes`.
    public static func uuid(from bytes: ArraySlice<UInt8>) -> UUID {
        precondition(bytes.count >= 16, "a UUID takes 16 bytes")
        var b = Array(bytes.prefix(16))
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                           b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
