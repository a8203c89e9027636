import EuphrosyneKubernetes
import Foundation
import RecipeKit

/// The blast-radius guard of `cordon-node` and `drain-node`: whether taking one more node out of scheduling leaves
/// the cluster enough room. Pure: `node-diagnostics` runs the same check for its preview, so the approver sees the
/// answer the button will get.
///
/// A node counts as schedulable when it is Ready and not cordoned. The cordon is refused when it would leave fewer
/// than `minSchedulableNodes` schedulable nodes, or more than `maxCordonedFraction` of all nodes cordoned.
struct CordonGuard: Sendable, Hashable {
    var minSchedulableNodes: Int
    var maxCordonedFraction: Double

    /// What cordoning `target` would come to.
    enum Decision: Sendable, Hashable {
        /// The node is cordoned already: nothing to change.
        case alreadyCordoned
        case allowed(Counts)
        case refused(Counts, reason: String)
    }

    /// The cluster after the cordon.
    struct Counts: Sendable, Hashable {
        var total: Int
        var schedulableAfter: Int
        var cordonedAfter: Int

        var cordonedFraction: Double { total == 0 ? 1 : Double(cordonedAfter) / Double(total) }

        /// `4 of 6 nodes would stay schedulable and 2 (33%) would be cordoned`; with `done`, `… stay schedulable and
        /// 2 (33%) are cordoned`.
        func sentence(done: Bool = false) -> String {
            "\(schedulableAfter) of \(total) node\(total == 1 ? "" : "s") \(done ? "stay" : "would stay") schedulable and "
                + "\(cordonedAfter) (\(Int((cordonedFraction * 100).rounded()))%) \(done ? (cordonedAfter == 1 ? "is" : "are") : "would be") cordoned"
        }
    }

    init(minSchedulableNodes: Int = 2, maxCordonedFraction: Double = 0.3) {
        self.minSchedulableNodes = minSchedulableNodes
        self.maxCordonedFraction = maxCordonedFraction
    }

    /// `MIN_SCHEDULABLE_NODES` (default 2) and `MAX_CORDONED_FRACTION` (default 0.3, between 0 and 1); a value
    /// that is not a number in range is an error, not a silent default.
    init(_ environment: RecipeEnvironment) throws(RecipeError) {
        self.init()
        if let text = environment.value("MIN_SCHEDULABLE_NODES") {
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw .failed("MIN_SCHEDULABLE_NODES must be a whole number of nodes, 0 or more; it is \"\(text)\"")
            }
            minSchedulableNodes = value
        }
        if let text = environment.value("MAX_CORDONED_FRACTION") {
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, (0...1).contains(value) else {
                throw .failed("MAX_CORDONED_FRACTION must be a fraction between 0 and 1 (0.3 for 30%); it is \"\(text)\"")
            }
            maxCordonedFraction = value
        }
    }

    func check(cordoning target: String, among nodes: [Node]) -> Decision {
        if nodes.first(where: { $0.metadata.name == target })?.isCordoned == true { return .alreadyCordoned }
        let others = nodes.filter { $0.metadata.name != target }
        let counts = Counts(
            total: nodes.count,
            schedulableAfter: others.filter { $0.isReady && !$0.isCordoned }.count,
            cordonedAfter: others.filter(\.isCordoned).count + 1
        )
        if counts.schedulableAfter < minSchedulableNodes {
            return .refused(counts, reason: "it would leave \(counts.schedulableAfter) schedulable node\(counts.schedulableAfter == 1 ? "" : "s"), fewer than MIN_SCHEDULABLE_NODES (\(minSchedulableNodes))")
        }
        if counts.cordonedFraction > maxCordonedFraction {
            let percent = Int((counts.cordonedFraction * 100).rounded())
            let limit = Int((maxCordonedFraction * 100).rounded())
            return .refused(counts, reason: "it would leave \(counts.cordonedAfter) of \(counts.total) nodes (\(percent)%) cordoned, more than MAX_CORDONED_FRACTION (\(maxCordonedFraction), \(limit)%)")
        }
        return .allowed(counts)
    }
}
