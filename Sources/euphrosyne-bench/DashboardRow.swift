import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneDashboard
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore

/// How long the dashboard's list takes to render 1,000 incidents on the server: `GET /ui/fragments/incidents` on the
/// real API router (authentication included) over a store holding 1,000 incidents of varied alerts, states and runs.
///
/// Reference: the same 1,000 incidents as the JSON API lists them (`GET /api/incidents`, two pages of 500), on the
/// same router and client, in alternating rounds.
struct DashboardRow {
    var incidents = 1_000
    var rounds = 30

    func row() async throws -> Row {
        var quiet = Logger(label: "bench.dashboard")
        quiet.logLevel = .critical
        let store = InMemoryIncidentStore(capacity: incidents * 2)
        let names = ["PodCrashLooping", "DiskFull", "HighLatency", "NodeNotReady", "CertificateExpiring"]
        let states: [Incident.State] = [.analysed, .done, .resolved, .diagnosing, .expired]
        let start = Date().addingTimeInterval(-86_400)
        for index in 0..<incidents {
            let payload = try JSONValue.parseObject(Data(Alerts.firing(alertname: names[index % names.count],
                                                                       instance: "host-\(index)").utf8))
            var incident = Incident(id: UUID(), payload: payload, callbackSecret: "s",
                                    at: start.addingTimeInterval(Double(index) * 60))
            incident.state = states[index % states.count]
            incident.runs = ["pod-diagnostics", "http-errors"].enumerated().map { run, recipe in
                RecipeRun(id: run + 1, recipe: recipe, kind: .debugging, description: recipe, name: "\(recipe)-\(index)",
                          timeoutSeconds: 300, createdAt: incident.createdAt)
            }
            incident.analysis = Analysis(text: "pods are crash-looping on host-\(index)", actions: ["restart", "jira"],
                                         links: [], successful: [], shortfalls: [])
            await store.save(incident)
        }
        let coordinator = IncidentCoordinator(
            registry: StaticRecipeRegistry(RecipeCatalog(debugging: [], actions: [])), launcher: ReportingLauncher(),
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: LogNotifier(logger: quiet),
            store: store, logger: quiet
        )
        let dashboard = Dashboard(coordinator: coordinator)
        let router = Listeners.apiRouter(coordinator: coordinator, readiness: Readiness(),
                                         credentials: APICredentials(bearerTokens: ["bench": "bench-token"]),
                                         routes: [dashboard.pages], protectedRoutes: [dashboard.data])
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let (ours, reference): (Double, Double) = try await RunningServer.with([router]) { ports in
                let base = "http://127.0.0.1:\(ports[0])"
                func get(_ path: String) async throws -> (Duration, Int) {
                    var request = HTTPClientRequest(url: base + path)
                    request.headers.add(name: "Authorization", value: "Bearer bench-token")
                    let began = ContinuousClock.now
                    let response = try await client.execute(request, timeout: .seconds(30))
                    let body = try await response.body.collect(upTo: 64 << 20)
                    guard response.status == .ok else { throw BenchError("\(path) answered \(response.status.code)") }
                    return (ContinuousClock.now - began, body.readableBytes)
                }
                let (_, size) = try await get("/ui/fragments/incidents")
                guard size > incidents * 200 else { throw BenchError("the list is only \(size) bytes") }
                for _ in 0..<5 { _ = try await get("/ui/fragments/incidents"); _ = try await get("/api/incidents?limit=500") }
                var ours: [Double] = []
                var reference: [Double] = []
                for _ in 0..<rounds {
                    ours.append(try await get("/ui/fragments/incidents").0.asMilliseconds)
                    let first = try await get("/api/incidents?limit=500&offset=0").0
                    let second = try await get("/api/incidents?limit=500&offset=500").0
                    reference.append((first + second).asMilliseconds)
                }
                return (median(ours), median(reference))
            }
            try await client.shutdown()
            return Row(name: "Dashboard list of \(incidents) incidents on the server (GET /ui/fragments/incidents), median of \(rounds) (lower is better)",
                       ours: formatMilliseconds(ours),
                       reference: "\(formatMilliseconds(reference)) (the same incidents from GET /api/incidents, 2 × 500)",
                       ratio: ours / reference, target: "< 100 ms", met: ours < 100)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
