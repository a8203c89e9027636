import EuphrosyneCore
import Foundation

/// What a recipe reads from its data file: the incident UUID and, for a debugging recipe, the alert notification
/// that opened it (for an action recipe, the approver's data).
public struct RecipeInput: Sendable {
    /// The incident UUID, as the reconciler wrote it.
    public var incident: String
    /// The whole data file as JSON.
    public var data: [String: JSONValue]

    public init(incident: String, data: [String: JSONValue]) {
        self.incident = incident
        self.data = data
    }

    /// The alert notification: the data file itself for a debugging recipe, its `alert` key for an action recipe.
    public var alert: AlertNotification {
        if let nested = data["alert"]?.objectValue { return AlertNotification(raw: nested) }
        var raw = data
        raw["uuid"] = nil
        return AlertNotification(raw: raw)
    }

    /// The keys the reconciler adds to an action's data file beside what the approver gave: the incident's `uuid`,
    /// its `alert` payload, the `analysis` text, its `analysisLinks` and its `suggestedActions`.
    public static let incidentKeys: Set<String> = ["uuid", "alert", "analysis", "analysisLinks", "suggestedActions"]

    /// What the approver gave: the data file without `incidentKeys`.
    public var approverData: [String: JSONValue] { data.filter { !Self.incidentKeys.contains($0.key) } }

    /// A string field of the data file (for action recipes: what the approver gave).
    public func string(_ key: String) -> String? { data[key]?.stringValue }

    /// Reads and checks the data file.
    public static func load(path: String) throws(RecipeError) -> RecipeInput {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .dataFile("cannot read the data file \(path): \(error.localizedDescription)")
        }
        let object: [String: JSONValue]
        do {
            object = try JSONValue.parseObject(contents)
        } catch {
            throw .dataFile("the data file \(path) is not valid: \(error)")
        }
        guard let incident = object["uuid"]?.stringValue, !incident.isEmpty else {
            throw .dataFile("the data file \(path) has no \"uuid\" string")
        }
        return RecipeInput(incident: incident, data: object)
    }
}
