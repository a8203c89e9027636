import ArgumentParser

/// The `euphrosyne` command: the reconciler (`serve`) and small clients for its API.
@main
struct Euphrosyne: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "euphrosyne",
        abstract: "A Kubernetes-native incident reconciler: alerts in, parallel diagnosis, approved actions.",
        subcommands: [Serve.self, Recipes.self, Alert.self, Incidents.self, Approve.self]
    )
}
