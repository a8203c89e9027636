import EuphrosyneCore
import EuphrosyneRedis
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import Testing

@testable import RecipeKit

@Suite struct RedisReporterTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func reportsDurablyThenPublishesInTheOriginalSchema() async throws {
        try await withRedisServer { server in
            let subscriber = RedisSubscriber(configuration: server.configuration(), logger: Self.quiet)
            try await RunningServer.with(services: [subscriber], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                let incident = "6f1c1e2a-1111-4c5d-9e8f-0123456789ab"
                var events = try await subscriber.subscribe(to: incident).makeAsyncIterator()
                guard case .subscribed = await events.next() else {
                    Issue.record("expected the subscription to be confirmed")
                    return
                }
                let result = RecipeResult(incident: incident, name: "http-errors", status: .successful,
                                          results: .init(actions: ["jira"], analysis: "5xx spike", json: "{}",
                                                         links: ["https://grafana.example/d/x"]))
                try await RedisReporter(address: "127.0.0.1:\(server.port)", environment: [:]).report(result)

                guard case .message(let payload) = await events.next() else {
                    Issue.record("expected the published result")
                    return
                }
                // Decoded the way the original system did: these field names, nothing renamed.
                let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.readableBytesView)) as? [String: Any])
                #expect(Set(object.keys) == ["incident", "name", "status", "results"])
                #expect(object["incident"] as? String == incident)
                #expect(object["name"] as? String == "http-errors")
                #expect(object["status"] as? String == "successful")
                let results = try #require(object["results"] as? [String: Any])
                #expect(Set(results.keys) == ["actions", "analysis", "json", "links"])
                #expect(results["actions"] as? [String] == ["jira"])
                #expect(results["analysis"] as? String == "5xx spike")

                let key = ResultDelivery.durableKey(incident: incident)
                #expect(try await server.cli(["LRANGE", key, "0", "-1"]).trimmingCharacters(in: .whitespacesAndNewlines)
                    == String(decoding: payload.readableBytesView, as: UTF8.self))
                let ttl = Int(try await server.cli(["TTL", key]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                #expect(ttl > 0 && ttl <= ResultDelivery.durableKeyTTL)
            }
        }
    }

    @Test func aRecipeWithAKeyPublishesAndStoresItsResultSigned() async throws {
        let key = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f"
        let incident = "6f1c1e2a-1111-4c5d-9e8f-0123456789ab"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recipekit-\(UUID().uuidString).json").path
        try #"{"uuid":"\#(incident)"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withRedisServer { server in
            let subscriber = RedisSubscriber(configuration: server.configuration(), logger: Self.quiet)
            try await RunningServer.with(services: [subscriber], ports: PortCollector(count: 0), logger: Self.quiet) { _ in
                var events = try await subscriber.subscribe(to: incident).makeAsyncIterator()
                guard case .subscribed = await events.next() else {
                    Issue.record("expected the subscription to be confirmed")
                    return
                }
                let status = await RecipeRunner.run(
                    name: "http-errors",
                    arguments: ["--data-file-path", path, "--aggregator-address", "", "--redis-address", "127.0.0.1:\(server.port)"],
                    environment: ["EUPHROSYNE_RESULT_KEY": key]
                ) { _ in .successful("5xx spike", actions: ["jira"]) }
                #expect(status == 0)
                guard case .message(let payload) = await events.next() else {
                    Issue.record("expected the published result")
                    return
                }
                let published = try RecipeResult.decode(Data(payload.readableBytesView))
                #expect(ResultSignature.verify(published, key: key))
                #expect(published.name == "http-errors" && published.results.analysis == "5xx spike")
                // The durable copy is the same signed bytes.
                let stored = try await server.cli(["LRANGE", ResultDelivery.durableKey(incident: incident), "0", "-1"])
                #expect(stored.trimmingCharacters(in: .whitespacesAndNewlines) == String(decoding: payload.readableBytesView, as: UTF8.self))
            }
        }
    }

    @Test func anUnreachableRedisIsAClearFailure() async throws {
        var configuration = try RedisConfiguration(address: "127.0.0.1:\(try RedisServerProcess.freePort())")
        configuration.connectTimeout = .milliseconds(200)
        configuration.commandTimeout = .milliseconds(300)
        do {
            try await RedisReporter(configuration: configuration, attempts: 2).report(
                RecipeResult(incident: "u", name: "dummy", status: .successful))
            Issue.record("reporting to a closed port must fail")
        } catch {
            #expect(error.kind == .reporting)
            #expect(error.message.contains("127.0.0.1:\(configuration.port)"))
        }
    }

    @Test func aBadRedisAddressIsAUsageError() {
        #expect(throws: RecipeError.self) { try RedisReporter(address: "not an address:::", environment: [:]) }
    }
}
