import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation

/// Who may act, decided through a Kubernetes `Lease`, as client-go's leader election does: I/O-free, so every
/// interleaving (a rival's renewal, a lost write, a pause past the deadline) is tested as values.
///
/// The elector that runs it reads the Lease, asks `attempt` what to write, writes it with the `resourceVersion` it
/// read (so of two replicas writing at once, the API server takes one and refuses the other with `409 Conflict`),
/// and reports the outcome with `written` or `failed`. Times are monotonic: `now` is the time elapsed on the
/// elector's clock since it started, never a wall-clock date, so a replica whose clock is wrong cannot take a Lease
/// early. A rival's Lease counts as expired only once it has not changed for its whole duration *as this replica
/// observed it*; the times written into the Lease are for people and `kubectl`, not for the decision.
public struct LeaderElection: Sendable {
    /// The timing of an election, controller-runtime's defaults unless configured.
    public struct Settings: Sendable, Hashable {
        /// This replica's name in the Lease: the pod's name (`POD_NAME`) or the host name.
        public var identity: String
        /// How long a Lease counts after its last renewal before a rival may take it over.
        public var leaseDuration: Duration
        /// How long a leader keeps acting without a successful renewal. Shorter than `leaseDuration`, so a leader that
        /// cannot renew stops before anyone else can take the Lease.
        public var renewDeadline: Duration
        /// The pause between attempts.
        public var retryPeriod: Duration

        public init(identity: String, leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                    retryPeriod: Duration = .seconds(2)) {
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }

        /// Why these settings cannot elect safely, or nil when they can.
        public var problem: String? {
            if identity.isEmpty { return "the leader election identity is empty" }
            if retryPeriod <= .zero { return "the leader election retry period must be positive" }
            if renewDeadline <= retryPeriod * 1.2 {
                return "the renew deadline (\(renewDeadline)) must be longer than 1.2 × the retry period (\(retryPeriod))"
            }
            if leaseDuration <= renewDeadline {
                return "the lease duration (\(leaseDuration)) must be longer than the renew deadline (\(renewDeadline))"
            }
            return nil
        }
    }

    /// What the elector should do now.
    public enum Attempt: Sendable, Hashable {
        /// No Lease exists: create this one.
        case create(Lease)
        /// Write this Lease over the one read (a renewal of ours, or a take-over of an expired one).
        case update(Lease)
        /// Someone else holds a valid Lease: try again after `pause(at:random:)`.
        case wait(holder: String)
    }

    /// A change of leadership, for logs and metrics.
    public enum Change: Sendable, Hashable {
        case started
        case stopped(reason: String)
    }

    public let settings: Settings
    /// The Lease's `spec` and annotations as last seen, and when the spec last changed (elector time).
    private var observed: Lease.Spec?
    private var observedAnnotations: [String: String] = [:]
    private var observedAt: Duration = .zero
    /// When this replica last wrote the Lease as its holder (elector time); nil while it is not leading.
    private var renewedAt: Duration?

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Whether this replica may act now: it holds the Lease and renewed it less than `renewDeadline` ago.
    public func isLeading(at now: Duration) -> Bool {
        guard let renewedAt else { return false }
        return now - renewedAt < settings.renewDeadline
    }

    /// The annotations of the Lease as another replica holds it, while its hold is valid as this replica observed
    /// it (where the leader publishes how to reach it); nil when this replica leads, or no other replica does.
    public func leaderAnnotations(at now: Duration) -> [String: String]? {
        guard renewedAt == nil, let observed, let holder = observed.holderIdentity, !holder.isEmpty,
              holder != settings.identity
        else { return nil }
        let duration = observed.leaseDurationSeconds.map { Duration.seconds($0) } ?? settings.leaseDuration
        return now - observedAt < duration ? observedAnnotations : nil
    }

    /// How much of the retry period a replica standing by adds at random to its pause, so that candidates do not knock
    /// in step. client-go adds up to 120 %, which suits hundreds of candidates; a reconciler has a handful of
    /// replicas, and a shorter spread bounds how late one of them sees the leader's last renewal, which is what a
    /// failover waits for.
    public static let jitter = 0.2

