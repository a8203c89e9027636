import EuphrosyneCore

/// Supplies the current recipe catalog: from a file in local mode, from the ConfigMap in a cluster.
///
/// The coordinator asks for it once per incident and per approval, so an edited registry takes effect for the
/// next one.
public protocol RecipeRegistry: Sendable {
    /// Runs on the caller's executor (`nonisolated(nonsending)`), so asking costs the coordinator no hop.
    nonisolated(nonsending) func catalog() async -> RecipeCatalog
}

/// A registry fixed at start-up, e.g. loaded once from `--recipes FILE`.
public struct StaticRecipeRegistry: RecipeRegistry {
    public let fixedCatalog: RecipeCatalog

    public init(_ catalog: RecipeCatalog) {
        self.fixedCatalog = catalog
    }

    public nonisolated(nonsending) func catalog() async -> RecipeCatalog { fixedCatalog }
}
