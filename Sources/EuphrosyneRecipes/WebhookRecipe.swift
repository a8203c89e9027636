import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `webhook` (action): POSTs a JSON summary of the incident to a URL. See `WebhookRecipe`.
    @Sendable public static func webhook(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await WebhookRecipe().run(context)
    }
}

/// The `webhook` action: one JSON POST describing the incident, for a chat channel, a paging system or a script.
///
/// Settings (environment): `WEBHOOK_URL`; `WEBHOOK_BEARER_TOKEN` (sent as `Authorization: Bearer …`, optional);
/// `WEBHOOK_ALLOW_URL_FROM_DATA=1` lets the approval data's `url` choose the target instead (off by default: an
/// approver should not decide where incident data goes).
///
/// The body (keys sorted): `uuid`, `summary` (the alert's one-line summary), `status`, `alertname`, `source`,
/// `labels` and `annotations` (the common ones, or the only alert's), `alerts` (each alert's status, labels,
/// annotations, `startsAt`, `fingerprint`, `generatorURL`), `externalURL`, `data` (the approval data), `analysis`
/// when the incident has one, and `payload` (the JSON as received) for an alert that is neither from Alertmanager
/// nor from Grafana.
///
/// One attempt: any `2xx` is success; anything else fails the run with the status and the first 500 characters of
/// the answer. Messages name the target by its origin (`scheme://host:port`) only, since webhook URLs often carry
/// a secret in their path. Redirects are followed the way AsyncHTTPClient does (the bearer token is dropped on a
/// redirect to another origin).
public struct WebhookRecipe: Sendable {
    /// The client to use; nil (the default) runs each call of `run` with a client of its own (see
    /// `OutboundHTTP.withClient`).
    public var httpClient: HTTPClient?
    public var requestTimeout: Duration

    public init(httpClient: HTTPClient? = nil, requestTimeout: Duration = .seconds(15)) {
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
    }

    public func run(_ context: RecipeContext) async throws -> RecipeOutcome {
        let environment = context.environment
        let fromData = (context.input.string("url")?.trimmingCharacters(in: .whitespacesAndNewlines))
            .flatMap { $0.isEmpty ? nil : $0 }
        let allowFromData = OutboundHTTP.flag(environment.value("WEBHOOK_ALLOW_URL_FROM_DATA"))
        let url: String
        let source: String
        var notes: [String] = []
        if let fromData, allowFromData {
            url = fromData
            source = "the approval data's \"url\""
        } else if let configured = environment.value("WEBHOOK_URL")?.trimmingCharacters(in: .whitespaces) {
            url = configured
            source = "WEBHOOK_URL"
            if fromData != nil {
                notes.append("The approval data's \"url\" was ignored: WEBHOOK_ALLOW_URL_FROM_DATA is not set.")
            }
        } else {
            throw RecipeError.failed(fromData == nil
                ? "WEBHOOK_URL is not set: the webhook recipe has nowhere to post"
                : "WEBHOOK_URL is not set, and the approval data's \"url\" is not used unless "
                    + "WEBHOOK_ALLOW_URL_FROM_DATA=1")
        }
        guard let origin = OutboundHTTP.origin(url) else {
            throw RecipeError.failed("the webhook URL from \(source) is not an http(s) URL")
        }
        let token = environment.value("WEBHOOK_BEARER_TOKEN")

        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "euphrosyne-recipes/webhook")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: OutboundHTTP.encode(Self.body(context))))

        let code: Int
        let answer: Data
        do {
            let timeout = OutboundHTTP.timeAmount(requestTimeout)
            let request = request
            let exchange = { @Sendable (client: HTTPClient) async throws -> (Int, Data) in
                let response = try await client.execute(request, timeout: timeout)
                return (Int(response.status.code), Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
            }
            if let httpClient {
                (code, answer) = try await exchange(httpClient)
            } else {
                (code, answer) = try await OutboundHTTP.withClient(exchange)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw RecipeError.failed(OutboundHTTP.redacting(token, in: "the webhook at \(origin) is unreachable: \(error)"))
        }
        guard (200..<300).contains(code) else {
            let excerpt = OutboundHTTP.bodyExcerpt(answer)
            throw RecipeError.failed(OutboundHTTP.redacting(token, in:
                "the webhook at \(origin) answered \(code)" + (excerpt.isEmpty ? "" : ": \(excerpt)")))
        }
        return RecipeOutcome(
            status: .successful,
            analysis: (["Posted incident \(context.input.incident) to the webhook at \(origin) (\(code))."] + notes)
                .joined(separator: " "),
            json: String(decoding: OutboundHTTP.encode(.object(["status": .integer(Int64(code))])), as: UTF8.self)
        )
    }

    /// The JSON posted: see the type's documentation.
    static func body(_ context: RecipeContext) -> JSONValue {
        let alert = context.input.alert
        func strings(_ map: [String: String]) -> JSONValue { .object(map.mapValues(JSONValue.string)) }
        let onlyAlert = alert.alerts.count == 1 ? alert.alerts.first : nil
        let labels = alert.commonLabels.isEmpty ? (onlyAlert?.labels ?? [:]) : alert.commonLabels
        let annotations = alert.commonAnnotations.isEmpty ? (onlyAlert?.annotations ?? [:]) : alert.commonAnnotations
        let alerts: [JSONValue] = alert.alerts.map { item in
            let status: JSONValue = item.status.map { JSONValue.string($0.rawValue) } ?? .null
            var entry: [String: JSONValue] = [
                "status": status, "labels": strings(item.labels), "annotations": strings(item.annotations),
            ]
            entry["startsAt"] = item.startsAt.map { JSONValue.string(RFC3339.format($0)) }
            entry["fingerprint"] = item.fingerprint.map(JSONValue.string)
            entry["generatorURL"] = item.generatorURL.map(JSONValue.string)
            return .object(entry)
        }
        let status: JSONValue = alert.aggregateStatus.map { JSONValue.string($0.rawValue) } ?? .null
        let data = context.input.approverData
        var object: [String: JSONValue] = [
            "uuid": .string(context.input.incident),
            "summary": .string(alert.summary),
            "status": status,
            "source": .string(alert.source.rawValue),
            "labels": strings(labels),
            "annotations": strings(annotations),
            "alerts": .array(alerts),
            "data": .object(data),
        ]
        object["alertname"] = alert.alertName.map(JSONValue.string)
        object["externalURL"] = alert.externalURL.map(JSONValue.string)
        if let analysis = context.input.string("analysis"), !analysis.isEmpty { object["analysis"] = .string(analysis) }
        if alert.source == .generic { object["payload"] = .object(alert.raw) }
        return .object(object)
    }
}
