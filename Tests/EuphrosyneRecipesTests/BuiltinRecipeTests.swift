import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import RecipeKit
import Testing

/// The recipes every install has: the catalogue lists them, and `dummy` behaves as in the original system.
@Suite struct BuiltinRecipeTests {
    @Test func theCatalogueNamesEveryBuiltInRecipe() {
        #expect(BuiltinRecipes.all.keys.sorted() == [
            "dummy", "http-errors", "jira", "pod-diagnostics", "prometheus-query", "record", "webex-room", "webhook",
        ])
    }
}
