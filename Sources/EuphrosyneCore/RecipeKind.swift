/// The two sections of the recipe catalog.
///
/// Debugging recipes run automatically when an incident opens; action recipes (open a Jira
/// issue, restart a pod…) run only when someone asks for them. Used by `Recipe`,
/// `CatalogProblem` and `RecipeCatalog`.
public enum RecipeKind: String, Sendable, Codable, Hashable {
    case debugging
    case action

    /// The ConfigMap data key that holds recipes of this kind.
    public var dataKey: String {
        switch self {
        case .debugging: return "debugging"
        case .action: return "actions"
        }
    }
}
