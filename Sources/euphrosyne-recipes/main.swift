import EuphrosyneCore
import EuphrosyneRecipes
import Foundation
import RecipeKit

// The built-in recipes as one multi-call executable: `euphrosyne-recipes NAME --data-file-path …`, or a link to
// this binary named after the recipe.

let programName = URL(fileURLWithPath: CommandLine.arguments.first ?? "euphrosyne-recipes").lastPathComponent
var arguments = Array(CommandLine.arguments.dropFirst())
let recipeName: String
if BuiltinRecipes.all[programName] != nil {
    recipeName = programName
} else if let first = arguments.first, BuiltinRecipes.all[first] != nil {
    recipeName = first
    arguments.removeFirst()
} else {
    let known = BuiltinRecipes.all.keys.sorted().joined(separator: ", ")
    FileHandle.standardError.write(Data("""
        usage: euphrosyne-recipes RECIPE --data-file-path PATH --aggregator-address ADDR --redis-address HOST:PORT
        recipes: \(known)

        """.utf8))
    exit(2)
}

exit(await RecipeRunner.run(name: recipeName, arguments: arguments, work: BuiltinRecipes.all[recipeName]!))
