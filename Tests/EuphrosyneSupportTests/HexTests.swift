import EuphrosyneSupport
import Foundation
import Testing

@Suite struct HexTests {
    /// What `Hex` replaced, slow but plainly right.
    private func reference(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    @Test func everyByteValueInContiguousStorage() {
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.lowercase(all) == reference(all))
        #expect(Hex.lowercase(all[16..<48]) == reference(Array(all[16..<48])))
        #expect(Hex.lowercase([UInt8]()) == "")
    }

    @Test func sequencesWithoutContiguousStorage() {
        let bytes = (0..<300).lazy.map { UInt8(truncatingIfNeeded: $0 &* 37) }
        #expect(Hex.lowercase(bytes) == reference(Array(bytes)))
        #expect(Hex.lowercase(Data([0x00, 0xab, 0xff])) == "00abff")
    }
}
