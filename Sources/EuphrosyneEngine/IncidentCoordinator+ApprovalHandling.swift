import EuphrosynePorts

/// Integrations (Webex) reach the coordinator's approvals through the port.
extension IncidentCoordinator: ApprovalHandling {}
