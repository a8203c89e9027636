import EuphrosyneCore
import Foundation
import Synchronization

/// Every change the coordinator saves, as it happens, for whoever watches: the dashboard's live list (Server-Sent
/// Events) subscribes; nobody polls.
///
/// Each subscriber gets its own stream holding at most `bufferSize` changes; a subscriber that falls behind loses
/// the oldest ones (the newest version of an incident is what it needs), and publishing never waits for anyone.
public final class IncidentChanges: Sendable {
    private struct State {
        var subscribers: [UUID: AsyncStream<Incident>.Continuation] = [:]
    }

    private let state = Mutex(State())
    public let bufferSize: Int

    public init(bufferSize: Int = 256) {
        self.bufferSize = bufferSize
    }

    /// The changes saved from now on, until the stream's consumer stops (or the reconciler does).
    public func subscribe() -> AsyncStream<Incident> {
        let (stream, continuation) = AsyncStream.makeStream(of: Incident.self, bufferingPolicy: .bufferingNewest(bufferSize))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Hands a saved version to every subscriber.
    func publish(_ incident: Incident) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(incident) }
    }

    /// Ends every subscription (the coordinator stops).
    func finish() {
        let subscribers = state.withLock { state in
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// How many watch now (for tests and the metrics).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}
