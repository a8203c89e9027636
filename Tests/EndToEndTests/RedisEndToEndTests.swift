import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

/// Local mode with `--redis-address`: real recipe processes report over Redis, incidents live in Redis, and a
/// reconciler restarted in the middle of an incident finishes it.
@Suite struct RedisEndToEndTests {
    @Test func recipesReportOverRedisAndTheLoopCloses() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        try await withRedisServer { redis in
            try await loop.run(registry: LocalModeEndToEndTests.demoRegistry(recordFile: loop.recordFile), redis: redis) {
                endpoints in
                let id = try await endpoints.alert(#"{"check":"redis"}"#)
                try await endpoints.waitForState(id, "analysed")
                // The result went through Redis: its durable copy is there.
                let copies = try await redis.cli(["LLEN", ResultDelivery.durableKey(incident: id.uuidString)])
                #expect(copies.hasPrefix("1"))
                let (status, _) = try await endpoints.post(
                    endpoints.api, "/api/actions", #"{"uuid":"\#(id.uuidString)","actions":[{"name":"record"}]}"#)
                #expect(status == 202)
                try await endpoints.waitForState(id, "done")
            }
        }
    }

    @Test func aRestartedReconcilerFinishesTheIncidentWithoutRunningRecipesAgain() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let starts = loop.directory.appendingPathComponent("starts").path
        // slow waits for the test's word, so it is certainly still running when the first reconciler stops (and
        // gives up once the test's directory is gone, so a failed test leaves no process behind).
        let release = loop.directory.appendingPathComponent("release").path
        let slow = try loop.script("slow", """
            echo started >> \(starts)
            while [ ! -f \(release) ]; do [ -d \(loop.directory.path) ] || exit 1; sleep 0.05; done
            exec \(LocalLoop.recipesBinary) dummy "$@"
            """)
        let registry = LocalModeEndToEndTests.registry(debugging: """
            fast:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
            slow:
              enabled: true
              entrypoint: "\(slow)"
            """)
        try await withRedisServer { redis in
            let id = try await loop.run(registry: registry, redis: redis, drainTimeout: .milliseconds(200)) { endpoints in
                let id = try await endpoints.alert(#"{"check":"restart"}"#)
                try await waitUntil("fast to report while slow runs") {
                    let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
                    return runs.map { $0["state"]?.stringValue ?? "" } == ["reported", "running"]
                }
                return id
            }
            // The first reconciler is gone; slow is still running. Let it report (into Redis) and start a new
            // reconciler, which picks the incident up.
            #expect(FileManager.default.createFile(atPath: release, contents: nil))
            try await loop.run(registry: registry, redis: redis) { endpoints in
                try await endpoints.waitForState(id, "analysed")
                let incident = try await endpoints.incident(id)
                #expect(incident["runs"]?.arrayValue?.map { $0["state"] } == [.string("reported"), .string("reported")],
                        "\(incident["runs"] ?? .null)")
            }
            let runs = try String(contentsOfFile: starts, encoding: .utf8).split(separator: "\n")
            #expect(runs.count == 1)
        }
    }
}
