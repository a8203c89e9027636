import Synchronization

/// A thread-safe map that keeps only the newest `capacity` keys, forgetting the oldest first. The chat integrations
/// use it for what they remember per process: the thread each incident's messages hang from (`WebexNotifier`,
/// `SlackNotifier`), and the callbacks they took lately, so a delivery repeated by the chat is taken once
/// (`WebexApprovals`, `SlackApprovals`).
public final class BoundedMemory<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var values: [Key: Value] = [:]
        /// Keys in the order they were first stored.
        var order: [Key] = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity > 0, "a bounded memory holds at least one key")
        self.capacity = capacity
    }

    public subscript(key: Key) -> Value? {
        state.withLock { $0.values[key] }
    }

    /// Stores `value` for `key` (a key already held keeps its place in the order).
    public func set(_ value: Value, for key: Key) {
        state.withLock { state in
            if state.values.updateValue(value, forKey: key) == nil { Self.append(key, to: &state, capacity: capacity) }
        }
    }

    /// Stores `value` for `key` unless the key is held already; whether it was stored.
    public func insertIfAbsent(_ value: Value, for key: Key) -> Bool {
        state.withLock { state in
            guard state.values[key] == nil else { return false }
            state.values[key] = value
            Self.append(key, to: &state, capacity: capacity)
            return true
        }
    }

    public func remove(_ key: Key) {
        state.withLock { state in
            guard state.values.removeValue(forKey: key) != nil else { return }
            state.order.removeAll { $0 == key }
        }
    }

    public var count: Int { state.withLock { $0.values.count } }

    private static func append(_ key: Key, to state: inout State, capacity: Int) {
        state.order.append(key)
        if state.order.count > capacity { state.values[state.order.removeFirst()] = nil }
    }
}
