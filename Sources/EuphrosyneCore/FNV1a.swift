/// FNV-1a, 64 bits: a small hash that is the same in every process (unlike `Hasher`), for names and keys that must
/// come out alike on every replica and after a restart (`RecipeRun.jobStyleName`, `NotificationKey`). Not for
/// anything an attacker may choose to collide.
enum FNV1a {
    static func hash64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
