import Foundation

/// The state of one recipe run in the shape of the bot protocol's `POST /api/status` body.
///
/// `/api/status` returns these for an incident and pushes them to the bot, whatever runs the recipes (a Kubernetes
/// Job or a local process), so bots written for the original system keep working.
public struct JobStatus: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable {
        case active = "Active"
        case completed = "Completed"
        case failed = "Failed"
    }

    public var name: String
    /// RFC 3339, UTC, whole seconds, as Kubernetes writes `metav1.Time`.
    public var startTime: String
    public var status: Phase
    public var labels: [String: String]
    public var description: String

    public init(name: String, startTime: String, status: Phase, labels: [String: String], description: String) {
        self.name = name
        self.startTime = startTime
        self.status = status
        self.labels = labels
        self.description = description
    }

    /// The Job view of a run of `incident`: the labels the original Jobs carried, and the Job's phase.
    public init(run: RecipeRun, incident: UUID) {
        let phase: Phase
        switch run.state {
        case .pending, .running: phase = .active
        case .reported: phase = .completed
        case .failed, .timedOut, .cancelled: phase = .failed
        }
        self.init(
            name: run.name,
            startTime: RFC3339.format(run.startedAt ?? run.createdAt),
            status: phase,
            labels: ["app": "euphrosyne", "recipe": run.recipe, "uuid": incident.uuidString.lowercased()],
            description: run.description
        )
    }
}
