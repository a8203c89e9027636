import Foundation

/// A recipe's `resources` extension: the requests and limits of its Job's container, quantities written as
/// Kubernetes writes them.
public struct RecipeResources: Sendable, Hashable, Codable {
    public var requests: [String: String] = [:]
    public var limits: [String: String] = [:]

    public init(requests: [String: String] = [:], limits: [String: String] = [:]) {
        self.requests = requests
        self.limits = limits
    }

    /// A Kubernetes quantity in its common forms: `1`, `0.5`, `100m`, `128Mi`, `2G`, `1e3`.
    public static func isQuantity(_ text: String) -> Bool {
        text.range(of: #"^[0-9]+(\.[0-9]+)?([eE][0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"#,
                   options: .regularExpression) != nil
    }

    /// The amount a quantity stands for (`100m` is 0.1, `64Mi` is 67108864), to compare two of them; nil when it
    /// is not a quantity.
    public static func value(of quantity: String) -> Double? {
        guard isQuantity(quantity) else { return nil }
        let suffixes: [(String, Double)] = [
            ("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60),
            ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
        ]
        for (suffix, factor) in suffixes where quantity.hasSuffix(suffix) {
            return Double(quantity.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(quantity)  // plain, or with an exponent (`1e3`)
    }

    /// A DNS-1123 subdomain: at most 253 characters of dot-separated labels.
    public static func isDNSSubdomain(_ text: String) -> Bool {
        text.count <= 253
            && text.range(of: #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#,
                          options: .regularExpression) != nil
    }
}
