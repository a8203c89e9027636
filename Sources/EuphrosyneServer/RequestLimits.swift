import EuphrosyneCore
import Foundation

/// Bounds on what one request may carry, beyond the 1 MiB body limit, so a single caller cannot make the
/// reconciler keep or forward outsized values (approval data goes to recipes, the audit and chat).
///
/// A request over a bound is refused with `400 too_large`, `field` naming where: `actions`, `actions[2].name`,
/// `actions[0].data`, `actions[0].data.summary`, `actions[0].data.items[3]`, `uuid`, `alerts`. Lengths count
/// Unicode code points, as JSON Schema's `maxLength` does (openapi.yaml states the same bounds).
enum RequestLimits {
    /// Actions in one approval.
    static let maxActions = 20
    /// An action name: a Kubernetes object name's limit (registry names are DNS labels, shorter still).
    static let maxActionNameLength = 253
    /// Keys of one action's `data`.
    static let maxDataKeys = 50
    /// Any key inside `data`, nested ones included.
    static let maxDataKeyLength = 256
    /// Any string value inside `data`, nested ones included.
    static let maxDataStringLength = 8192
    /// The `uuid` of `/api/actions` and `/api/status` (a UUID is 36).
    static let maxUUIDLength = 64
    /// Alerts in one `/webhook` notification.
    static let maxAlerts = 1000

    static func tooLarge(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "too_large", message: message, field: field)
    }

    static func checkUUID(_ text: String, field: String = "uuid") throws(APIError) {
        guard text.unicodeScalars.count <= maxUUIDLength else {
            throw tooLarge(field, "\(field) is longer than \(maxUUIDLength) characters")
        }
    }

    static func checkAlerts(_ payload: [String: JSONValue]) throws(APIError) {
        guard let alerts = payload["alerts"]?.arrayValue, alerts.count > maxAlerts else { return }
        throw tooLarge("alerts", "alerts has \(alerts.count) entries; at most \(maxAlerts) are taken in one notification")
    }

    /// The approval's bounds: how many actions, each name's length, and each action's `data`.
    static func checkApproval(_ actions: [APIRoutes.ActionRequestBody]) throws(APIError) {
        guard actions.count <= maxActions else {
            throw tooLarge("actions", "actions has \(actions.count) entries; at most \(maxActions) are allowed")
        }
        for (index, action) in actions.enumerated() {
            let path = "actions[\(index)]"
            guard action.name.unicodeScalars.count <= maxActionNameLength else {
                throw tooLarge("\(path).name", "\(path).name is longer than \(maxActionNameLength) characters")
            }
            guard let data = action.data else { continue }
            guard data.count <= maxDataKeys else {
                throw tooLarge("\(path).data", "\(path).data has \(data.count) keys; at most \(maxDataKeys) are allowed")
            }
            try checkObject(data, path: "\(path).data")
        }
        // And all of it together, as the incident keeps it (Incident.maxApprovalDataBytes).
        let request = ApprovalRequest(actions: actions.map { ActionRequest(name: $0.name, data: $0.data ?? [:]) })
        guard request.encodedDataSize <= Incident.maxApprovalDataBytes else {
            throw tooLarge("actions", "the actions' data is larger than \(Incident.maxApprovalDataBytes / 1024) KiB as JSON")
        }
    }

    private static func checkObject(_ object: [String: JSONValue], path: String) throws(APIError) {
        // Sorted, so the same body always names the same field.
        for key in object.keys.sorted() {
            guard key.unicodeScalars.count <= maxDataKeyLength else {
                throw tooLarge(path, "\(path) has a key longer than \(maxDataKeyLength) characters "
                               + "(\"\(String(key.prefix(40)))…\")")
            }
            try checkValue(object[key]!, path: "\(path).\(key)")
        }
    }

    private static func checkValue(_ value: JSONValue, path: String) throws(APIError) {
        switch value {
        case .string(let text):
            guard text.unicodeScalars.count <= maxDataStringLength else {
                throw tooLarge(path, "\(path) is longer than \(maxDataStringLength) characters")
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() { try checkValue(element, path: "\(path)[\(index)]") }
        case .object(let object):
            try checkObject(object, path: path)
        case .null, .bool, .integer, .number:
            break
        }
    }
}
