import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import RecipeKit
import Testing

/// The recipes every install has: the catalogue lists them, and `dummy` behaves as in the original system.
@Suite struct BuiltinRecipeTests {
    @Test func theCatalogueNamesEveryBuiltInRecipe() {
        #expect(BuiltinRecipes.all.keys.sorted() == [
            "cordon-node", "drain-node", "dummy", "http-errors", "jira", "node-diagnostics", "pod-diagnostics",
            "prometheus-query", "record", "uncordon-node", "webex-room", "webhook",
        ])
    }
}
