/// Comparison of secrets whose time does not depend on where the inputs differ, so a caller cannot find a token,
/// a callback secret or a signature byte by byte from how long a refusal takes. Used by every check of a secret
/// the reconciler is sent: API and webhook tokens, HMAC signatures, callback URLs, Webex callbacks.
public enum ConstantTime {
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0 && lhs.count == rhs.count
    }
}
