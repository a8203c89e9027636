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

    /// A DNS-1123 subdomain: at most 253 characters of dot-separated labels.
    public static func isDNSSubdomain(_ text: String) -> Bool {
        text.count <= 253
            && text.range(of: #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#,
                          options: .regularExpression) != nil
    }
}
