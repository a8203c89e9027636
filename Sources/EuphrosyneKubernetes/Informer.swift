import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A local copy of the objects a selector matches, kept current by list-then-watch: watches resume from the last
/// `resourceVersion` seen (bookmarks included), a 410 starts over with a fresh list, and failures back off with
/// jitter. Callers read the copy (no API request) and follow the changes of one key.
///
/// The registry cache watches the recipe ConfigMap with one; the Job launcher follows its Jobs and their pods.
public actor Informer<Object: KubernetesObject>: Service {
    public let namespace: String?
    public let labelSelector: String?
    public let fieldSelector: String?
    private let client: KubernetesClient
    private let logger: Logger
    /// What a subscriber follows: the object's name by default, or e.g. the Job a pod belongs to.
    private let key: @Sendable (Object) -> String?
    /// How long each watch request lasts, picked at random in this range (client-go: 5–10 minutes) so that many
    /// clients do not reconnect together.
    private let watchSeconds: ClosedRange<Int>

    private var objects: [String: Object] = [:]
    private var synced = false
    private var syncWaiters: [CheckedContinuation<Void, Never>] = []
    /// Who follows which key. Behind a lock rather than the actor, so a follower that stops is forgotten at once, from
    /// the stream's termination handler, without a task.
    private let followers = Followers()

    final class Followers: Sendable {
        let byKey = Mutex<[String: [UUID: AsyncStream<Object?>.Continuation]]>([:])
    }
    /// How many times the informer listed (the first time included): one list per 410 or start.
    public private(set) var listCount = 0

    public init(
        client: KubernetesClient, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        key: @escaping @Sendable (Object) -> String? = { $0.metadata.name },
        watchSeconds: ClosedRange<Int> = 300...600,
        logger: Logger = Logger(label: "euphrosyne.kubernetes.informer")
    ) {
        self.watchSeconds = watchSeconds
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.key = key
        var logger = logger
        logger[metadataKey: "resource"] = "\(Object.resource.plural)"
        self.logger = logger
    }

    // MARK: - Reading

    /// The objects as last seen, by name.
    public var all: [Object] { Array(objects.values) }

    public func object(named name: String) -> Object? { objects[name] }

    /// The objects whose key is `key`.
    public func objects(withKey wanted: String) -> [Object] {
        objects.values.filter { key($0) == wanted }
    }

    public var hasSynced: Bool { synced }

    /// Returns once the first list has been loaded.
    public func waitUntilSynced() async {
        guard !synced else { return }
        await withCheckedContinuation { syncWaiters.append($0) }
    }

    /// Every change of the objects with this key, as it arrives: the object, or nil when it was deleted. Follow
    /// before you act, then read `objects(withKey:)` once, so no change is missed.
    public func follow(_ key: String) -> AsyncStream<Object?> {
        let (stream, continuation) = AsyncStream.makeStream(of: Object?.self, bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        followers.byKey.withLock { $0[key, default: [:]][id] = continuation }
        let followers = self.followers
        continuation.onTermination = { _ in
            followers.byKey.withLock { followers in
                followers[key]?[id] = nil
                if followers[key]?.isEmpty == true { followers[key] = nil }
            }
        }
        return stream
    }

    // MARK: - Service

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.loop()
        }
    }

    private func loop() async {
        var resourceVersion: String?
        var failures = 0
        while !Task.isCancelled {
            do throws(KubernetesError) {
                if resourceVersion == nil {
                    let list = try await client.list(Object.self, namespace: namespace, labelSelector: labelSelector,
                                                     fieldSelector: fieldSelector)
                    replaceAll(with: list.items)
                    resourceVersion = list.metadata.resourceVersion
                }
                let events = try await client.watch(Object.self, namespace: namespace, labelSelector: labelSelector,
                                                    fieldSelector: fieldSelector, resourceVersion: resourceVersion,
                                                    timeoutSeconds: Int.random(in: watchSeconds))
                do {
                    for try await event in events {
                        failures = 0
                        if let version = event.object.metadata.resourceVersion { resourceVersion = version }
                        apply(event)
                    }
                } catch let error as KubernetesError {
                    throw error
                } catch {
                    throw KubernetesError(.transport, message: "\(error)", underlying: error)
                }
            } catch {
                if Task.isCancelled { return }
                if error.isGone {
                    logger.info("watch history expired; listing again")
                    resourceVersion = nil
                    continue
                }
                failures += 1
                let wait = KubernetesClient.retryPolicy(maxAttempts: .max).delay(afterAttempt: failures)
                logger.warning("watch failed; retrying", metadata: ["error": "\(error)", "in": "\(wait)"])
                do { try await Task.sleep(for: wait) } catch { return }
            }
        }
    }

    private func replaceAll(with items: [Object]) {
        listCount += 1
        let fresh = Dictionary(items.compactMap { item in item.metadata.name.map { ($0, item) } }) { _, last in last }
        for (name, old) in objects where fresh[name] == nil {
            objects[name] = nil
            publish(old, deleted: true)
        }
        for (name, item) in fresh where objects[name]?.metadata.resourceVersion != item.metadata.resourceVersion {
            objects[name] = item
            publish(item, deleted: false)
        }
        if !synced {
            synced = true
            for waiter in syncWaiters { waiter.resume() }
            syncWaiters = []
        }
    }

    private func apply(_ event: WatchEvent<Object>) {
        guard let name = event.object.metadata.name else { return }
        switch event.kind {
        case .added, .modified:
            objects[name] = event.object
            publish(event.object, deleted: false)
        case .deleted:
            objects[name] = nil
            publish(event.object, deleted: true)
        case .bookmark:
            break
        }
    }

    private func publish(_ object: Object, deleted: Bool) {
        guard let key = key(object), let subscribers = followers.byKey.withLock({ $0[key] }) else { return }
        for continuation in subscribers.values { continuation.yield(deleted ? nil : object) }
    }
}
