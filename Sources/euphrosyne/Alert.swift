import ArgumentParser
import Foundation

/// `euphrosyne alert FILE`: posts a sample alert to the webhook listener, as Alertmanager would.
struct Alert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post an alert payload (Alertmanager, Grafana or any JSON object) to the webhook listener."
    )

    @Argument(help: "JSON file with the payload, or - for standard input.")
    var file: String

    @Option(help: "Webhook listener URL. (EUPHROSYNE_WEBHOOK_URL, default http://127.0.0.1:8080)")
    var webhookURL: String?

    func run() async throws {
        let body: Data
        do {
            body = file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let base = APIClient.baseURL(webhookURL, variable: "EUPHROSYNE_WEBHOOK_URL", default: "http://127.0.0.1:8080")
        let answer = try await APIClient.send(method: "POST", url: base + "/webhook", body: body)
        guard (200..<300).contains(answer.status) else {
            FileHandle.standardError.write(Data("alert refused: \(APIClient.errorMessage(answer))\n".utf8))
            throw ExitCode(1)
        }
        print(answer.text)
    }
}