    /// How long to wait before the next attempt, `random` being drawn from 0..<1. A leader renews every retry period.
    /// A replica standing by waits the retry period plus up to `jitter` of it, but not past the moment the holder's
    /// Lease expires as this replica observed it: it takes over as soon as it may, not up to a retry period later.
    public func pause(at now: Duration, random: Double) -> Duration {
        if isLeading(at: now) { return settings.retryPeriod }
        let pause = settings.retryPeriod + settings.retryPeriod * (Self.jitter * random)
        guard renewedAt == nil, let observed, let holder = observed.holderIdentity, !holder.isEmpty,
              holder != settings.identity
        else { return pause }
        let duration = observed.leaseDurationSeconds.map { Duration.seconds($0) } ?? settings.leaseDuration
        let untilExpiry = observedAt + duration - now
        return untilExpiry > .zero ? min(pause, untilExpiry) : pause
    }

    /// Until when this replica may act without another renewal (elector time); nil while it does not lead.
    public var leadingUntil: Duration? { renewedAt.map { $0 + settings.renewDeadline } }

    /// The Lease as it is (`nil` when there is none, `name` being the one to create) and what to write.
    ///
    /// `wallClock` only fills the Lease's `acquireTime` and `renewTime`. A leader that sees a rival holding the Lease
    /// stops leading here (`stoppedLeading` says so).
    public mutating func attempt(
        current: Lease?, name: String, namespace: String, at now: Duration, wallClock: Date,
        annotations: [String: String] = [:]
    ) -> (attempt: Attempt, change: Change?) {
        let stamp = RFC3339.formatWithMicroseconds(wallClock)
        let seconds = Int(settings.leaseDuration.components.seconds)
        guard let current else {
            let spec = Lease.Spec(holderIdentity: settings.identity, leaseDurationSeconds: seconds,
                                  acquireTime: stamp, renewTime: stamp, leaseTransitions: 0)
            let metadata = ObjectMeta(name: name, namespace: namespace, annotations: annotations.isEmpty ? nil : annotations)
            return (.create(Lease(metadata: metadata, spec: spec)), nil)
        }
        let record = current.spec ?? Lease.Spec()
        if record != observed {
            observed = record
            observedAt = now
        }
        observedAnnotations = current.metadata.annotations ?? [:]
        let holder = record.holderIdentity ?? ""
        var next = current
        // Written as the holder: this replica's annotations replace the previous holder's.
        next.metadata.annotations = annotations.isEmpty ? nil : annotations
        if holder == settings.identity {
            // Ours: renew, keeping when we acquired it.
            var spec = record
            spec.leaseDurationSeconds = seconds
            spec.renewTime = stamp
            next.spec = spec
            return (.update(next), nil)
        }
        let duration = record.leaseDurationSeconds.map { Duration.seconds($0) } ?? settings.leaseDuration
        if !holder.isEmpty, now - observedAt < duration {
            let change: Change? = renewedAt == nil ? nil : .stopped(reason: "\(holder) holds the lease")
            renewedAt = nil
            return (.wait(holder: holder), change)
        }
        // Free (released) or expired as we observed it: take it over. The holder changes, so the transitions count.
        next.spec = Lease.Spec(holderIdentity: settings.identity, leaseDurationSeconds: seconds, acquireTime: stamp,
                               renewTime: stamp, leaseTransitions: (record.leaseTransitions ?? 0) + 1)
        return (.update(next), nil)
    }

    /// The write `attempt` asked for succeeded: `stored` is the Lease as the API server now holds it.
    public mutating func written(_ stored: Lease, at now: Duration) -> Change? {
        observed = stored.spec
        observedAnnotations = stored.metadata.annotations ?? [:]
        observedAt = now
        let wasLeading = isLeading(at: now)
        renewedAt = now
        return wasLeading ? nil : .started
    }

    /// The read or the write failed (a conflict, a refusal, no answer). A leader keeps acting until its renew
    /// deadline; past it, it stops.
    public mutating func failed(at now: Duration) -> Change? {
        guard let renewedAt else { return nil }
        guard now - renewedAt >= settings.renewDeadline else { return nil }
        self.renewedAt = nil
        return .stopped(reason: "the lease was not renewed within \(settings.renewDeadline)")
    }

    /// The Lease to write when this replica stops (a graceful shutdown), so that another takes over at once instead
    /// of after the lease duration; nil when this replica does not hold `current`.
    public mutating func release(current: Lease, wallClock: Date) -> Lease? {
        guard let spec = current.spec, spec.holderIdentity == settings.identity else { return nil }
        renewedAt = nil
        var released = current
        released.metadata.annotations = nil
        released.spec = Lease.Spec(holderIdentity: nil, leaseDurationSeconds: 1, acquireTime: nil,
                                   renewTime: RFC3339.formatWithMicroseconds(wallClock),
                                   leaseTransitions: spec.leaseTransitions)
        return released
    }
}
