import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import Foundation

extension IncidentCoordinator {
    // MARK: - Approvals

    /// Approves actions for an incident and starts one action run per action not already underway or done.
    ///
    /// Approvals of one incident are decided one at a time by the table, so the same approval sent twice, or two
    /// racing for one action, run it once: the later ones are answered with `.duplicate` of the first. Every
    /// attempt, refused ones included, is added to the incident's audit (`approvalAttempts`) when it is open.
    public func approve(
        incident id: UUID, _ request: ApprovalRequest
    ) async throws(CoordinatorError) -> (Incident, ApprovalDecision) {
        let catalog = await registry.catalog()
        var step = table.withLock { $0.approve(id, request, catalog: catalog, at: now()) }
        if case .needsStoredIncident = step {
            let stored: Incident?
            do { stored = try await store.incident(id) } catch { throw .storeUnavailable("\(error)") }
            step = table.withLock { $0.approve(stored: stored, request, catalog: catalog, at: now()) }
        }
        switch step {
        case .shuttingDown:
            throw .shuttingDown
        case .standingBy:
            throw .notLeading
        case .needsStoredIncident, .notFound:
            throw .incidentNotFound(id)
        case .rejected(let rejection, let effects):
            metrics.increment("euphrosyne_approvals_total", [("outcome", "rejected")])
            logger(for: id).notice("approval refused", metadata: [
                "actions": "\(request.actions.map(\.name).joined(separator: ","))",
                "by": "\(request.approvedBy ?? "anonymous")", "reason": "\(rejection)",
            ])
            await perform(effects)
            throw .approvalRejected(rejection)
        case .decided(let incident, let decision, let effects):
            switch decision {
            case .duplicate(let earlier):
                metrics.increment("euphrosyne_approvals_total", [("outcome", "duplicate")])
                logger(for: id).info("approval repeated; nothing new to run", metadata: [
                    "approval": "\(earlier.id)", "by": "\(request.approvedBy ?? "anonymous")",
                ])
            case .started(let approval, _):
                metrics.increment("euphrosyne_approvals_total", [("outcome", "accepted")])
                logger(for: id).info("actions approved", metadata: [
                    "approval": "\(approval.id)", "actions": "\(approval.actions.map(\.name).joined(separator: ","))",
                    "by": "\(request.approvedBy ?? "anonymous")",
                ])
            }
            await perform(effects)
            return (incident, decision)
        }
    }

    /// The recipes as the registry has them now (the dashboard shows each action's inputs).
    public func recipeCatalog() async -> RecipeCatalog {
        await registry.catalog()
    }

    /// What is wrong with an approval's action names whatever the incident: none named, or one that is not a
    /// registered action recipe, or is disabled. Nil when every name is registered and enabled. Lets the API refuse
    /// such an approval (422) before it looks the incident up; `approve` checks the same again.
    public func actionNameProblem(_ names: [String]) async -> ApprovalRejection? {
        guard !names.isEmpty else { return .noActions }
        let catalog = await registry.catalog()
        for name in names {
            guard let recipe = catalog.action(named: name) else { return .unknownAction(name) }
            guard recipe.enabled else { return .disabledAction(name) }
        }
        return nil
    }

    /// Records an approval refused before it reached the incident's rules (e.g. a Webex person not on the
    /// allow-list) in the incident's audit. Unknown or closed incidents are only logged.
    public func recordRefusedApproval(incident id: UUID, _ request: ApprovalRequest, reason: String) async {
        metrics.increment("euphrosyne_approvals_total", [("outcome", "rejected")])
        logger(for: id).notice("approval refused", metadata: [
            "actions": "\(request.actions.map(\.name).joined(separator: ","))",
            "by": "\(request.approvedBy ?? "anonymous")", "reason": "\(reason)",
        ])
        await perform(table.withLock { $0.recordRefusedApproval(id, request, reason: reason, at: now()) })
    }

    // MARK: - Results

    /// What became of a delivered result.
    public enum DeliveryOutcome: Sendable, Equatable {
        case accepted
        case ignored(String)
        case unknownIncident
        /// It did not prove it belongs to its incident (`ResultRefusal`); the incident did not see it.
        case refused(ResultRefusal)
    }

    /// Hands a recipe's result to its incident, once it has shown what its origin asks (`ResultOrigin`): a signed
    /// result must verify with its incident's key, and a published one must be signed when `requireSignedResults`
    /// is on. A refused result changes nothing; it is logged and counted, never dropped silently.
    public func deliver(_ result: RecipeResult, via origin: ResultOrigin) async -> DeliveryOutcome {
        guard let id = UUID(uuidString: result.incident) else { return .unknownIncident }
        guard let key = callbackSecret(for: id) else { return await notLive(id, result) }
        if let refusal = origin.refusal(of: result, key: key, requiringSignatures: configuration.requireSignedResults) {
            metrics.increment("euphrosyne_results_refused_total", [("reason", refusal.label)])
            logger(for: id).warning("result refused", metadata: [
                "recipe": "\(result.name)", "reason": "\(refusal)", "via": "\(origin.rawValue)",
            ])
            return .refused(refusal)
        }
        // Verified (or not needed): the incident keeps the result in the original schema.
        var result = result
        result.signature = nil
        switch table.withLock({ $0.deliver(result, at: now()) }) {
        case .accepted(_, let effects):
            logger(for: id).info("result received", metadata: [
                "recipe": "\(result.name)", "status": "\(result.status.rawValue)",
            ])
            await perform(effects)
            return .accepted
        case .ignored(let reason):
            logger(for: id).notice("result ignored", metadata: ["recipe": "\(result.name)", "reason": "\(reason)"])
            return .ignored(reason)
        case .notLive:
            return await notLive(id, result)
        }
    }

    /// A result for an incident that is not live: closed (the store has it) or unknown.
    private func notLive(_ id: UUID, _ result: RecipeResult) async -> DeliveryOutcome {
        let known = (try? await store.incident(id)) != nil
        return known ? .ignored("incident \(result.incident) is closed") : .unknownIncident
    }
}
