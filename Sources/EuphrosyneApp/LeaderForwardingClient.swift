import AsyncHTTPClient
import EuphrosyneCluster
import EuphrosyneServer
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The leader's addresses in the Lease, and the HTTP side of `LeaderForwarding`: how a replica standing by reaches
/// the leader's listeners (cluster mode with `--leader-election` and `POD_IP`).
enum LeaderForwardingClient {
    /// The Lease annotations where the leader publishes its listeners.
    static let webhookURLKey = "euphrosyne.io/webhook-url"
    static let apiURLKey = "euphrosyne.io/api-url"

    /// Answers larger than this from the leader are cut (its own answers are far smaller).
    static let responseLimit = 16 << 20

    /// `http://host:port`, with an IPv6 address in brackets.
    static func url(host: String, port: Int) -> String {
        host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }

    static func forwarding(elector: LeaderElector<ContinuousClock>, httpClient: HTTPClient) -> LeaderForwarding {
        LeaderForwarding(identity: elector.identity, leader: {
            if elector.isLeading { return .this }
            guard let annotations = elector.leaderAnnotations, let webhook = annotations[webhookURLKey],
                  let api = annotations[apiURLKey]
            else { return .unknown }
            return .elsewhere(webhook: webhook, api: api)
        }, send: { request in
            try await send(request, with: httpClient)
        }, relay: { request, write in
            try await relay(request, write: write, with: httpClient)
        })
    }

    /// How long a relayed stream may last; the dashboard's script opens a new one when it ends.
    static let relayLimit = Duration.seconds(12 * 3_600)

    /// Streams the leader's answer to `request` into `write`, piece by piece, until it ends; a refusal ends it at once.
    static func relay(_ request: LeaderForwarding.ForwardedRequest, write: @Sendable (ByteBuffer) async throws -> Void,
                      with client: HTTPClient) async throws {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers { outgoing.headers.add(name: field.name.rawName, value: field.value) }
        let response = try await client.execute(outgoing, timeout: .seconds(relayLimit.components.seconds))
        guard response.status == .ok else {
            _ = try? await response.body.collect(upTo: responseLimit)
            return
        }
        for try await piece in response.body { try await write(piece) }
    }

    static func send(_ request: LeaderForwarding.ForwardedRequest, with client: HTTPClient) async throws
        -> LeaderForwarding.ForwardedResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers { outgoing.headers.add(name: field.name.rawName, value: field.value) }
        outgoing.body = .bytes(request.body)
        let response = try await client.execute(outgoing, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: responseLimit)
        var headers = HTTPFields()
        for header in response.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        return LeaderForwarding.ForwardedResponse(status: HTTPResponse.Status(code: Int(response.status.code)),
                                                  headers: headers, body: body)
    }
}
