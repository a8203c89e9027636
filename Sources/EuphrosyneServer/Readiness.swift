/// Answers `/readyz`: whether the reconciler can take alerts now, and if not, why.
///
/// Built by the CLI from what the mode depends on (the coordinator accepting work, the registry loaded, later
/// Redis and the Kubernetes API reachable).
public struct Readiness: Sendable {
    public typealias Check = @Sendable () async -> String?

    /// Each check returns nil when fine, or the reason it is not.
    public var checks: [(name: String, check: Check)]

    public init(_ checks: [(name: String, check: Check)] = []) {
        self.checks = checks
    }

    /// The failing checks by name; empty when ready.
    public func problems() async -> [String: String] {
        var problems: [String: String] = [:]
        for (name, check) in checks {
            if let problem = await check() { problems[name] = problem }
        }
        return problems
    }
}
