import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Synchronization

import EuphrosyneEngine

/// A launcher that plays a script per recipe instead of starting processes, and remembers what it was asked.
public final class ScriptedLauncher: RecipeLauncher {
    public enum Behaviour: Sendable {
        /// Report this analysis (and actions) after `delay`, then exit 0.
        case report(analysis: String, actions: [String], delay: Duration)
        /// Exit with this status without reporting.
        case exit(Int32, stderr: String)
        /// Run until the timeout (or cancellation).
        case hang
    }

    private let behaviours: [String: Behaviour]
    private let state = Mutex<(deliver: (@Sendable (RecipeResult) async -> Void)?, requests: [LaunchRequest],
                              running: Int, maxRunning: Int)>((nil, [], 0, 0))

    public init(_ behaviours: [String: Behaviour]) {
        self.behaviours = behaviours
    }

    /// Where reported results go (the coordinator, once built).
    public func deliverResults(to deliver: @escaping @Sendable (RecipeResult) async -> Void) {
        state.withLock { $0.deliver = deliver }
    }

    public var requests: [LaunchRequest] { state.withLock { $0.requests } }
    public var maxRunning: Int { state.withLock { $0.maxRunning } }
    /// Runs under way right now.
    public var running: Int { state.withLock { $0.running } }

    public func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
        let deliver = state.withLock { state in
            state.requests.append(request)
            state.running += 1
            state.maxRunning = max(state.maxRunning, state.running)
            return state.deliver
        }
        defer { state.withLock { $0.running -= 1 } }
        await started()
        switch behaviours[request.recipe.name] ?? .exit(127, stderr: "no script") {
        case .report(let analysis, let actions, let delay):
            do { try await Task.sleep(for: delay) } catch { return .cancelled(reason: "cancelled") }
            await deliver?(RecipeResult(
                incident: request.incidentID.uuidString.lowercased(), name: request.recipe.name, status: .successful,
                results: .init(actions: actions, analysis: analysis)))
            return .exited(status: 0, stderrTail: "")
        case .exit(let status, let stderr):
            return .exited(status: status, stderrTail: stderr)
        case .hang:
            do {
                try await Task.sleep(for: request.timeout)
                return .timedOut
            } catch {
                return .cancelled(reason: "the reconciler stopped the run")
            }
        }
    }
}

/// A notifier that keeps what it was sent.
public final class RecordingNotifier: Notifier {
    private let sent = Mutex<[ChatNotification]>([])

    public init() {}

    public var notifications: [ChatNotification] { sent.withLock { $0 } }

    public func send(_ notification: ChatNotification) async throws {
        sent.withLock { $0.append(notification) }
    }

    public func analyses(for incident: UUID) -> [Analysis] {
        notifications.compactMap {
            if case .analysis(let id, let analysis) = $0, id == incident { return analysis }
            return nil
        }
    }

    public func outcomes(for incident: UUID) -> [Int: Analysis] {
        var outcomes: [Int: Analysis] = [:]
        for notification in notifications {
            if case .actionOutcome(let id, let approval, let analysis) = notification, id == incident {
                outcomes[approval] = analysis
            }
        }
        return outcomes
    }
}

extension Recipe {
    public static func fake(_ name: String, _ kind: RecipeKind = .debugging, timeout: Int? = nil) -> Recipe {
        Recipe(name: name, kind: kind, enabled: true, entrypoint: name, arguments: [name], timeoutSeconds: timeout)
    }
}

/// An in-memory store that claims to be durable: two coordinators sharing it behave like a reconciler stopped and
/// started again against Redis.
public struct DurableTestStore: IncidentStore {
    public let backing = InMemoryIncidentStore()

    public init() {}

    public var isDurable: Bool { true }
    public nonisolated(nonsending) func save(_ incident: Incident) async throws { await backing.save(incident) }
    public nonisolated(nonsending) func incident(_ id: UUID) async throws -> Incident? { await backing.incident(id) }
    public nonisolated(nonsending) func list(offset: Int, limit: Int) async throws -> IncidentPage { await backing.list(offset: offset, limit: limit) }
    public nonisolated(nonsending) func openIncidents() async throws -> [Incident] { await backing.openIncidents() }
    public nonisolated(nonsending) func create(_ incident: Incident, replacing stale: UUID?) async throws -> UUID? {
        await backing.create(incident, replacing: stale)
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// A generic alert payload no other test sends, so incidents are not deduplicated into one.
    public static var unique: Self { ["test-alert": .string(UUID().uuidString)] }
}

/// A registry whose catalog is only handed out once the gate opens: holds notifications in the intake queue.
public struct GatedRegistry: RecipeRegistry {
    public let fixed: RecipeCatalog
    public let gate: Gate

    public init(_ catalog: RecipeCatalog, gate: Gate) {
        fixed = catalog
        self.gate = gate
    }

    public nonisolated(nonsending) func catalog() async -> RecipeCatalog {
        await gate.wait()
        return fixed
    }
}

/// A result source the test publishes into, as anyone with access to a Redis channel can: what it publishes reaches
/// the coordinator through `incomingResults`, like results drained from Redis.
public final class PublishedResultSource: ResultSource {
    public let incomingResults: AsyncStream<RecipeResult>?
    private let continuation: AsyncStream<RecipeResult>.Continuation

    public init() {
        let (stream, continuation) = AsyncStream.makeStream(of: RecipeResult.self)
        incomingResults = stream
        self.continuation = continuation
    }

    public func publish(_ result: RecipeResult) { continuation.yield(result) }

    public func recipeEnvironment(incident: UUID, secret: String) -> [String: String] { [:] }
    public nonisolated(nonsending) func watch(incident: UUID) async {}
    public nonisolated(nonsending) func unwatch(incident: UUID) async {}
}

/// A chat that follows incidents, as Slack and Webex do: it records every card it gets and answers the first of
/// each incident with the message it "posted" (`card-<n>`). `hold()` makes sends wait until `release()`, to see
/// cards pile up behind a slow chat.
public final class CardRecordingNotifier: Notifier {
    private struct State {
        var cards: [IncidentCard] = []
        var threadsSeen: [ChatThreads] = []
        var held = false
        var waiting: [CheckedContinuation<Void, Never>] = []
        var posted = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var followsIncidents: Bool { true }

    public var cards: [IncidentCard] { state.withLock { $0.cards } }
    /// The threads each card was sent with, in order.
    public var threadsSeen: [ChatThreads] { state.withLock { $0.threadsSeen } }
    /// Sends waiting for `release()`.
    public var waitingSends: Int { state.withLock { $0.waiting.count } }

    public func cards(for incident: UUID) -> [IncidentCard] { cards.filter { $0.incident == incident } }

    public func hold() { state.withLock { $0.held = true } }

    public func release() {
        let waiting = state.withLock { state in
            state.held = false
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    public func send(_ notification: ChatNotification) async throws {
        _ = try await send(notification, threads: [:])
    }

    public func send(_ notification: ChatNotification, threads: ChatThreads) async throws -> ChatThreads {
        guard case .incident(let card) = notification else { return [:] }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let held = state.withLock { state in
                if state.held { state.waiting.append(continuation) }
                return state.held
            }
            if !held { continuation.resume() }
        }
        return state.withLock { state in
            state.cards.append(card)
            state.threadsSeen.append(threads)
            guard threads["card"] == nil else { return [:] }
            state.posted += 1
            return ["card": "card-\(state.posted)"]
        }
    }
}
