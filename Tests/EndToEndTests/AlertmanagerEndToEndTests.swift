import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

/// A JSON integer as an Int; 0 for anything else.
private func number(_ value: JSONValue?) -> Int {
    if case .integer(let number)? = value { return Int(number) }
    return 0
}

/// The alert lifecycle against a real Alertmanager (Debian's `prometheus-alertmanager` 0.25), started per test
/// with short timings and its webhook receiver pointed at our `/webhook`; recipes are real local processes.
@Suite struct AlertmanagerEndToEndTests {
    /// `dummy` reports at once; `probe` (DiskFull alerts only) runs until it is stopped, so that group's incident
    /// stays diagnosing.
    static func registry(probe: String) -> String {
        LocalModeEndToEndTests.registry(debugging: """
            dummy:
              enabled: true
              entrypoint: "euphrosyne-recipes dummy"
            probe:
              enabled: true
              entrypoint: "\(probe)"
              timeout: 600
              match: 'alertname="DiskFull"'
            """)
    }

    @Test func oneIncidentPerGroupThroughRepeatsAndChangesResolvedAndFiredAgain() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let marker = loop.directory.appendingPathComponent("probe-pids").path
        // Records its pid, then sleeps in the foreground of its own process group until it is stopped.
        let probe = try loop.script("probe", "echo $$ >> \(marker)\nexec sleep 600")

        try await loop.run(registry: Self.registry(probe: probe)) { endpoints in
            let alertmanager = try await AlertmanagerProcess.start(
                webhookURL: "http://127.0.0.1:\(endpoints.webhook)/webhook", groupBy: ["alertname"],
                groupWait: "1s", groupInterval: "1s", repeatInterval: "500ms")
            do {
                try await Self.exercise(alertmanager, endpoints, marker: marker)
            } catch {
                Issue.record("Alertmanager's log: \(alertmanager.logTail())")
                await alertmanager.stop()
                throw error
            }
            await alertmanager.stop()
        }
    }

    static func exercise(_ alertmanager: AlertmanagerProcess, _ endpoints: LocalLoop.Endpoints, marker: String) async throws {
        let first = PostableAlert.firing(["alertname": "DiskFull", "instance": "db-1"],
                                         annotations: ["summary": "disk almost full"])
        let second = PostableAlert.firing(["alertname": "DiskFull", "instance": "db-2"])
        let otherGroup = PostableAlert.firing(["alertname": "MemoryHigh", "instance": "db-1"])
        try await alertmanager.postAlerts([first, otherGroup])

        // Alertmanager repeats the group on every group_interval tick here: still one incident.
        let incidents = { @Sendable () async throws -> [[String: JSONValue]] in
            try await endpoints.get(endpoints.api, "/api/incidents?limit=50")["incidents"]?.arrayValue?
                .compactMap(\.objectValue) ?? []
        }
        try await waitUntil("an incident per group") { try await incidents().count == 2 }
        let disk = try #require(try await incidents().first { $0["alert"]?["alertname"] == .string("DiskFull") })
        let id = try #require(disk["uuid"]?.stringValue.flatMap(UUID.init(uuidString:)))
        try await waitUntil("three notifications of the group", timeout: .seconds(20)) {
            number(try await endpoints.incident(id)["notifications"]) >= 3
        }
        #expect(try await incidents().count == 2)
        try await waitUntil("the probe to run") { (try? String(contentsOfFile: marker, encoding: .utf8)) != nil }
        #expect(try await endpoints.incident(id)["state"] == .string("diagnosing"))

        // An alert joins the group: the incident sees both alerts; no new incident, no new runs.
        try await alertmanager.postAlerts([first, second])
        try await waitUntil("the incident to hold both alerts", timeout: .seconds(20)) {
            number(try await endpoints.incident(id)["alert"]?["alertCount"]) == 2
        }
        #expect(try await incidents().count == 2)
        #expect(try await endpoints.incident(id)["runs"]?.arrayValue?.count == 2)

        // Both alerts end: the incident resolves and its still-running probe is stopped.
        try await alertmanager.postAlerts([first.resolved(), second.resolved()])
        try await waitUntil("the incident to resolve", timeout: .seconds(20)) {
            try await endpoints.incident(id)["state"] == .string("resolved")
        }
        let runs = try await endpoints.incident(id)["runs"]?.arrayValue ?? []
        let probeRun = try #require(runs.first { $0["recipe"] == .string("probe") })
        #expect(probeRun["state"] == .string("cancelled"))
        let pidText = try String(contentsOfFile: marker, encoding: .utf8)
        let pid = try #require(Int32(pidText.split(separator: "\n").first ?? ""))
        try await waitUntil("the probe process to be gone") { kill(pid, 0) != 0 }

        // Firing again after resolving opens a new incident.
        try await alertmanager.postAlerts([PostableAlert.firing(["alertname": "DiskFull", "instance": "db-1"])])
        try await waitUntil("a new incident for the group", timeout: .seconds(20)) { try await incidents().count == 3 }
        let newest = try #require(try await incidents().first)
        #expect(newest["alert"]?["alertname"] == .string("DiskFull"))
        #expect(newest["uuid"] != .string(id.uuidString.lowercased()))
        #expect(newest["state"] != .string("resolved"))
    }
}
