import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore

/// The few calls of the Prometheus HTTP API `prometheus-query` makes (`GET /api/v1/query_range`, `GET
/// /api/v1/alerts`), with the optional bearer token or basic auth, and the parsing of their standard answers.
struct PrometheusAPI: Sendable {
    /// Why a call gave no data.
    enum Failure: Error, Hashable, CustomStringConvertible {
        /// Nothing answered (refused, timed out, DNS…): no other call will do better.
        case unreachable(url: String, reason: String)
        /// Prometheus (or a proxy in front of it) answered with an error: `status:error`, a 4xx/5xx, or a body
        /// that is not the API's JSON.
        case answered(status: UInt, errorType: String?, error: String)

        var description: String {
            switch self {
            case .unreachable(let url, let reason):
                return "cannot reach Prometheus at \(url): \(reason)"
            case .answered(let status, let errorType, let error):
                let kind = errorType.map { ", \($0)" } ?? ""
                return "Prometheus answered \(status)\(kind): \(error)"
            }
        }
    }

    /// An alert of `GET /api/v1/alerts`.
    struct ActiveAlert: Sendable, Hashable {
        var labels: [String: String]
        var annotations: [String: String]
        var state: String
        var activeAt: Date?
    }

    /// The base URL, without a trailing slash (`http://prometheus:9090`, or with a path prefix).
    var baseURL: String
    /// The `Authorization` header value, if any.
    var authorization: String?
    var client: HTTPClient
    var timeout: TimeAmount = .seconds(30)
    /// The largest answer read (a range query over many series can be large).
    var maxBodyBytes = 32 << 20

    /// `GET /api/v1/query_range` over `window`: the series of the matrix.
    func queryRange(_ expression: String, window: PrometheusQueryParts.Window) async throws(Failure)
        -> (series: [PrometheusQueryParts.Series], warnings: [String])
    {
        let data = try await get("/api/v1/query_range", parameters: [
            ("query", expression),
            ("start", Self.unixTime(window.start)),
            ("end", Self.unixTime(window.end)),
            ("step", "\(window.step)"),
        ])
        return (try Self.series(of: data.data), data.warnings)
    }

    /// `GET /api/v1/alerts`: the alerts of the rules this Prometheus evaluates, pending and firing.
    func alerts() async throws(Failure) -> [ActiveAlert] {
        let data = try await get("/api/v1/alerts", parameters: [])
        guard let alerts = data.data["alerts"]?.arrayValue else {
            throw .answered(status: 200, errorType: nil, error: "the answer has no data.alerts array")
        }
        return alerts.compactMap { value in
            guard let object = value.objectValue else { return nil }
            return ActiveAlert(
                labels: Self.stringMap(object["labels"]), annotations: Self.stringMap(object["annotations"]),
                state: object["state"]?.stringValue ?? "",
                activeAt: object["activeAt"]?.stringValue.flatMap(RFC3339.parse)
            )
        }
    }

    private func get(_ path: String, parameters: [(String, String)]) async throws(Failure)
        -> (data: [String: JSONValue], warnings: [String])
    {
        var url = baseURL + path
        if !parameters.isEmpty {
            url += "?" + parameters.map {
                PrometheusQueryParts.percentEncoded($0.0) + "=" + PrometheusQueryParts.percentEncoded($0.1)
            }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            body = try await response.body.collect(upTo: maxBodyBytes)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw .answered(status: 200, errorType: nil, error: "the answer is larger than \(maxBodyBytes >> 20) MB")
        } catch {
            throw .unreachable(url: baseURL, reason: describe(error))
        }
        return try Self.parseAnswer(status: status, body: Data(body.readableBytesView))
    }

    /// The `data` object (and `warnings`) of a `{"status":"success","data":…}` answer; `Failure.answered` for
    /// `{"status":"error","errorType":…,"error":…}` (quoting `error`), for any other status, and for a body that is
    /// not the API's JSON (quoting its start).
    static func parseAnswer(status: UInt, body: Data) throws(Failure) -> (data: [String: JSONValue], warnings: [String]) {
        let object = try? JSONValue.parseObject(body)
        if let object, let state = object["status"]?.stringValue {
            if state == "error" {
                throw .answered(
                    status: status, errorType: object["errorType"]?.stringValue,
                    error: object["error"]?.stringValue ?? "no error message"
                )
            }
            if state == "success", (200..<300).contains(status), let data = object["data"]?.objectValue {
                let warnings = object["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return (data, warnings)
            }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
            .split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        if (200..<300).contains(status) {
            throw .answered(status: status, errorType: nil, error: "not a Prometheus API answer: \(text)")
        }
        throw .answered(status: status, errorType: nil, error: text.isEmpty ? "(empty body)" : text)
    }

    /// The series of a query answer's `data`: a `matrix` (range queries), or a `vector`, `scalar` or `string`
    /// (instant queries) as series of one sample.
    static func series(of data: [String: JSONValue]) throws(Failure) -> [PrometheusQueryParts.Series] {
        func sample(_ value: JSONValue?) -> PrometheusQueryParts.Sample? {
            guard let pair = value?.arrayValue, pair.count == 2, let time = pair[0].doubleValue,
                  let text = pair[1].stringValue, let number = Double(text)
            else { return nil }
            return PrometheusQueryParts.Sample(time: time, value: number)
        }
        let type = data["resultType"]?.stringValue ?? ""
        switch type {
        case "matrix", "vector":
            guard let result = data["result"]?.arrayValue else {
                throw .answered(status: 200, errorType: nil, error: "the \(type) answer has no result array")
            }
            return result.compactMap { element in
                guard let object = element.objectValue else { return nil }
                let samples: [PrometheusQueryParts.Sample] = type == "matrix"
                    ? (object["values"]?.arrayValue ?? []).compactMap(sample)
                    : [sample(object["value"])].compactMap { $0 }
                return PrometheusQueryParts.Series(labels: stringMap(object["metric"]), samples: samples)
            }
        case "scalar", "string":
            return [sample(data["result"])].compactMap { $0 }.map { .init(labels: [:], samples: [$0]) }
        default:
            throw .answered(status: 200, errorType: nil, error: "unknown resultType \"\(type)\"")
        }
    }

    private static func stringMap(_ value: JSONValue?) -> [String: String] {
        (value?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    /// Seconds since the epoch, as the API takes them.
    static func unixTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        return seconds == seconds.rounded() ? String(Int64(seconds)) : String(format: "%.3f", seconds)
    }

    /// The part of a transport error a person needs ("connection refused"), not the whole error value.
    func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.localizedCaseInsensitiveContains("connection refused") {
            return "connection refused (nothing listens there)"
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "connecting timed out"
            case .deadlineExceeded, .readTimeout: return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
            default: break
            }
        }
        return text
    }
}

extension PrometheusAPI {
    /// The header for `PROMETHEUS_BEARER_TOKEN`, else `PROMETHEUS_USER` + `PROMETHEUS_PASSWORD` (basic auth).
    static func authorization(bearerToken: String?, user: String?, password: String?) -> String? {
        if let bearerToken { return "Bearer \(bearerToken)" }
        if let user {
            return "Basic " + Data("\(user):\(password ?? "")".utf8).base64EncodedString()
        }
        return nil
    }
}
