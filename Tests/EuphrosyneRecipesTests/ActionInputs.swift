import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import RecipeKit

/// Inputs for action recipes, built the way the engine writes an action's data file (`RecipeDataFile.action`): the
/// approver's data, plus `uuid`, plus the incident's `alert` payload and `analysis` where the data has no such keys.
enum ActionInputs {
    /// An Alertmanager v4 notification with one firing alert (fingerprint `09f827451c0fe9f3`).
    static let alertmanager = #"""
        {"receiver":"reconciler","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"PodCrashLooping","namespace":"shop","pod":"api-7d9f","severity":"critical"},"annotations":{"runbook":"restart-api","summary":"api pod restarting"},"startsAt":"2026-11-28T21:13:44.511671691Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example/graph?g0.expr=up","fingerprint":"09f827451c0fe9f3"}],"groupLabels":{"alertname":"PodCrashLooping"},"commonLabels":{"alertname":"PodCrashLooping","namespace":"shop","pod":"api-7d9f","severity":"critical"},"commonAnnotations":{"runbook":"restart-api","summary":"api pod restarting"},"externalURL":"http://alertmanager.example:9093","version":"4","groupKey":"{}:{alertname=\"PodCrashLooping\"}","truncatedAlerts":0}
        """#

    static func payload(_ json: String = alertmanager) -> [String: JSONValue] {
        // The fixtures are valid JSON objects.
        (try? JSONValue.parseObject(Data(json.utf8))) ?? [:]
    }

    static func input(
        data: [String: JSONValue] = [:], alert: [String: JSONValue] = payload(), analysis: String? = nil,
        incident: String = UUID().uuidString.lowercased()
    ) -> RecipeInput {
        var object = data
        object["uuid"] = .string(incident)
        if object["alert"] == nil { object["alert"] = .object(alert) }
        if object["analysis"] == nil, let analysis { object["analysis"] = .string(analysis) }
        return RecipeInput(incident: incident, data: object)
    }

    static func context(_ name: String, environment: [String: String], input: RecipeInput) -> RecipeContext {
        RecipeContext(
            name: name, arguments: RecipeArguments(dataFilePath: "unused"), environment: RecipeEnvironment(environment),
            input: input
        )
    }

    /// Runs a recipe's work as `RecipeRunner` would judge it: a thrown `RecipeError` is a failed outcome.
    static func outcome(
        _ work: (RecipeContext) async throws -> RecipeOutcome, _ context: RecipeContext
    ) async throws -> RecipeOutcome {
        do {
            return try await work(context)
        } catch let error as RecipeError {
            return .failed(error.message)
        }
    }

    /// A loopback port with nothing listening: one a server had, after it stopped.
    static func closedPort() async throws -> Int {
        try await RunningServer.with([Router(context: BasicRequestContext.self)]) { ports in ports[0] }
    }
}

extension JSONValue {
    /// Every `text` of an ADF tree, joined by spaces (for "the description mentions X" checks).
    var adfText: String {
        switch self {
        case .object(let object):
            var parts: [String] = []
            if object["type"]?.stringValue == "text", let text = object["text"]?.stringValue { parts.append(text) }
            if let content = object["content"] { parts.append(content.adfText) }
            return parts.joined(separator: " ")
        case .array(let array):
            return array.map(\.adfText).joined(separator: " ")
        default:
            return ""
        }
    }
}
