import ArgumentParser
import Foundation

/// `euphrosyne approve UUID ACTION [--data k=v …]`: approves actions for an incident through the API.
struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve actions for an incident.")

    @Argument(help: "The incident UUID.")
    var uuid: String

    @Argument(help: "The action recipes to run.")
    var actions: [String]

    @Option(name: .customLong("data"), help: "Data for the actions as key=value (repeatable).")
    var data: [String] = []

    @Option(help: "API listener URL. (EUPHROSYNE_API_URL, default http://127.0.0.1:8081)")
    var apiURL: String?

    func validate() throws {
        guard !actions.isEmpty else { throw ValidationError("name at least one action") }
        for pair in data where !pair.contains("=") || pair.hasPrefix("=") {
            throw ValidationError("--data takes key=value, not \"\(pair)\"")
        }
    }

    func run() async throws {
        var values: [String: String] = [:]
        for pair in data {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[String(parts[0])] = String(parts[1])
        }
        let body: [String: Any] = ["uuid": uuid, "actions": actions.map { ["name": $0, "data": values] }]
        let base = APIClient.baseURL(apiURL, variable: "EUPHROSYNE_API_URL", default: "http://127.0.0.1:8081")
        let answer = try await APIClient.send(
            method: "POST", url: base + "/api/actions", body: try JSONSerialization.data(withJSONObject: body)
        )
        guard (200..<300).contains(answer.status) else {
            FileHandle.standardError.write(Data("approval refused: \(APIClient.errorMessage(answer))\n".utf8))
            throw ExitCode(1)
        }
        print(answer.text)
    }
}
