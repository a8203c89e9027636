import ArgumentParser
import EuphrosyneCore
import Foundation

/// `euphrosyne recipes validate FILE`: every problem in a recipe registry, each with its recipe.
struct Recipes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with recipe registries.", subcommands: [Validate.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a recipe registry (a ConfigMap manifest or a file with debugging/actions keys).",
            discussion: "Prints every problem and exits 1 if there is any; otherwise lists the recipes."
        )

        @Argument(help: "The registry file.")
        var file: String

        func run() async throws {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read \(file): \(error.localizedDescription)")
            }
            let (catalog, problems) = RecipeCatalog.load(yaml: text)
            for (kind, recipes) in [("debugging", catalog.debugging), ("action", catalog.actions)] {
                for recipe in recipes {
                    let state = recipe.enabled ? "enabled" : "disabled"
                    let timeout = recipe.timeoutSeconds.map { ", timeout \($0)s" } ?? ""
                    let match = recipe.match.matchers.isEmpty ? "" : ", for alerts matching \(recipe.match)"
                    print("\(kind) \(recipe.name): \(state)\(timeout)\(match), runs \(recipe.arguments.joined(separator: " "))")
                }
            }
            guard problems.isEmpty else {
                for problem in problems { print("\(file): \(problem)") }
                print("\(problems.count) problem\(problems.count == 1 ? "" : "s") found")
                throw ExitCode(1)
            }
            print("\(file): ok (\(catalog.debugging.count) debugging, \(catalog.actions.count) action recipes)")
        }
    }
}
