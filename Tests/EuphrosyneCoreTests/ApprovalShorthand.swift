import EuphrosyneCore
import Foundation

extension Incident {
    /// The tests' shorthand for an approval under the default policy (only suggested actions; resolved incidents
    /// only with `allowingResolved`): the launches it started, none for a duplicate.
    mutating func approve(
        _ actions: [ActionRequest], catalog: RecipeCatalog, defaultTimeoutSeconds: Int, approvedBy: String? = nil,
        allowingResolved: Bool = false, at now: Date
    ) throws(ApprovalRejection) -> [IncidentAction] {
        let decision = try approve(
            ApprovalRequest(actions: actions, approvedBy: approvedBy), catalog: catalog,
            policy: ApprovalPolicy(allowsResolvedIncidents: allowingResolved),
            defaultTimeoutSeconds: defaultTimeoutSeconds, at: now
        )
        if case .started(_, let launches) = decision { return launches }
        return []
    }
}
