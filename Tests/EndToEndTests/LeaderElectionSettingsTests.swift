import EuphrosyneApp
import EuphrosyneCluster
import Foundation
import Testing

/// `serve`'s leader election settings: off by default, on in cluster mode with controller-runtime's timing, and a
/// clear refusal for what cannot elect safely.
@Suite struct LeaderElectionSettingsTests {
    /// A kubeconfig (for a server nobody calls: settings only read it) and Redis: what cluster mode needs.
    static func clusterEnvironment(_ directory: URL, _ extra: [String: String] = [:]) throws -> [String: String] {
        let path = directory.appendingPathComponent("kubeconfig").path
        try Data("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: u, user: {token: "t"}}]
            contexts: [{name: x, context: {cluster: c, user: u, namespace: alerts}}]
            current-context: x
            """.utf8).write(to: URL(fileURLWithPath: path))
        return ["KUBECONFIG": path, "REDIS_ADDRESS": "127.0.0.1:6379"].merging(extra) { $1 }
    }

    static func settings(_ options: ServeOptions, _ environment: [String: String]) throws -> ServeSettings {
        try ServeSettings(options: options, environment: environment)
    }

    static func settings(_ environment: [String: String]) throws -> ServeSettings {
        try settings(ServeOptions(), environment)
    }

    @Test func offByDefaultAndOnWithTheDefaultTiming() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("le-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.settings(Self.clusterEnvironment(directory)).leaderElection == nil)

        let on = try Self.settings(Self.clusterEnvironment(directory, ["LEADER_ELECTION": "1", "POD_NAME": "euphrosyne-7d9f-x2"]))
        let election = try #require(on.leaderElection)
        #expect(election.leaseDuration == .seconds(15) && election.renewDeadline == .seconds(10)
            && election.retryPeriod == .seconds(2))
        #expect(on.leaderElectionLease == "euphrosyne-leader")
        // client-go's convention: the pod's name and a random part, so a pod restarted under its name is new.
        #expect(election.identity.hasPrefix("euphrosyne-7d9f-x2_") && election.identity.count == "euphrosyne-7d9f-x2_".count + 8)
        let again = try Self.settings(Self.clusterEnvironment(directory, ["LEADER_ELECTION": "1", "POD_NAME": "euphrosyne-7d9f-x2"]))
        #expect(again.leaderElection?.identity != election.identity)

        var options = ServeOptions()
        options.leaderElection = true
        options.leaderElectionLease = "reconciler-lock"
        options.leaseDuration = 60
        options.renewDeadline = 30
        options.retryPeriod = 5
        let custom = try #require(try Self.settings(options, Self.clusterEnvironment(directory)).leaderElection)
        #expect(custom.leaseDuration == .seconds(60) && custom.renewDeadline == .seconds(30) && custom.retryPeriod == .seconds(5))
    }

    @Test func whatCannotElectSafelyIsRefusedWithAReason() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("le-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func refusal(_ extra: [String: String], local: Bool = false) throws -> String {
            var options = ServeOptions()
            if local {
                options.local = true
                options.recipes = "/dev/null"
            }
            do {
                _ = try Self.settings(options, local ? extra : Self.clusterEnvironment(directory, extra))
                return "accepted"
            } catch let error as SettingsError {
                return error.message
            }
        }
        #expect(try refusal(["LEADER_ELECTION": "1"], local: true).contains("needs cluster mode"))
        #expect(try refusal(["LEADER_ELECTION": "1", "RENEW_DEADLINE": "15"])
            .contains("the lease duration (15.0 seconds) must be longer than the renew deadline (15.0 seconds)"))
        #expect(try refusal(["LEADER_ELECTION": "1", "RETRY_PERIOD": "9"])
            .contains("must be longer than 1.2 × the retry period"))
        #expect(try refusal(["LEADER_ELECTION": "1", "LEASE_DURATION": "0"]).contains("LEASE_DURATION must be between 1 and 3600"))
        #expect(try refusal(["LEADER_ELECTION": "1", "LEADER_ELECTION_LEASE": "Leader_Lock"])
            .contains(#"LEADER_ELECTION_LEASE must be a Lease name (a DNS-1123 subdomain), not "Leader_Lock""#))
    }
}
