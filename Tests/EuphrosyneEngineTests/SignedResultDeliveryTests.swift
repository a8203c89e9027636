import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneTestSupport
import Foundation
import MetricsTestKit
import Testing

@testable import EuphrosyneEngine

/// How the coordinator judges a result by where it came from: signatures verified against the incident's key
/// whichever way they came, unsigned results from a source anyone can publish to refused when signatures are
/// required, and every refusal counted, leaving the incident as it was.
@Suite struct SignedResultDeliveryTests {
    struct Harness {
        let coordinator: IncidentCoordinator
        let launcher = ScriptedLauncher(["dummy": .hang])
        let source = PublishedResultSource()
        let metrics = TestMetrics()

        init(requireSignedResults: Bool) {
            coordinator = IncidentCoordinator(
                registry: StaticRecipeRegistry(RecipeCatalog(debugging: [.fake("dummy")], actions: [])),
                launcher: launcher, resultSource: source, notifier: RecordingNotifier(), store: InMemoryIncidentStore(),
                configuration: .init(defaultRecipeTimeoutSeconds: 60, drainTimeout: .milliseconds(100),
                                     requireSignedResults: requireSignedResults),
                metrics: ReconcilerMetrics(factory: metrics)
            )
        }

        func running(_ body: @Sendable (IncidentCoordinator) async throws -> Void) async throws {
            try await RunningServer.with(services: [coordinator], ports: PortCollector(count: 0)) { _ in
                try await body(coordinator)
            }
        }

        /// Opens an incident and waits for its run to start; returns it and the key its recipe was given.
        func open() async throws -> (id: UUID, key: String) {
            let incident = try await coordinator.openIncident(payload: .unique)
            try await waitUntil("the run to start") { launcher.requests.contains { $0.incidentID == incident.id } }
            let request = try #require(launcher.requests.first { $0.incidentID == incident.id })
            return (incident.id, try #require(request.resultKey))
        }

        func refused(_ reason: String) -> Int64 {
            (try? metrics.expectCounter("euphrosyne_results_refused_total", [("reason", reason)]).totalValue) ?? 0
        }

        func runState(_ id: UUID) async throws -> RecipeRun.State? {
            try await coordinator.incident(id)?.runs.first?.state
        }
    }

    static func result(_ id: UUID, analysis: String = "honest") -> RecipeResult {
        RecipeResult(incident: id.uuidString.lowercased(), name: "dummy", status: .successful,
                     results: .init(actions: [], analysis: analysis))
    }

    @Test func theRecipesKeyIsItsIncidentsSecret() async throws {
        let harness = Harness(requireSignedResults: false)
        try await harness.running { coordinator in
            let (id, key) = try await harness.open()
            #expect(key == (await coordinator.callbackSecret(for: id)))
            #expect(key.utf8.count == 64)
            // Never among the plain variables.
            #expect(!(harness.launcher.requests.first?.environment.values.contains(key) ?? true))
        }
    }

    @Test func aForgedSignatureIsRefusedWhicheverWayItComesAndCounted() async throws {
        let harness = Harness(requireSignedResults: false)
        try await harness.running { coordinator in
            let (id, key) = try await harness.open()
            let (other, otherKey) = try await harness.open()
            let forged = Self.result(id, analysis: "forged")
            // Signed with a made-up key, and with the key of another incident (a recipe of that one forging).
            for wrongKey in [IncidentCoordinator.makeSecret(), otherKey] {
                let signed = ResultSignature.signed(forged, key: wrongKey)
                #expect(await coordinator.deliver(signed, via: .published) == .refused(.badSignature))
                #expect(await coordinator.deliver(signed, via: .callback) == .refused(.badSignature))
            }
            // A good signature over different content (a replay with the analysis changed).
            var altered = ResultSignature.signed(Self.result(id), key: key)
            altered.results.analysis = "forged"
            #expect(await coordinator.deliver(altered, via: .published) == .refused(.badSignature))
            // Through the source, as Redis delivers it.
            harness.source.publish(ResultSignature.signed(forged, key: otherKey))
            try await waitUntil("the published forgery to be counted") { harness.refused("bad_signature") == 6 }
            #expect(harness.refused("unsigned") == 0)

            // The incident did not move.
            #expect(try await harness.runState(id) == .running)
            #expect(try await coordinator.incident(id)?.state == .diagnosing)

            // Its own recipe's signed result is taken, and kept without the signature.
            #expect(await coordinator.deliver(ResultSignature.signed(Self.result(id), key: key), via: .published) == .accepted)
            let incident = try #require(try await coordinator.incident(id))
            #expect(incident.runs.first?.state == .reported)
            #expect(incident.runs.first?.result?.results.analysis == "honest")
            #expect(incident.runs.first?.result?.signature == nil)
            try await waitUntil("the analysis") { try await coordinator.incident(id)?.state == .analysed }
            #expect(try await harness.runState(other) == .running)
        }
    }

