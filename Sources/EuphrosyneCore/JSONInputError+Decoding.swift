import Foundation

extension JSONInputError {
    /// Turns a `DecodingError` into a message that names the field at fault, e.g. `actions[0].name`.
    public init(decoding error: any Error) {
        guard let decodingError = error as? DecodingError else {
            self.init(message: "malformed JSON: \(error)", path: nil)
            return
        }
        func render(_ path: [any CodingKey]) -> String? {
            guard !path.isEmpty else { return nil }
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text
        }
        switch decodingError {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(message: "malformed JSON", path: nil)
            } else {
                self.init(message: "invalid value: \(context.debugDescription)", path: render(context.codingPath))
            }
        case .keyNotFound(let key, let context):
            self.init(message: "is required", path: render(context.codingPath + [key]))
        case .typeMismatch(let type, let context):
            self.init(message: "must be \(Self.jsonTypeName(type))", path: render(context.codingPath))
        case .valueNotFound(let type, let context):
            self.init(message: "must not be null; expected \(Self.jsonTypeName(type))", path: render(context.codingPath))
        @unknown default:
            self.init(message: "malformed JSON: \(decodingError)", path: nil)
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is [Any].Type: return "an array"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}
