import EuphrosyneKubernetes
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a `LeaderElection` against the API server: one `Lease` that several replicas compete for, so that
/// exactly one of them acts at a time. A `Service`: cluster mode puts it in its `ServiceGroup`.
///
/// It reads the Lease, writes what the election decides with the `resourceVersion` it read, and repeats: every
/// `retryPeriod` while it leads (a renewal); while it does not, every `retryPeriod` plus up to a fifth of that at
/// random (so candidates do not knock in step), and at the moment the holder's Lease expires as it observed it. Whoever acts asks `isLeading` right before acting; it turns false as soon
/// as the renew deadline passes without a renewal, even while a request to the API server hangs. On a graceful
/// shutdown a leader releases the Lease, so another replica takes over at once instead of after the lease duration.
public final class LeaderElector<ElectionClock: Clock>: Service, Sendable where ElectionClock.Duration == Duration {
    private let client: KubernetesClient
    private let namespace: String
    private let leaseName: String
    private let clock: ElectionClock
    private let start: ElectionClock.Instant
    private let wallClock: @Sendable () -> Date
    private let logger: Logger
    private let onChange: @Sendable (LeaderElection.Change) -> Void
    private let election: Mutex<LeaderElection>
    /// Set once the first round read the Lease (whatever it decided).
    private let decided = Atomic<Bool>(false)
    /// What this replica writes into the Lease's annotations while it holds it (how to reach it).
    private let advertised = Mutex<[String: String]>([:])
    /// Told of each start of leadership, for `waitUntilLeading`.
    private let starts = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    /// - Parameters:
    ///   - onChange: told when this replica starts or stops leading (logs and metrics; the actors check
    ///     `isLeading` themselves).
    public init(
        client: KubernetesClient, namespace: String, leaseName: String, settings: LeaderElection.Settings,
        clock: ElectionClock, wallClock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "euphrosyne.leader-election"),
        onChange: @escaping @Sendable (LeaderElection.Change) -> Void = { _ in }
    ) {
        self.client = client
        self.namespace = namespace
        self.leaseName = leaseName
        self.clock = clock
        self.start = clock.now
        self.wallClock = wallClock
        self.logger = logger
        self.onChange = onChange
        self.election = Mutex(LeaderElection(settings: settings))
    }

    public var identity: String { election.withLock { $0.settings.identity } }

    /// Whether this replica may act now.
    public var isLeading: Bool {
        let now = elapsed
        return election.withLock { $0.isLeading(at: now) }
    }

    private var elapsed: Duration { start.duration(to: clock.now) }

    /// Whether a round has read the Lease yet: before that, this replica knows neither whether it leads nor who does.
    public var hasReadTheLease: Bool { decided.load(ordering: .acquiring) }

    /// Adds `annotations` to what this replica writes into the Lease while it holds it, from its next write on:
    /// where the others reach its listeners.
    public func advertise(_ annotations: [String: String]) {
        advertised.withLock { $0.merge(annotations) { $1 } }
    }

    /// The annotations another replica published with its valid hold of the Lease; nil while this one leads or no
    /// other does.
    public var leaderAnnotations: [String: String]? {
        let now = elapsed
        return election.withLock { $0.leaderAnnotations(at: now) }
    }

    /// Returns once this replica leads; throws `CancellationError` when cancelled first. For one caller at a time:
    /// the part of the reconciler that acts only while leading.
    public func waitUntilLeading() async throws {
        if isLeading { return }
        for await _ in starts.stream where isLeading { return }
        throw CancellationError()
    }

    /// Returns as soon as this replica no longer leads: a renewal did not succeed within the renew deadline (even
    /// while a request to the API server still hangs), or a rival holds the Lease. Whatever acts only while leading
    /// runs beside this and stops when it returns. Throws `CancellationError` when cancelled.
    public func lapse() async throws {
        while true {
            guard let until = election.withLock({ $0.leadingUntil }) else { return }
            let deadline = start.advanced(by: until)
            guard clock.now < deadline else { return }
            try await clock.sleep(until: deadline, tolerance: nil)
        }
    }

    public func run() async throws {
        // A graceful shutdown cancels the rounds (and the pause between them); the release follows.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.attempt()
                let now = self.elapsed
                let pause = self.election.withLock { $0.pause(at: now, random: Double.random(in: 0..<1)) }
                try await self.clock.sleep(for: pause)
            }
        }
        guard !Task.isCancelled else { return }
        await release()
    }

    /// One round: read the Lease, write what the election decides.
    func attempt() async {
        do {
            let current: Lease?
            do {
                current = try await client.get(Lease.self, name: leaseName, namespace: namespace)
            } catch where error.isNotFound {
                current = nil
            }
            let annotations = advertised.withLock { $0 }
            let (attempt, change) = election.withLock {
                $0.attempt(current: current, name: leaseName, namespace: namespace, at: elapsed, wallClock: wallClock(),
                           annotations: annotations)
            }
            decided.store(true, ordering: .releasing)
            report(change)
            let stored: Lease
            switch attempt {
            case .wait:
                return
            case .create(let lease):
                stored = try await client.create(lease, namespace: namespace)
            case .update(let lease):
                stored = try await client.update(lease, namespace: namespace)
            }
            let now = elapsed
            report(election.withLock { $0.written(stored, at: now) })
        } catch {
            // A rival wrote first (409), the API server refused, or did not answer: try again next round.
            if !error.isConflict && !error.isAlreadyExists {
                logger.warning("leader election: the lease could not be read or written", metadata: [
                    "lease": "\(namespace)/\(leaseName)", "error": "\(error)",
                ])
            }
            let now = elapsed
            report(election.withLock { $0.failed(at: now) })
        }
    }

    /// Gives the Lease up if this replica holds it, so another takes over at once.
    private func release() async {
        guard isLeading else { return }
        do {
            let current = try await client.get(Lease.self, name: leaseName, namespace: namespace)
            guard let released = election.withLock({ $0.release(current: current, wallClock: wallClock()) }) else { return }
            _ = try await client.update(released, namespace: namespace)
            report(.stopped(reason: "this replica is shutting down"))
        } catch {
            // It expires on its own after the lease duration.
            logger.warning("leader election: could not release the lease", metadata: ["error": "\(error)"])
        }
    }

    private func report(_ change: LeaderElection.Change?) {
        guard let change else { return }
        switch change {
        case .started:
            logger.notice("leading", metadata: ["identity": "\(identity)", "lease": "\(namespace)/\(leaseName)"])
            starts.continuation.yield()
        case .stopped(let reason):
            logger.warning("stopped leading", metadata: ["identity": "\(identity)", "reason": "\(reason)"])
        }
        onChange(change)
    }
}
