import EuphrosyneCore
import Foundation
import Synchronization

/// One saved change of an incident: which, its state and revision after it. What the dashboard's event stream sends.
public struct IncidentChange: Sendable, Hashable, Codable {
    public var id: UUID
    public var state: Incident.State
    public var revision: Int

    public init(id: UUID, state: Incident.State, revision: Int) {
        self.id = id
        self.state = state
        self.revision = revision
    }

    public init(_ incident: Incident) {
        self.init(id: incident.id, state: incident.state, revision: incident.revision)
    }
}

/// Every change the coordinator saves, as it happens, for whoever watches: the dashboard's live list (Server-Sent
/// Events) subscribes; nobody polls. Only this process's coordinator publishes: with several replicas, a replica
/// standing by relays the leader's event stream instead (`Dashboard`, through `LeaderForwarding.relay`).
///
/// Each subscriber gets its own stream holding at most `bufferSize` changes; a subscriber that falls behind loses
/// the oldest ones (the newest version of an incident is what it needs), and publishing never waits for anyone.
public final class IncidentChanges: Sendable {
    private struct State {
        var subscribers: [UUID: AsyncStream<IncidentChange>.Continuation] = [:]
    }

    private let state = Mutex(State())
    public let bufferSize: Int

    public init(bufferSize: Int = 256) {
        self.bufferSize = bufferSize
    }

    /// The changes saved from now on, until the stream's consumer stops (or the reconciler does).
    public func subscribe() -> AsyncStream<IncidentChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: IncidentChange.self, bufferingPolicy: .bufferingNewest(bufferSize))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Hands a saved change to every subscriber.
    func publish(_ change: IncidentChange) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(change) }
    }

    /// How many watch now (for tests and the metrics).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
