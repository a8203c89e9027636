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
    /// keys — the incident's `"alert"` payload and `"analysis"` text, so an action like Jira can describe it.
    static func action(data: [String: JSONValue], incident: Incident) -> Data {
        var object = data
        object["uuid"] = .string(incident.id.uuidString.lowercased())
        if object["alert"] == nil { object["alert"] = .object(incident.payload) }
        if object["analysis"] == nil, let analysis = incident.analysis { object["analysis"] = .string(analysis.text) }
        return encode(object)
    }

    private static func encode(_ object: [String: JSONValue]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A JSONValue tree always encodes, except non-finite numbers, which JSON parsing never produces.
        return (try? encoder.encode(JSONValue.object(object))) ?? Data("{}".utf8)
    }
}
