import EuphrosyneCore

/// Several chats at once: every notification goes to each notifier, concurrently, so a slow or failing chat holds
/// up none of the others. The app builder uses it when more than one chat integration is configured.
///
/// The threads the chats started come back merged (each chat keys its own). When some chats failed, `send` throws
/// `FanOutNotifier.PartialFailure`, which names them and still carries what the others started, for the
/// coordinator to keep.
public struct FanOutNotifier: Notifier {
    /// The chats, by the name that appears in logs and errors.
    public let notifiers: [(name: String, notifier: any Notifier)]

    public init(_ notifiers: [(name: String, notifier: any Notifier)]) {
        precondition(!notifiers.isEmpty, "at least one notifier")
        self.notifiers = notifiers
    }

    /// What a send left behind when some chats failed.
    public struct PartialFailure: Error, CustomStringConvertible {
        /// Chat name → why it failed.
        public var failures: [(name: String, error: any Error)]
        /// The threads the chats that succeeded started.
        public var started: ChatThreads

        public var description: String {
            failures.map { "\($0.name): \($0.error)" }.joined(separator: "; ")
        }
    }

    public var followsIncidents: Bool { notifiers.contains { $0.notifier.followsIncidents } }

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        let outcomes = await withTaskGroup(of: (Int, Result<ChatThreads, any Error>).self) { group in
            for (index, chat) in notifiers.enumerated() {
                if case .incident = notification, !chat.notifier.followsIncidents { continue }
                group.addTask {
                    do {
                        return (index, .success(try await chat.notifier.send(notification, threads: threads)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var outcomes: [(Int, Result<ChatThreads, any Error>)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }
        }
        var started: ChatThreads = [:]
        var failures: [(name: String, error: any Error)] = []
        for (index, outcome) in outcomes {
            switch outcome {
            case .success(let threads): started.merge(threads) { _, new in new }
            case .failure(let error): failures.append((notifiers[index].name, error))
            }
        }
        if !failures.isEmpty { throw PartialFailure(failures: failures, started: started) }
        return started
    }
}
