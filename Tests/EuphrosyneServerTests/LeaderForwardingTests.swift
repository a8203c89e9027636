import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneServer
import EuphrosyneTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// A replica standing by passes leader-only requests on as they came, and answers them itself only when it cannot.
@Suite struct LeaderForwardingTests {
    /// Records what was forwarded and answers like a leader would, or fails like an unreachable one.
    final class FakeLeader: Sendable {
        let forwarded = Mutex<[LeaderForwarding.ForwardedRequest]>([])
        let reachable: Bool
        init(reachable: Bool) { self.reachable = reachable }

        func forwarding(_ leader: LeaderForwarding.Leader) -> LeaderForwarding {
            LeaderForwarding(identity: "replica-b_0a1b2c3d", leader: { leader }, send: { request in
                self.forwarded.withLock { $0.append(request) }
                guard self.reachable else { throw URLError(.cannotConnectToHost) }
                var headers = HTTPFields()
                headers[.contentType] = "application/json; charset=utf-8"
                headers[HTTPField.Name("X-Answered-By")!] = "leader"
                return .init(status: .accepted, headers: headers, body: ByteBuffer(string: #"{"outcome":"opened"}"#))
            })
        }
    }

    static let elsewhere = LeaderForwarding.Leader.elsewhere(webhook: "http://10.0.0.7:8080", api: "http://10.0.0.7:8081")

    static func webhook(_ forwarding: LeaderForwarding, coordinator: IncidentCoordinator) -> some ApplicationProtocol {
        Application(router: Listeners.webhookRouter(
            coordinator: coordinator, readiness: Readiness(),
            credentials: WebhookCredentials(bearerTokens: ["s3cret"]), forwarding: forwarding))
    }

    @Test func alertsGoToTheLeaderAsTheyCameAndItsAnswerComesBack() async throws {
        let harness = ServerHarness()
        let leader = FakeLeader(reachable: true)
        try await Self.webhook(leader.forwarding(Self.elsewhere), coordinator: harness.coordinator).test(.router) { client in
            var headers = HTTPFields.json
            headers[.authorization] = "Bearer s3cret"
            try await client.execute(uri: "/webhook?x=1", method: .post, headers: headers,
                                     body: ByteBuffer(string: #"{"alerts":[]}"#)) { response in
                #expect(response.status == .accepted)
                #expect(response.headers[HTTPField.Name("X-Answered-By")!] == "leader")
                #expect(String(buffer: response.body) == #"{"outcome":"opened"}"#)
            }
        }
        let sent = try #require(leader.forwarded.withLock { $0.first })
        #expect(sent.url == "http://10.0.0.7:8080/webhook?x=1")
        #expect(sent.method == .post)
        #expect(String(buffer: sent.body) == #"{"alerts":[]}"#)
        // As it came (the leader authenticates), plus who forwarded it.
        #expect(sent.headers[.authorization] == "Bearer s3cret")
        #expect(sent.headers[HTTPField.Name("X-Euphrosyne-Forwarded-By")!] == "replica-b_0a1b2c3d")
        #expect(sent.headers[.contentLength] == nil)
    }

    @Test func anUnreachableLeaderIsA503TheSenderRetries() async throws {
        let harness = ServerHarness()
        let leader = FakeLeader(reachable: false)
        try await Self.webhook(leader.forwarding(Self.elsewhere), coordinator: harness.coordinator).test(.router) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: .json, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.apiError?.code == "not_leader")
                #expect(response.headers[HTTPField.Name("Retry-After")!] == "5")
            }
        }
    }

    @Test func withoutAKnownLeaderOrWhenForwardedAlreadyTheReplicaAnswersItself() async throws {
        let harness = ServerHarness()
        harness.coordinator.standBy()
        let forwardedAlready: HTTPFields = [HTTPField.Name("X-Euphrosyne-Forwarded-By")!: "replica-a_1"]
        for (leader, extra) in [(LeaderForwarding.Leader.unknown, HTTPFields()), (Self.elsewhere, forwardedAlready)] {
            let fake = FakeLeader(reachable: true)
            try await Self.webhook(fake.forwarding(leader), coordinator: harness.coordinator).test(.router) { client in
                var headers = HTTPFields.json
                headers[.authorization] = "Bearer s3cret"
                headers.append(contentsOf: extra)
                try await client.execute(uri: "/webhook", method: .post, headers: headers,
                                         body: ByteBuffer(string: #"{"alerts":[{"labels":{"alertname":"A"}}]}"#)) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.apiError?.code == "not_leader")
                }
            }
            #expect(fake.forwarded.withLock { $0.isEmpty })
        }
    }

    @Test func readsAreAnsweredByAnyReplicaAndAnOversizedBodyIsRefusedBeforeForwarding() async throws {
        let harness = ServerHarness()
        let leader = FakeLeader(reachable: true)
        let api = Application(router: Listeners.apiRouter(coordinator: harness.coordinator, readiness: Readiness(),
                                                          forwarding: leader.forwarding(Self.elsewhere)))
        try await api.test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/status", method: .post, headers: .json,
                                     body: ByteBuffer(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        #expect(leader.forwarded.withLock { $0.isEmpty })
    }
}
