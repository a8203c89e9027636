import EuphrosyneCore

/// How a result reached the coordinator, which decides what it must prove before its incident takes it.
///
/// Given to `IncidentCoordinator.deliver` by whoever hands the result over: the HTTP callback route says `.callback`,
/// the coordinator itself says `.published` for what it drains from a `ResultSource` (Redis).
public enum ResultOrigin: String, Sendable, Hashable {
    /// POSTed to the incident's callback URL, whose secret already authenticates it: a signature is verified when
    /// present but not required.
    case callback
    /// Published where anyone with access may publish (a Redis channel, its durable list): a signature is verified
    /// when present, and required when `CoordinatorConfiguration.requireSignedResults` is on.
    case published

    /// Why a result is refused, or nil when it may go to its incident. `key` is the incident's result key.
    public func refusal(of result: RecipeResult, key: String, requiringSignatures: Bool) -> ResultRefusal? {
        guard result.signature != nil else {
            return self == .published && requiringSignatures ? .unsigned : nil
        }
        return ResultSignature.verify(result, key: key) ? nil : .badSignature
    }
}

/// Why the coordinator refused a result before its incident saw it.
public enum ResultRefusal: String, Sendable, Hashable, CustomStringConvertible {
    /// The signature does not verify under the incident's key: forged, or for another incident.
    case badSignature = "bad_signature"
    /// Unsigned, from a source anyone may publish to, while signatures are required.
    case unsigned

    /// The `reason` label of `euphrosyne_results_refused_total`.
    public var label: String { rawValue }

    public var description: String {
        switch self {
        case .badSignature: "the result's signature does not verify with its incident's key"
        case .unsigned: "the result is unsigned and signed results are required"
        }
    }
}