    @Test func unsignedResultsFromRedisAreRefusedWhenSignaturesAreRequired() async throws {
        let harness = Harness(requireSignedResults: true)
        try await harness.running { coordinator in
            let (id, key) = try await harness.open()
            harness.source.publish(Self.result(id, analysis: "neighbour"))
            try await waitUntil("the unsigned result to be counted") { harness.refused("unsigned") == 1 }
            #expect(await coordinator.deliver(Self.result(id), via: .published) == .refused(.unsigned))
            #expect(harness.refused("unsigned") == 2)
            #expect(try await harness.runState(id) == .running)

            // Signed, it comes through the same way.
            harness.source.publish(ResultSignature.signed(Self.result(id), key: key))
            try await waitUntil("the signed result") { try await harness.runState(id) == .reported }
            #expect(try await coordinator.incident(id)?.runs.first?.result?.results.analysis == "honest")
            #expect(harness.refused("bad_signature") == 0)
        }
    }

    @Test func theCallbackNeedsNoSignatureItsURLAuthenticatesIt() async throws {
        let harness = Harness(requireSignedResults: true)
        try await harness.running { coordinator in
            let (id, _) = try await harness.open()
            #expect(await coordinator.deliver(Self.result(id), via: .callback) == .accepted)
            #expect(harness.refused("unsigned") == 0)
        }
    }

    @Test func unsignedResultsFromRedisAreTakenWhenSignaturesAreNotRequired() async throws {
        let harness = Harness(requireSignedResults: false)
        try await harness.running { coordinator in
            let (id, _) = try await harness.open()
            harness.source.publish(Self.result(id, analysis: "original SDK"))
            try await waitUntil("the unsigned result") { try await harness.runState(id) == .reported }
            #expect(harness.refused("unsigned") == 0)
        }
    }

    @Test func theRuleAsAValue() {
        let key = "k"
        let unsigned = Self.result(UUID())
        let good = ResultSignature.signed(unsigned, key: key)
        var bad = good
        bad.signature = ResultSignature.sign(unsigned, key: "other")
        for required in [false, true] {
            #expect(ResultOrigin.callback.refusal(of: unsigned, key: key, requiringSignatures: required) == nil)
            #expect(ResultOrigin.published.refusal(of: unsigned, key: key, requiringSignatures: required)
                == (required ? .unsigned : nil))
            for origin in [ResultOrigin.callback, .published] {
                #expect(origin.refusal(of: good, key: key, requiringSignatures: required) == nil)
                #expect(origin.refusal(of: bad, key: key, requiringSignatures: required) == .badSignature)
            }
        }
    }
}

/// What the incident bounds hold back is counted where it happens.
@Suite struct IncidentBoundsMetricTests {
    @Test func anOversizedResultAndForgottenAlertKeysAreCounted() async throws {
        let harness = SignedResultDeliveryTests.Harness(requireSignedResults: false)
        try await harness.running { coordinator in
            let (id, _) = try await harness.open()
            #expect(await coordinator.deliver(SignedResultDeliveryTests.result(id, analysis: String(repeating: "x", count: 100_000)),
                                              via: .callback) == .accepted)
            #expect(try harness.metrics.expectCounter("euphrosyne_incident_bounds_total", [("bound", "result_size")]).totalValue == 1)
            #expect(try await coordinator.incident(id)?.runs.first?.result?.results.analysis.utf8.count
                    == RecipeResult.Bounds.analysisBytes)
        }
    }
}
