import Foundation

/// A Kubernetes quantity (`100m`, `2`, `1.5Gi`, `128974848`, `1e3`) as a number of base units: cores for CPU,
/// bytes for memory. Used by `node-diagnostics` to add up what a node's pods request against its allocatable.
public struct ResourceQuantity: Sendable, Hashable, Comparable {
    public var value: Double

    public init(_ value: Double) { self.value = value }

    /// Parses the API's serialisation; nil for anything else.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        let binary: [String: Double] = ["Ki": 0x1p10, "Mi": 0x1p20, "Gi": 0x1p30, "Ti": 0x1p40, "Pi": 0x1p50, "Ei": 0x1p60]
        let decimal: [String: Double] = ["n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                                         "P": 1e15, "E": 1e18]
        var number = Substring(trimmed)
        var multiplier = 1.0
        if let suffix = binary.keys.first(where: { trimmed.hasSuffix($0) }) {
            multiplier = binary[suffix]!
            number = number.dropLast(2)
        } else if let last = trimmed.last, let factor = decimal[String(last)] {
            multiplier = factor
            number = number.dropLast()
        }
        // Only digits, one dot, a sign and an exponent: `Double("nan")` and friends are not quantities.
        guard !number.isEmpty, number.allSatisfy({ "0123456789.+-eE".contains($0) }), let parsed = Double(number),
              parsed.isFinite
        else { return nil }
        value = parsed * multiplier
    }

    public static func < (lhs: ResourceQuantity, rhs: ResourceQuantity) -> Bool { lhs.value < rhs.value }

    public static func + (lhs: ResourceQuantity, rhs: ResourceQuantity) -> ResourceQuantity {
        ResourceQuantity(lhs.value + rhs.value)
    }

    /// CPU for people: `250m` below one core, `1.5` cores above.
    public var cpuDescription: String {
        if value < 1 { return "\(Int((value * 1000).rounded()))m" }
        return Self.trimmed(value)
    }

    /// Memory for people, in the largest binary unit that keeps it at least 1: `512Mi`, `15.6Gi`.
    public var memoryDescription: String {
        for (unit, size) in [("Ti", 0x1p40), ("Gi", 0x1p30), ("Mi", 0x1p20), ("Ki", 0x1p10)] where value >= size {
            return Self.trimmed(value / size) + unit
        }
        return Self.trimmed(value)
    }

    /// One decimal at most, none when it is whole.
    static func trimmed(_ number: Double) -> String {
        let rounded = (number * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }
}

extension LabelSelector {
    /// Whether the selector selects an object with `labels`, as the API server decides it. An empty selector
    /// selects everything; an operator this client does not know selects nothing.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let values = requirement.values ?? []
            switch requirement.operator {
            case "In": guard let value = labels[requirement.key], values.contains(value) else { return false }
            case "NotIn": if let value = labels[requirement.key], values.contains(value) { return false }
            case "Exists": guard labels[requirement.key] != nil else { return false }
            case "DoesNotExist": guard labels[requirement.key] == nil else { return false }
            default: return false
            }
        }
        return true
    }
}
