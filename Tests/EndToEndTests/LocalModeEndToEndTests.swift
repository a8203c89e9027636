import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

/// The whole incident loop in local mode with real recipe processes (the built `euphrosyne-recipes` and small
/// script recipes), the real HTTP listeners and a fake bot that checks the bot protocol.
@Suite struct LocalModeEndToEndTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func registry(debugging: String, actions: String = "") -> String {
        func indent(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        }
        return """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: orpheus-operator-recipes
            data:
              debugging: |
            \(indent(debugging))
              actions: |
            \(indent(actions.isEmpty ? "{}" : actions))
            """
    }

    /// The built-in `dummy` suggesting the built-in `record`, which appends to `recordFile`.
    static func demoRegistry(recordFile: String) -> String {
        registry(
            debugging: """
                dummy:
                  enabled: true
                  image: "euphrosyne/recipes:latest"
                  entrypoint: "euphrosyne-recipes dummy"
                  description: "Proves the loop works"
                  env:
                    DUMMY_SUGGEST: record
                """,
            actions: """
                record:
                  enabled: true
                  entrypoint: "euphrosyne-recipes record"
                  description: "Appends the approval to a file"
                  env:
                    RECORD_FILE: \(recordFile)
                """
        )
    }

    @Test func anAlertIsAnalysedApprovedAndActedOnWithTheBotProtocol() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registry = Self.demoRegistry(recordFile: loop.recordFile)
        let payload = try Self.fixture("alertmanager-firing.json")

        try await loop.run(registry: registry) { endpoints in
            let id = try await endpoints.alert(payload)
            let uuid = id.uuidString.lowercased()
            try await endpoints.waitForState(id, "analysed")
            let incident = try await endpoints.incident(id)
            #expect(incident["suggestedActions"] == .array([.string("record")]))

            try await waitUntil("the analysis at the bot") { !loop.bot.received(path: "/api/analysis").isEmpty }
            let analysisText = "dummy: Dummy analysis of PodCrashLooping (firing, 2 alerts): api pod restarting: "
                + "nothing was inspected; this recipe only proves the loop works."
            #expect(loop.bot.received(path: "/api/analysis").first?.json == .object([
                "uuid": .string(uuid), "actions": .array([.string("record")]), "analysis": .string(analysisText),
            ]))

            let (status, approval) = try await endpoints.post(
                endpoints.api, "/api/actions",
                #"{"uuid":"\#(uuid)","actions":[{"name":"record","data":{"ticket":"OPS-42"}}]}"#)
            #expect(status == 202)
            #expect(approval["state"] == .string("acting"))
            try await endpoints.waitForState(id, "done")

            // The action really ran: one JSON line with the approver's data and the incident.
            let lines = try String(contentsOfFile: loop.recordFile, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 1)
            let record = try JSONValue.parseObject(Data(lines[0].utf8))
            #expect(record["ticket"] == .string("OPS-42"))
            #expect(record["uuid"] == .string(uuid))

            try await waitUntil("the action outcome at the bot") { loop.bot.received(path: "/api/analysis").count == 2 }
            #expect(loop.bot.received(path: "/api/analysis").last?.json == .object([
                "uuid": .string(uuid), "actions": .array([]),
                "analysis": .string("record: Recorded the approval of incident \(uuid) in \(loop.recordFile)."),
            ]))

            let (statusCode, _) = try await endpoints.post(endpoints.api, "/api/status", #"{"uuid":"\#(uuid)"}"#)
            #expect(statusCode == 200)
            try await waitUntil("the job status at the bot") { !loop.bot.received(path: "/api/status").isEmpty }
            let jobs = loop.bot.received(path: "/api/status").first?.json?.arrayValue ?? []
            #expect(jobs.compactMap { $0["status"]?.stringValue } == ["Completed", "Completed"])
            #expect(jobs.compactMap { $0["labels"]?["recipe"]?.stringValue } == ["dummy", "record"])
        }
    }

    @Test func withTheBotAndWebexBothConfiguredEachIncidentGoesToBoth() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let webex = FakeWebex()
        let payload = try Self.fixture("alertmanager-firing.json")
        try await loop.run(registry: Self.demoRegistry(recordFile: loop.recordFile), webex: webex) { endpoints in
            let id = try await endpoints.alert(payload)
            let uuid = id.uuidString.lowercased()
            try await endpoints.waitForState(id, "analysed")
            try await waitUntil("the analysis at the bot and in the Webex room") {
                !loop.bot.received(path: "/api/analysis").isEmpty
                    && webex.messages.contains { $0.roomId == "ROOM-OPS" && $0.markdown?.contains("Dummy analysis of PodCrashLooping") == true }
            }
            let card = try #require(webex.messages.first { $0.roomId == "ROOM-OPS" && $0.parentId == nil })

            let (status, _) = try await endpoints.post(endpoints.api, "/api/actions",
                                                       #"{"uuid":"\#(uuid)","actions":[{"name":"record"}]}"#)
            #expect(status == 202)
            try await endpoints.waitForState(id, "done")
            // The outcome reaches both: the bot's second analysis, and a reply in the incident's Webex thread.
            try await waitUntil("the outcome at the bot and in the incident's thread") {
                loop.bot.received(path: "/api/analysis").count == 2
                    && webex.messages.contains { $0.parentId == card.id && $0.markdown?.contains("Outcome") == true }
            }
            let reply = try #require(webex.messages.first { $0.parentId == card.id && $0.markdown?.contains("Outcome") == true })
            #expect(reply.markdown?.contains("Recorded the approval of incident \(uuid)") == true, "\(reply.markdown ?? "")")
        }
    }

    @Test func theRecipesOfAnIncidentRunInParallel() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let slow = ["one", "two", "three"].map { name in
            """
            \(name):
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
              env:
                DUMMY_DELAY_SECONDS: 3
            """
        }.joined(separator: "\n")
        try await loop.run(registry: Self.registry(debugging: slow)) { endpoints in
            let clock = ContinuousClock()
            let start = clock.now
            let id = try await endpoints.alert(#"{"check":"parallel"}"#)
            try await endpoints.waitForState(id, "analysed")
            let elapsed = clock.now - start
            let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
            #expect(runs.count == 3)
            #expect(runs.allSatisfy { $0["state"] == .string("reported") })
            // Every run started before any of them finished: they ran side by side. (From the runs' own
            // timestamps, not durations, so a loaded machine cannot make this fail.)
            let starts = runs.compactMap { $0["startedAt"]?.stringValue.flatMap(RFC3339.parse) }
            let ends = runs.compactMap { $0["finishedAt"]?.stringValue.flatMap(RFC3339.parse) }
            #expect(starts.count == 3 && ends.count == 3)
            #expect(starts.max()! < ends.min()!, "runs did not overlap (alert to analysis: \(elapsed))")
        }
    }

    @Test func fiftyIncidentsAtOnceAllComplete() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registry = Self.registry(debugging: """
            dummy:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
            """)
        try await loop.run(registry: registry) { endpoints in
            let ids = try await withThrowingTaskGroup(of: UUID.self) { group in
                for index in 0..<50 {
                    group.addTask { try await endpoints.alert(#"{"check":"storm","index":\#(index)}"#) }
                }
                return try await group.reduce(into: [UUID]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 50)
            for id in ids {
                try await endpoints.waitForState(id, "analysed", timeout: .seconds(120))
            }
            try await waitUntil("50 analyses at the bot", timeout: .seconds(60)) {
                loop.bot.received(path: "/api/analysis").count == 50
            }
        }
    }

    @Test func aHangingRecipeTimesOutAndACrashingOneReportsItsStderrWhileTheIncidentCompletes() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let hang = try loop.script("hang", "exec sleep 300")
        let crash = try loop.script("crash", "echo 'starting' >&2\necho 'panic: aggregator unreachable' >&2\nexit 4")
        let registry = Self.registry(debugging: """
            dummy:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
            hang:
              enabled: true
              entrypoint: "\(hang)"
              timeout: 3s
            crash:
              enabled: true
              entrypoint: "\(crash)"
            """)
        try await loop.run(registry: registry) { endpoints in
            let id = try await endpoints.alert(#"{"check":"failures"}"#)
            try await endpoints.waitForState(id, "analysed")
            let incident = try await endpoints.incident(id)
            let runs = Dictionary(uniqueKeysWithValues: (incident["runs"]?.arrayValue ?? []).compactMap { run in
                run["recipe"]?.stringValue.map { ($0, run) }
            })
            #expect(runs.mapValues { $0["state"]?.stringValue ?? "" } == ["dummy": "reported", "hang": "timedOut", "crash": "failed"])
            #expect(runs["crash"]?["failureReason"] == .string(
                "exited with status 4 without reporting a result; stderr: starting\npanic: aggregator unreachable"))
            // The crash was reported when it happened, not at the end of the diagnosis (the hang's timeout).
            let crashEnded = try #require(runs["crash"]?["finishedAt"]?.stringValue.flatMap(RFC3339.parse))
            let hangEnded = try #require(runs["hang"]?["finishedAt"]?.stringValue.flatMap(RFC3339.parse))
            #expect(crashEnded < hangEnded)
            let text = incident["analysis"]?["text"]?.stringValue ?? ""
            #expect(text.contains("hang: timed out after 3 s"))
            #expect(text.contains("crash: exited with status 4"))
            #expect(text.hasPrefix("dummy: Dummy analysis"))
        }
    }
}

extension LocalModeEndToEndTests {
    @Test func onlyTheRecipesWhoseMatchFitsTheAlertRun() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let registry = Self.registry(debugging: """
            pods:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
              match: 'alertname="PodCrashLooping", namespace="shop"'
            http:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
              match:
                - alertname=~"HTTP.*"
            """)
        let payload = try Self.fixture("alertmanager-firing.json")
        try await loop.run(registry: registry) { endpoints in
            let id = try await endpoints.alert(payload)
            try await endpoints.waitForState(id, "analysed")
            let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
            #expect(runs.map { $0["recipe"] } == [.string("pods")])

            // No recipe fits a generic payload here: the incident closes as failed and says why.
            let generic = try await endpoints.alert(#"{"check":"disk"}"#)
            try await endpoints.waitForState(generic, "failed")
            #expect(try await endpoints.incident(generic)["closedReason"]
                == .string("no enabled debugging recipe matches the alert"))
        }
    }
}
