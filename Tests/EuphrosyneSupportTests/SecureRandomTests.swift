import EuphrosyneSupport
import Foundation
import Testing

@Suite struct SecureRandomTests {
    @Test func givesAsManyBytesAsAskedAndNeverTheSameTwice() {
        for count in [0, 1, 16, 48, 300] { #expect(SecureRandom.bytes(count).count == count) }
        let draws = Set((0..<200).map { _ in SecureRandom.bytes(32) })
        #expect(draws.count == 200)
        // Every byte value turns up in 64 KiB of them: not a constant, not a narrow range.
        #expect(Set(SecureRandom.bytes(1 << 16)).count == 256)
    }

    @Test func drawsThatCrossAPoolRefillOrRunConcurrentlyNeverShareBytes() async {
        // Several refills of the 4 KiB pool, drawn from eight tasks at once: no 32-byte draw turns up twice.
        let draws = await withTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<8 { group.addTask { (0..<300).map { _ in SecureRandom.bytes(32) } } }
            return await group.reduce(into: [[UInt8]]()) { $0 += $1 }
        }
        #expect(draws.count == 2_400)
        #expect(Set(draws).count == 2_400)
        // A draw larger than the pool is whole, too.
        #expect(SecureRandom.bytes(10_000).count == 10_000)
    }

    @Test func uuidsAreVersion4WithTheRFCVariant() {
        var seen = Set<UUID>()
        for _ in 0..<200 {
            let uuid = SecureRandom.uuid(from: SecureRandom.bytes(16)[...])
            let text = uuid.uuidString
            #expect(Array(text)[14] == "4", "\(text)")
            #expect("89AB".contains(Array(text)[19]), "\(text)")
            seen.insert(uuid)
        }
        #expect(seen.count == 200)
        // The other bits are the bytes as given.
        let fixed = SecureRandom.uuid(from: [UInt8](repeating: 0xFF, count: 16)[...])
        #expect(fixed.uuidString == "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF")
    }
}
