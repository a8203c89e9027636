import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Bytes from the system's cryptographically secure generator: what the coordinator draws an incident's id and
/// callback secret from, once per new incident.
///
/// The bytes come from a pool refilled 4 KiB at a time (`getentropy`, which is `getrandom` on Linux), so a
/// new alert group costs no system call of its own: drawing 48 bytes eight at a time through
/// `SystemRandomNumberGenerator` was six `getrandom` calls per incident. Each byte is handed out once. Foundation's
/// `UUID()`, which opens and reads `/dev/urandom` for every id on Linux, is not used on the hot path either.
public enum SecureRandom {
    private static let poolSize = 4_096
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: SecureRandom.poolSize)
        /// Bytes before this index have been handed out; the pool starts used up.
        var next = SecureRandom.poolSize
    }
    private static let pool = Mutex(Pool())

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "a byte count cannot be negative")
        var result: [UInt8] = []
        result.reserveCapacity(count)
        pool.withLock { pool in
            while result.count < count {
                if pool.next == poolSize {
                    pool.bytes.withUnsafeMutableBytes { fill($0) }
                    pool.next = 0
                }
                let take = min(count - result.count, poolSize - pool.next)
                result.append(contentsOf: pool.bytes[pool.next..<pool.next + take])
                // Handed out once: what a caller holds is not left behind for a later one to see.
                for index in pool.next..<pool.next + take { pool.bytes[index] = 0 }
                pool.next += take
            }
        }
        return result
    }

    /// Fills `buffer` from the kernel's generator (`getentropy`, at most 256 bytes a call); a failure here leaves
    /// nothing safe to fall back on.
    private static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var filled = 0
        while filled < buffer.count {
            let chunk = min(256, buffer.count - filled)
            guard getentropy(buffer.baseAddress! + filled, chunk) == 0 else {
                fatalError("getentropy failed: errno \(errno)")
            }
            filled += chunk
        }
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
