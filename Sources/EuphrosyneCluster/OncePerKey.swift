import Synchronization

/// Values created once per key and shared: the first caller for a key creates the value, callers that come while it
/// is being created wait for that creation, and later callers get the value at once. A failed creation is handed to
/// everyone waiting for it and forgotten, so the next caller tries again.
///
/// `KubernetesJobLauncher` keeps the diagnosis' data ConfigMap of each incident in one, so the debugging runs of a
/// diagnosis share one ConfigMap.
final class OncePerKey<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// What a caller does: use the value, or create it (the creation's number).
    private enum Turn: Sendable {
        case use(Value)
        case create(Int)
    }

    private enum Entry {
        case creating(Int)
        case created(Value)
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// The callers waiting for each creation under way. Kept apart from `entries`, so that a creation whose key
        /// was forgotten meanwhile still hands its outcome to them.
        var waiters: [Int: [CheckedContinuation<Turn, any Error>]] = [:]
        var lastCreation = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The key's value: made by `create` (on this task) if nobody made it or is making it, else the one made.
    func value(for key: Key, create: () async throws -> Value) async throws -> Value {
        let turn = try await withCheckedThrowingContinuation { (caller: CheckedContinuation<Turn, any Error>) in
            let now: Turn? = state.withLock { state in
                switch state.entries[key] {
                case .created(let value):
                    return .use(value)
                case .creating(let creation):
                    state.waiters[creation, default: []].append(caller)
                    return nil
                case nil:
                    state.lastCreation += 1
                    state.entries[key] = .creating(state.lastCreation)
                    return .create(state.lastCreation)
                }
            }
            if let now { caller.resume(returning: now) }
        }
        switch turn {
        case .use(let value):
            return value
        case .create(let creation):
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(try await create())
            } catch {
                outcome = .failure(error)
            }
            let waiters = state.withLock { state in
                if case .creating(creation) = state.entries[key] {
                    switch outcome {
                    case .success(let value): state.entries[key] = .created(value)
                    case .failure: state.entries[key] = nil
                    }
                }
                return state.waiters.removeValue(forKey: creation) ?? []
            }
            for waiter in waiters { waiter.resume(with: outcome.map { .use($0) }) }
            return try outcome.get()
        }
    }

    /// Forgets the key's value, or the creation under way (its waiters still get its outcome): the next caller
    /// creates a new one.
    func forget(_ key: Key) {
        state.withLock { state in state.entries[key] = nil }
    }

    /// How many callers wait for the key's creation under way (for tests).
    func waiting(for key: Key) -> Int {
        state.withLock { state in
            guard case .creating(let creation) = state.entries[key] else { return 0 }
            return state.waiters[creation]?.count ?? 0
        }
    }
}
