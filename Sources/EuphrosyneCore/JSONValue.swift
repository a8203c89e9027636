import Foundation

/// An arbitrary JSON value, kept losslessly enough to hand back to the sender.
///
/// Used wherever Euphrosyne must hold JSON it does not fully understand: the raw body of an
/// inbound alert notification (so generic alerts survive verbatim), and free-form fields such
/// as Grafana's `values`. Integers are kept as `Int64` rather than `Double` so identifiers and
/// counters round-trip exactly.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
            return
        }
        // Order matters: Bool before numbers so `true` is not read as 1, and Int64 before
        // Double so integers are not rounded through floating point.
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "value is not representable as JSON")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member named `key`, or nil when this is not an object or has no such member.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    public var objectValue: [String: JSONValue]? {
        guard case .object(let value) = self else { return nil }
        return value
    }

    public var arrayValue: [JSONValue]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    /// The value as an integer, when it is an integer or a float with no fractional part.
    public var integerValue: Int64? {
        switch self {
        case .integer(let value):
            return value
        case .number(let value):
            return Int64(exactly: value)
        default:
            return nil
        }
    }

    /// The value as a floating-point number, for either numeric case.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .number(let value): return value
        default: return nil
        }
    }

    /// A short English name of the kind of value, for error messages ("an array", "a string").
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses a request body that must be a JSON object.
    ///
    /// - Throws: `JSONInputError` when the bytes are not JSON ("malformed JSON: expected ':' after a key at byte
    ///   12") or the top-level value is not an object ("expected a JSON object, got an array").
    public static func parseObject(_ data: Data) throws(JSONInputError) -> [String: JSONValue] {
        let result: Result<[String: JSONValue], JSONInputError> = data.withUnsafeBytes { buffer in
            Result { () throws(JSONInputError) in try parseObject(buffer) }
        }
        return try result.get()
    }

    /// `parseObject(_:)` over bytes in place.
    public static func parseObject(_ bytes: UnsafeRawBufferPointer) throws(JSONInputError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw JSONInputError(message: "malformed JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw JSONInputError(message: "expected a JSON object, got \(value.kindDescription)")
        }
        return object
    }
}
