/// One thing wrong with the recipe catalog configuration.
///
/// `RecipeCatalog.load` reports every problem it finds and still loads the valid recipes, so
/// one typo does not take down the whole catalog; the server logs these and shows them in its
/// API so operators can fix the ConfigMap.
public struct CatalogProblem: Sendable, Hashable, CustomStringConvertible {
    /// The section concerned; nil for problems with the file as a whole.
    public var kind: RecipeKind?
    /// The recipe concerned; nil for problems with a whole section or file.
    public var recipe: String?
    public var message: String

    public init(kind: RecipeKind? = nil, recipe: String? = nil, message: String) {
        self.kind = kind
        self.recipe = recipe
        self.message = message
    }

    /// E.g. `debugging recipe "Bad_Name": name must be a DNS-1123 label (...)`.
    public var description: String {
        switch (kind, recipe) {
        case (let kind?, let recipe?):
            return "\(kind.rawValue) recipe \"\(recipe)\": \(message)"
        case (nil, let recipe?):
            return "recipe \"\(recipe)\": \(message)"
        case (let kind?, nil):
            return "\(kind.rawValue) recipes: \(message)"
        case (nil, nil):
            return message
        }
    }
}
