import Foundation
import Testing

@testable import EuphrosyneCore

/// The registry's `match` extension: parsed with the recipe, and which recipes an alert notification runs.
@Suite struct RecipeMatchTests {
    static let registry = """
        debugging: |
          http-errors:
            enabled: true
            entrypoint: "http-errors"
            match: 'alertname=~"HTTP.*", severity!="info"'
          pods:
            enabled: true
            entrypoint: "pods"
            match:
              - 'namespace="shop"'
              - pod=~".+"
          everything:
            enabled: true
            entrypoint: "dummy"
          broken:
            enabled: true
            entrypoint: "x"
            match: 'alertname=~"("'
          wrong-type:
            enabled: true
            entrypoint: "x"
            match: 42
        """

    @Test func parsesBothFormsAndReportsBadMatchersPerRecipe() throws {
        let (catalog, problems) = RecipeCatalog.load(yaml: Self.registry)
        #expect(catalog.debugging.map(\.name) == ["everything", "http-errors", "pods"])
        #expect(catalog.debugging(named: "http-errors")?.match == (try AlertMatchers(parsing: #"alertname=~"HTTP.*", severity!="info""#)))
        #expect(catalog.debugging(named: "pods")?.match.matchers.count == 2)
        #expect(catalog.debugging(named: "everything")?.match.matchers.isEmpty == true)
        #expect(problems.map(\.recipe) == ["broken", "wrong-type"])
        #expect(problems.first?.message.hasPrefix("field \"match\": bad matcher") == true)
        #expect(problems.last?.message == "field \"match\" must be a string of matchers or a list of them, got number 42")
    }

    @Test func anAlertRunsOnlyTheRecipesThatMatchOneOfItsAlerts() throws {
        let catalog = RecipeCatalog.load(yaml: Self.registry).catalog
        let shop = AlertNotification(raw: try JSONValue.parseObject(Data(#"""
            {"version":"4","status":"firing","alerts":[
              {"status":"firing","labels":{"alertname":"PodCrashLooping","namespace":"shop","pod":"api-1","severity":"critical"}},
              {"status":"firing","labels":{"alertname":"PodCrashLooping","namespace":"other","severity":"critical"}}]}
            """#.utf8)))
        #expect(catalog.debuggingRecipes(for: shop).map(\.name) == ["everything", "pods"])

        let http = AlertNotification(raw: try JSONValue.parseObject(Data(#"""
            {"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HTTPErrors5xx","severity":"critical"}}]}
            """#.utf8)))
        #expect(catalog.debuggingRecipes(for: http).map(\.name) == ["everything", "http-errors"])

        let info = AlertNotification(raw: try JSONValue.parseObject(Data(#"""
            {"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HTTPErrors5xx","severity":"info"}}]}
            """#.utf8)))
        #expect(catalog.debuggingRecipes(for: info).map(\.name) == ["everything"])

        // A generic payload has no labels: only recipes without `match` (or matching missing labels) run.
        let generic = AlertNotification(raw: ["hello": .string("world")])
        #expect(catalog.debuggingRecipes(for: generic).map(\.name) == ["everything"])
    }

    @Test func matchersSurviveEncoding() throws {
        let recipe = try Recipe(name: "r", kind: .debugging, enabled: true, entrypoint: "r",
                                match: try AlertMatchers(parsing: #"{a=~"x|y", b!="q\"z"}"#))
        let decoded = try JSONDecoder().decode(Recipe.self, from: try JSONEncoder().encode(recipe))
        #expect(decoded == recipe)
    }

    @Test func runForNewAlertsIsAnOptionalBooleanOfDebuggingRecipes() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging: |
              disk:
                enabled: true
                entrypoint: "disk"
                runForNewAlerts: true
              once:
                enabled: true
                entrypoint: "once"
              wrong:
                enabled: true
                entrypoint: "x"
                runForNewAlerts: "sometimes"
            actions: |
              jira:
                enabled: true
                entrypoint: "jira"
                runForNewAlerts: true
            """)
        #expect(catalog.debugging(named: "disk")?.runsForNewAlerts == true)
        #expect(catalog.debugging(named: "once")?.runsForNewAlerts == false)
        #expect(problems.map(\.recipe) == ["wrong", "jira"])
        #expect(problems.first?.message == "field \"runForNewAlerts\" must be a boolean (true or false), got string \"sometimes\"")
        #expect(problems.last?.message == "field \"runForNewAlerts\" applies to debugging recipes only")
    }

    @Test func inputsAreDistinctFieldNamesOfActionRecipes() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging: |
              dummy:
                enabled: true
                entrypoint: "dummy"
                inputs: [summary]
            actions: |
              jira:
                enabled: true
                entrypoint: "jira"
                inputs: [summary, priority]
              plain:
                enabled: true
                entrypoint: "plain"
              twice:
                enabled: true
                entrypoint: "x"
                inputs: [a, a]
              spaced:
                enabled: true
                entrypoint: "x"
                inputs: ["two words"]
              scalar:
                enabled: true
                entrypoint: "x"
                inputs: summary
            """)
        #expect(catalog.action(named: "jira")?.inputs == ["summary", "priority"])
        #expect(catalog.action(named: "plain")?.inputs == [])
        #expect(problems.map(\.recipe) == ["dummy", "twice", "spaced", "scalar"])
        #expect(problems.map(\.message) == [
            "field \"inputs\" applies to action recipes only",
            "field \"inputs\" lists \"a\" twice",
            "field \"inputs\" must hold names of letters, digits, '_' and '-' (at most 64 characters), got \"two words\"",
            "field \"inputs\" must be a list of field names, got string \"summary\"",
        ])
    }
}
