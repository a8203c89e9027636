import EuphrosyneCore
import RecipeKit

extension RecipeEnvironment {
    /// The actions a diagnosis suggests, from `name` (`POD_DIAGNOSTICS_SUGGEST`…): comma-separated names, `none` for
    /// none, `fallback` when unset.
    func suggestedActions(_ name: String, fallback: [String]) -> [String] {
        guard let list = value(name) else { return fallback }
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names == ["none"] ? [] : names
    }
}

extension AlertNotification {
    /// `its labels are alertname, node` (or `it has no labels at all`): how a recipe that found nothing to work on
    /// says what the alert had instead. The labels of `alerts` (default: all of them) and the common labels.
    func labelsSentence(of alerts: [Alert]? = nil) -> String {
        let names = Set((alerts ?? self.alerts).flatMap(\.labels.keys)).union(commonLabels.keys).sorted()
        return names.isEmpty ? "it has no labels at all" : "its labels are " + names.joined(separator: ", ")
    }
}
