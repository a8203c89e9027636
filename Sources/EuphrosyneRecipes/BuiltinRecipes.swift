import EuphrosyneCore
import Foundation
import RecipeKit

/// The built-in recipes, by name: what `euphrosyne-recipes NAME` runs. A library so tests call each recipe's
/// work directly against fake or real counterparts; each recipe lives in a file of its own.
public enum BuiltinRecipes {
    public static let all: [String: RecipeRunner.Work] = [
        "cordon-node": cordonNode,
        "drain-node": drainNode,
        "delete-pod": deletePod,
        "dummy": dummy,
        "http-errors": httpErrors,
        "pod-diagnostics": podDiagnostics,
        "jira": jira,
        "network-diagnostics": networkDiagnostics,
        "node-diagnostics": nodeDiagnostics,
        "prometheus-query": prometheusQuery,
        "record": record,
        "rollout-restart": rolloutRestart,
        "rollout-undo": rolloutUndo,
        "scale-deployment": scaleDeployment,
        "uncordon-node": uncordonNode,
        "webhook": webhook,
        "webex-room": webexRoom,
    ]

    /// `dummy` (debugging), as in the original system: a fixed analysis of the alert that suggests `jira`.
    /// `DUMMY_SUGGEST` (comma-separated) replaces the suggested actions; `DUMMY_DELAY_SECONDS` makes it take
    /// that long, to see recipes run in parallel.
    @Sendable public static func dummy(_ context: RecipeContext) async throws -> RecipeOutcome {
        let environment = context.environment.variables
        if let delay = environment["DUMMY_DELAY_SECONDS"].flatMap(Double.init), delay > 0 {
            try await Task.sleep(for: .seconds(delay))
        }
        let suggested = environment["DUMMY_SUGGEST"].map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        } ?? ["jira"]
        let alert = context.input.alert
        return .successful(
            "Dummy analysis of \(alert.summary): nothing was inspected; this recipe only proves the loop works.",
            actions: suggested
        )
    }

    /// `record` (action): appends one JSON line describing the approval to a file, so a local demo has an action
    /// whose effect can be seen. The file is the approval's `file` data, else `RECORD_FILE`.
    @Sendable public static func record(_ context: RecipeContext) async throws -> RecipeOutcome {
        guard let path = context.input.string("file") ?? context.environment.value("RECORD_FILE"),
              !path.isEmpty
        else {
            throw RecipeError.failed("no file to record to: give \"file\" in the approval data or set RECORD_FILE")
        }
        var entry = context.input.data.filter { !["analysisLinks", "suggestedActions"].contains($0.key) }
        entry["recordedAt"] = .string(RFC3339.formatWithMilliseconds(Date()))
        entry["alert"] = .string(context.input.alert.summary)
        entry["analysis"] = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = try encoder.encode(JSONValue.object(entry)) + Data("\n".utf8)

        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true
            )
            if !FileManager.default.fileExists(atPath: url.path) {
                _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        } catch {
            throw RecipeError.failed("cannot append to \(path): \(error.localizedDescription)")
        }
        return .successful("Recorded the approval of incident \(context.input.incident) in \(url.path).")
    }
}
