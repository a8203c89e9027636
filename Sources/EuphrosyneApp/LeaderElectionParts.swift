import AsyncHTTPClient
import EuphrosyneCluster
import EuphrosyneEngine
import EuphrosyneKubernetes
import EuphrosyneRedisAdapters
import EuphrosyneServer

/// The leader election side of cluster mode with `--leader-election`: the elector, the coordinator service that acts
/// only while this replica leads, the forwarding to the leader (with `POD_IP`), and what readiness and `/metrics` say
/// of it. `ClusterReconciler` builds it when the settings ask for an election.
struct LeaderElectionParts: Sendable {
    let elector: LeaderElector<ContinuousClock>
    /// Runs the coordinator only while leading; in the service group in the coordinator's place.
    let coordinatorService: LeaderOnlyCoordinator
    /// How a replica standing by passes leader-only requests on; nil without an advertised address.
    let forwarding: LeaderForwarding?
    private let advertisedHost: String?

    init?(settings: ServeSettings, client: KubernetesClient, namespace: String, coordinator: IncidentCoordinator,
          fence: RedisFence?, httpClient: HTTPClient, metrics: ReconcilerMetrics) {
        guard let election = settings.leaderElection, let fence else { return nil }
        let logger = settings.logger("euphrosyne.leader-election")
        elector = LeaderElector(client: client, namespace: namespace, leaseName: settings.leaderElectionLease,
                                settings: election, clock: ContinuousClock(), logger: logger) { change in
            switch change {
            case .started: metrics.increment("euphrosyne_leader_changes_total", [("change", "started")])
            case .stopped: metrics.increment("euphrosyne_leader_changes_total", [("change", "stopped")])
            }
        }
        coordinatorService = LeaderOnlyCoordinator(coordinator: coordinator, elector: elector, fence: fence, logger: logger)
        advertisedHost = settings.advertisedHost
        forwarding = advertisedHost.map { [elector] _ in
            LeaderForwardingClient.forwarding(elector: elector, httpClient: httpClient)
        }
    }

    /// Without forwarding only the leader is ready, so the Services send alerts and approvals to it. With it, every
    /// replica takes traffic once it has read the Lease (and so knows where the leader is, or that it leads).
    var readinessCheck: (name: String, check: Readiness.Check) {
        let elector = self.elector
        guard forwarding == nil else {
            return (name: "leader", check: { elector.hasReadTheLease ? nil : "the leader election has not read the Lease yet" })
        }
        return (name: "leader", check: { elector.isLeading ? nil : "standing by: another replica leads" })
    }

    /// Publishes, in the Lease while this replica leads, where the listener under `key` took its port.
    func advertise(_ key: String, port: Int) {
        guard let host = advertisedHost else { return }
        elector.advertise([key: LeaderForwardingClient.url(host: host, port: port)])
    }

    /// `euphrosyne_leader`: 1 while this replica may act.
    func sampler(into metrics: ReconcilerMetrics) -> @Sendable () async -> Void {
        let elector = self.elector
        return { metrics.gauge("euphrosyne_leader", elector.isLeading ? 1 : 0) }
    }
}
