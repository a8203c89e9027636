import EuphrosyneCore
import Foundation
import Testing

/// Routes from the routes file: matchers as recipes write them, recipes, a destination per chat, the first match
/// wins, and every mistake in the file is named.
@Suite struct ChatRoutesTests {
    /// The card of an incident whose firing alerts have these labels, diagnosed by `recipes`.
    static func card(alerts: [[String: String]], recipes: [String] = []) -> IncidentCard {
        var incident = Incident(id: UUID(), payload: [
            "version": .string("4"), "status": .string("firing"),
            "alerts": .array(alerts.map { .object(["status": .string("firing"), "labels": .object($0.mapValues(JSONValue.string))]) }),
        ], callbackSecret: "s", at: Date(timeIntervalSince1970: 0))
        incident.runs = recipes.enumerated().map { index, recipe in
            RecipeRun(id: index + 1, recipe: recipe, kind: .debugging, description: recipe, name: recipe, timeoutSeconds: 60,
                      createdAt: Date(timeIntervalSince1970: 0))
        }
        return IncidentCard(incident)
    }

    static let yaml = """
        routes:
          - match: '{team="payments", severity=~"critical|page"}'
            slack: C0PAYMENTS
            webex: ROOM-PAYMENTS
          - match: ['severity="critical"']
            recipes: [node-diagnostics]
            slack: C0NODES
          - match: team="web"
            webex: ROOM-WEB
        """

    @Test func theFirstRouteThatMatchesAndNamesTheChatWins() throws {
        let routes = try ChatRoutes(yaml: Self.yaml)
        #expect(routes.routes.count == 3)
        let payments = Self.card(alerts: [["team": "payments", "severity": "page"]], recipes: ["pod-diagnostics"])
        #expect(routes.destination(in: "slack", for: payments) == "C0PAYMENTS")
        #expect(routes.destination(in: "webex", for: payments) == "ROOM-PAYMENTS")
        // Any firing alert of the group can match.
        let mixed = Self.card(alerts: [["team": "shop"], ["team": "web"]])
        #expect(routes.destination(in: "webex", for: mixed) == "ROOM-WEB")
        #expect(routes.destination(in: "slack", for: mixed) == nil, "the default channel")
        // A route naming recipes needs one of them to have diagnosed the incident.
        let node = Self.card(alerts: [["severity": "critical"]], recipes: ["node-diagnostics"])
        #expect(routes.destination(in: "slack", for: node) == "C0NODES")
        let pod = Self.card(alerts: [["severity": "critical"]], recipes: ["pod-diagnostics"])
        #expect(routes.destination(in: "slack", for: pod) == nil)
        #expect(routes.destinations(in: "slack") == ["C0PAYMENTS", "C0NODES"])
        #expect(try ChatRoutes(yaml: "").routes.isEmpty)
    }

    @Test(arguments: [
        ("routes: {}", #""routes" must be a list, got a mapping"#),
        ("- slack: C1", #"the routes file must be a mapping with a "routes" list"#),
        ("routes: []\nextra: 1", #"unknown field "extra""#),
        ("routes:\n  - slack: C1\n    channel: C2", #"route 1: unknown field string "channel""#),
        ("routes:\n  - match: 'team=payments'", "route 1: names no destination"),
        ("routes:\n  - match: 'team=~\"(\"'\n    slack: C1", #"route 1: "match""#),
        ("routes:\n  - recipes: node\n    slack: C1", #"route 1: "recipes" must be a list of recipe names"#),
        ("routes:\n  - slack: C1\n  - webex: ''", #"route 2: "webex" must be a room id"#),
        ("routes: [", "not valid YAML"),
    ])
    func mistakesAreNamed(yaml: String, message: String) {
        #expect {
            _ = try ChatRoutes(yaml: yaml)
        } throws: { error in
            (error as? ChatRoutesError)?.message.contains(message) == true
        }
    }
}
