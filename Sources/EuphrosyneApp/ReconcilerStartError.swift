/// Why the reconciler cannot start (an unreadable registry, an unusable Redis address, missing permissions); `serve`
/// logs it and exits with status 1.
public struct ReconcilerStartError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
