import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import RecipeKit
import Testing

/// The recipes every install has: the catalogue lists them, and `dummy` behaves as in the original system.
@Suite struct BuiltinRecipeTests {
    @Test func theCatalogueNamesEveryBuiltInRecipe() {
        #expect(BuiltinRecipes.all.keys.sorted() == [
            "cordon-node", "delete-pod", "drain-node", "dummy", "http-errors", "jira", "network-diagnostics",
            "node-diagnostics", "pod-diagnostics", "prometheus-query", "record", "rollout-restart", "rollout-undo",
            "scale-deployment", "uncordon-node", "webex-room", "webhook",
        ])
    }
}
