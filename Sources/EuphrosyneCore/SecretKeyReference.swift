/// One entry of a recipe's `secretEnv` extension: the key of a Kubernetes Secret a variable's value comes from.
///
/// Parsed by `RecipeCatalog.load`; `KubernetesJobLauncher` turns it into an env var with `valueFrom.secretKeyRef`
/// (cluster mode), while `LocalProcessLauncher` passes the variable of the same name through from the reconciler's
/// own environment (local mode has no Secrets).
public struct SecretKeyReference: Sendable, Hashable, Codable {
    /// The Secret's name, a DNS-1123 subdomain, in the recipe namespace.
    public var secret: String
    /// The key within the Secret's data.
    public var key: String
    /// Whether the pod starts without it (the variable is then unset) rather than failing to start.
    public var optional: Bool

    public init(secret: String, key: String, optional: Bool = false) {
        self.secret = secret
        self.key = key
        self.optional = optional
    }

    /// A Secret data key: letters, digits, `-`, `_` and `.`, as the API validates them.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 253 && key.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// A C identifier, what a process environment variable name must be to be usable from every language and shell.
    public static func isValidVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// Variables the reconciler sets itself, which a recipe's `secretEnv` may not name: the `EUPHROSYNE_*` variables
    /// (the incident, the deadline, the result key) and the Redis credentials recipes report with.
    public static func isReserved(_ name: String) -> Bool {
        name.hasPrefix("EUPHROSYNE_") || name == "REDIS_USERNAME" || name == "REDIS_PASSWORD"
    }
}
