import EuphrosyneCore
import Foundation

/// Takes approvals that arrive through an integration rather than the API (Webex card buttons, Slack buttons), so the
/// adapter sees this protocol and never the coordinator itself. `IncidentCoordinator` conforms; the app builder hands
/// it to `WebexApprovals` and `SlackApprovals`.
public protocol ApprovalHandling: Sendable {
    /// Approves actions for an incident under the same policy as `POST /api/actions`, and starts what it allows.
    /// Returns the incident after the approval and what was decided; throws why it was refused.
    func approve(incident id: UUID, _ request: ApprovalRequest) async throws(CoordinatorError) -> (Incident, ApprovalDecision)

    /// Records, in the incident's audit, an approval refused before it reached the incident's rules (a person not
    /// on the integration's allow-list).
    func recordRefusedApproval(incident id: UUID, _ request: ApprovalRequest, reason: String) async
}
