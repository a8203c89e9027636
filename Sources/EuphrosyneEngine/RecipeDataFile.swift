import EuphrosyneCore
import Foundation

/// Builds the `data.json` a recipe reads: what the original system wrote into the per-incident ConfigMap.
enum RecipeDataFile {
    /// For a debugging recipe: the incoming alert JSON plus `"uuid"`.
    static func debugging(payload: [String: JSONValue], incident: UUID) -> Data {
        var object = payload
        object["uuid"] = .string(incident.uuidString.lowercased())
        return encode(object)
    }

    /// For an action recipe: the approver's data plus `"uuid"`, and — where the data does not already use those
    /// keys — the incident's `"alert"` payload, `"analysis"` text, `"analysisLinks"` and `"suggestedActions"`, so an
    /// action like Jira or webex-room can describe it. RecipeKit's `RecipeInput.approverData` leaves these out.
    static func action(data: [String: JSONValue], incident: Incident) -> Data {
        var object = data
        object["uuid"] = .string(incident.id.uuidString.lowercased())
        if object["alert"] == nil { object["alert"] = .object(incident.payload) }
        if let analysis = incident.analysis {
            if object["analysis"] == nil { object["analysis"] = .string(analysis.text) }
            if object["analysisLinks"] == nil, !analysis.links.isEmpty {
                object["analysisLinks"] = .array(analysis.links.map { .string($0) })
            }
            if object["suggestedActions"] == nil, !analysis.actions.isEmpty {
                object["suggestedActions"] = .array(analysis.actions.map { .string($0) })
            }
        }
        return encode(object)
    }

    private static func encode(_ object: [String: JSONValue]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A JSONValue tree always encodes, except non-finite numbers, which JSON parsing never produces.
        return (try? encoder.encode(JSONValue.object(object))) ?? Data("{}".utf8)
    }
}
