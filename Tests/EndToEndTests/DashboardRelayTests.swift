import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneDashboard
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

@testable import EuphrosyneApp

/// With several replicas, a dashboard open on a replica standing by follows the leader's changes: its event stream
/// is the leader's, relayed by `LeaderForwardingClient`; with no leader known it answers `503 not_leader`.
@Suite struct DashboardRelayTests {
    static let token = "relay-token"

    static func coordinator() -> IncidentCoordinator {
        let launcher = ScriptedLauncher(["dummy": .report(analysis: "found it", actions: [], delay: .zero)])
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(RecipeCatalog(debugging: [.fake("dummy")], actions: [])), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: RecordingNotifier(),
            store: InMemoryIncidentStore(), configuration: .init(drainTimeout: .milliseconds(200))
        )
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        return coordinator
    }

    static func router(_ dashboard: Dashboard, _ coordinator: IncidentCoordinator) -> Router<BasicRequestContext> {
        Listeners.apiRouter(coordinator: coordinator, readiness: Readiness(),
                            credentials: APICredentials(bearerTokens: ["oncall": token]),
                            routes: [dashboard.pages], protectedRoutes: [dashboard.data])
    }

    @Test func aReplicaStandingByRelaysTheLeadersEvents() async throws {
        let leader = Self.coordinator()
        let follower = Self.coordinator()
        let known = Mutex<LeaderForwarding.Leader>(.unknown)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await RunningServer.with(services: [leader], ports: PortCollector(count: 0)) { _ in
                try await RunningServer.with([Self.router(Dashboard(coordinator: leader), leader)]) { leaderPorts in
                    let forwarding = LeaderForwarding(identity: "follower", leader: { known.withLock { $0 } }, send: { request in
                        try await LeaderForwardingClient.send(request, with: client)
                    }, relay: { request, write in
                        try await LeaderForwardingClient.relay(request, write: write, with: client)
                    })
                    let dashboard = Dashboard(coordinator: follower, forwarding: forwarding)
                    try await RunningServer.with([Self.router(dashboard, follower)]) { ports in
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(ports[0])/ui/events")
                        request.headers.add(name: "Authorization", value: "Bearer \(Self.token)")
                        // No leader known: refused, to be tried again.
                        let refused = try await client.execute(request, timeout: .seconds(10))
                        #expect(refused.status.code == 503 && refused.headers.first(name: "retry-after") == "3")
                        _ = try await refused.body.collect(upTo: 1 << 16)

                        known.withLock { $0 = .elsewhere(webhook: "", api: "http://127.0.0.1:\(leaderPorts[0])") }
                        let response = try await client.execute(request, timeout: .seconds(30))
                        #expect(response.status.code == 200)
                        try await waitUntil("the leader's stream") { leader.changes.subscriberCount == 1 }
                        #expect(follower.changes.subscriberCount == 0, "the follower's own coordinator is not followed")
                        let id = try await leader.openIncident(payload: .unique).id
                        var received = ""
                        for try await piece in response.body {
                            received += String(buffer: piece)
                            if received.contains(#""uuid":"\#(id.uuidString.lowercased())","state":"analysed""#) { break }
                        }
                        #expect(received.hasPrefix(": connected\n\n"))
                    }
                }
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
