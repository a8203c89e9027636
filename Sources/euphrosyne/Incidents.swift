import ArgumentParser
import Foundation

/// `euphrosyne incidents [UUID]`: lists incidents, newest first, or shows one.
struct Incidents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List incidents, or show one in full.")

    @Argument(help: "An incident UUID to show in full.")
    var uuid: String?

    @Option(help: "How many incidents to list.")
    var limit: Int = 20

    @Flag(help: "Print the API's JSON as it is.")
    var json = false

    @Option(help: "API listener URL. (EUPHROSYNE_API_URL, default http://127.0.0.1:8081)")
    var apiURL: String?

    func run() async throws {
        let base = APIClient.baseURL(apiURL, variable: "EUPHROSYNE_API_URL", default: "http://127.0.0.1:8081")
        let url = uuid.map { base + "/api/incidents/\($0)" } ?? base + "/api/incidents?limit=\(limit)"
        let answer = try await APIClient.send(method: "GET", url: url)
        guard answer.status == 200 else {
            FileHandle.standardError.write(Data("\(APIClient.errorMessage(answer))\n".utf8))
            throw ExitCode(1)
        }
        guard !json, let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any] else {
            print(answer.text)
            return
        }
        if uuid == nil { printList(object) } else { printDetail(object) }
    }

    private func printList(_ page: [String: Any]) {
        let incidents = page["incidents"] as? [[String: Any]] ?? []
        if incidents.isEmpty {
            print("no incidents")
            return
        }
        for incident in incidents {
            let alert = incident["alert"] as? [String: Any]
            let actions = (incident["suggestedActions"] as? [String] ?? []).joined(separator: ",")
            print([
                incident["uuid"] as? String ?? "?",
                (incident["state"] as? String ?? "?").padding(toLength: 10, withPad: " ", startingAt: 0),
                incident["createdAt"] as? String ?? "",
                alert?["summary"] as? String ?? "",
                actions.isEmpty ? "" : "[suggests \(actions)]",
            ].joined(separator: "  "))
        }
        print("\(incidents.count) of \(page["total"] as? Int ?? incidents.count) incidents")
    }

    private func printDetail(_ incident: [String: Any]) {
        let alert = incident["alert"] as? [String: Any]
        print("incident \(incident["uuid"] as? String ?? "?"): \(incident["state"] as? String ?? "?")")
        print("alert:    \(alert?["summary"] as? String ?? "")")
        print("opened:   \(incident["createdAt"] as? String ?? "")")
        if let reason = incident["closedReason"] as? String { print("closed:   \(reason)") }
        print("runs:")
        for run in incident["runs"] as? [[String: Any]] ?? [] {
            let reason = (run["failureReason"] as? String).map { " — \($0)" } ?? ""
            print("  \(run["kind"] as? String ?? "")\t\(run["name"] as? String ?? "")\t\(run["state"] as? String ?? "")\(reason)")
        }
        if let analysis = incident["analysis"] as? [String: Any], let text = analysis["text"] as? String {
            print("analysis:\n" + text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        }
        let actions = incident["suggestedActions"] as? [String] ?? []
        if !actions.isEmpty { print("suggested actions: \(actions.joined(separator: ", "))") }
        for approval in incident["approvals"] as? [[String: Any]] ?? [] {
            let names = (approval["actions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            let outcome = ((approval["outcome"] as? [String: Any])?["text"] as? String) ?? "running"
            print("approval \(approval["id"] as? Int ?? 0) (\(names.joined(separator: ", "))): \(outcome)")
        }
    }
}
