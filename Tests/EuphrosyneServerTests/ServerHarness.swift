import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneLocal
import EuphrosynePorts
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A coordinator with scripted recipes behind both routers, for driving the HTTP API in tests.
struct ServerHarness {
    static let catalog = RecipeCatalog(
        debugging: [.fake("dummy")],
        actions: [.fake("jira", .action), Recipe(name: "restart", kind: .action, enabled: false, entrypoint: "restart",
                                                  arguments: ["restart"])]
    )

    let coordinator: IncidentCoordinator
    let launcher: ScriptedLauncher
    let notifier = RecordingNotifier()
    let webhook: Application<RouterResponder<BasicRequestContext>>
    let api: Application<RouterResponder<BasicRequestContext>>

    init(_ behaviours: [String: ScriptedLauncher.Behaviour] = [
        "dummy": .report(analysis: "fine", actions: ["jira"], delay: .zero),
        "jira": .report(analysis: "OPS-1", actions: [], delay: .zero),
    ], readiness: Readiness = Readiness(), registry: (any RecipeRegistry)? = nil,
         // Hanging scripted recipes are stopped quickly when a test's coordinator shuts down.
         configuration: CoordinatorConfiguration = .init(drainTimeout: .milliseconds(200)),
         apiCredentials: APICredentials = APICredentials(), webhookCredentials: WebhookCredentials = WebhookCredentials(),
         metrics: ReconcilerMetrics = ReconcilerMetrics(), store: any IncidentStore = InMemoryIncidentStore()) {
        launcher = ScriptedLauncher(behaviours)
        coordinator = IncidentCoordinator(
            registry: registry ?? StaticRecipeRegistry(Self.catalog), launcher: launcher,
            resultSource: HTTPCallbackResultSource(baseURL: "http://127.0.0.1:9"), notifier: notifier,
            store: store, configuration: configuration, metrics: metrics
        )
        let coordinator = self.coordinator
        launcher.deliverResults { _ = await coordinator.deliver($0, via: .callback) }
        webhook = Application(router: Listeners.webhookRouter(coordinator: coordinator, readiness: readiness,
                                                               credentials: webhookCredentials))
        api = Application(router: Listeners.apiRouter(coordinator: coordinator, readiness: readiness,
                                                      credentials: apiCredentials))
    }

    /// Runs the coordinator while `body` runs.
    func running<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in try await body() }
    }

    /// Opens an incident and waits until it is analysed.
    func analysedIncident() async throws -> Incident {
        let incident = try await coordinator.openIncident(payload: ["version": .string("4")])
        try await waitUntil("the analysis") { try await coordinator.incident(incident.id)?.state == .analysed }
        return try await coordinator.incident(incident.id)!
    }
}

extension HTTPFields {
    /// What a JSON request carries: `Content-Type: application/json`.
    static var json: HTTPFields { [.contentType: "application/json"] }
}

extension ByteBuffer {
    init(json: String) {
        self.init(string: json)
    }
}

extension TestResponse {
    /// The `error` object of a JSON error body.
    var apiError: (code: String, message: String, field: String?)? {
        guard let object = try? JSONValue.parseObject(Data(body.readableBytesView)),
              let error = object["error"]?.objectValue,
              let code = error["code"]?.stringValue, let message = error["message"]?.stringValue
        else { return nil }
        return (code, message, error["field"]?.stringValue)
    }

    var json: [String: JSONValue]? { try? JSONValue.parseObject(Data(body.readableBytesView)) }
    var jsonArray: [JSONValue]? { try? JSONDecoder().decode([JSONValue].self, from: Data(body.readableBytesView)) }
}
