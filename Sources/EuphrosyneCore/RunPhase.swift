/// Which runs of an incident a clean-up covers: its diagnosis, one approval's actions, or everything.
public enum RunPhase: Sendable, Hashable {
    case debugging
    case approval(Int)
    case all

    /// The value of the `euphrosyne.io/phase` label of the Jobs and ConfigMaps of this phase.
    public var label: String? {
        switch self {
        case .debugging: return "debugging"
        case .approval(let id): return "approval-\(id)"
        case .all: return nil
        }
    }
}
