import EuphrosyneCore
import Foundation
import Hummingbird
import NIOCore

/// Reading request bodies with the limits and error messages every endpoint shares.
///
/// Every route that takes a body reads it through `collectJSON` (or `jsonObject`/`decode`, which use it): a
/// `Content-Type` that is not JSON is refused with 415 before anything is read, and a body over `limit` with 413.
/// Public for the integrations' `ListenerRoutes` (the Webex callback), which read bodies the same way.
public enum RequestBody {
    /// Largest body any endpoint accepts.
    static let limit = 1 << 20

    /// 415 unless the request's `Content-Type` is JSON: `application/json` or `application/<anything>+json`,
    /// parameters (`; charset=utf-8`) allowed. A request without `Content-Type` is accepted: some senders omit it.
    static func requireJSONContentType(_ request: Request) throws(APIError) {
        guard let value = request.headers[.contentType] else { return }
        guard !isJSONMediaType(value) else { return }
        let shown = value.count > 100 ? String(value.prefix(100)) + "…" : value
        throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                       message: "Content-Type must be application/json, not \"\(shown)\"", field: "Content-Type")
    }

    /// True for `application/json` and `application/*+json` (e.g. `application/merge-patch+json`), in any case,
    /// with or without parameters.
    static func isJSONMediaType(_ value: String) -> Bool {
        // What senders nearly always send, checked without building strings (this runs for every request).
        if value.utf8.elementsEqual("application/json".utf8) || value.utf8.elementsEqual("application/json; charset=utf-8".utf8) {
            return true
        }
        let essence = (value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: .whitespaces).lowercased()
        if essence == "application/json" { return true }
        guard essence.hasPrefix("application/"), essence.hasSuffix("+json") else { return false }
        let subtype = essence.dropFirst("application/".count).dropLast("+json".count)
        return !subtype.isEmpty && !subtype.contains { $0 == "/" || $0 == " " || $0 == "\t" }
    }

    /// A JSON request's whole body: 415 for another content type, 413 past the limit.
    public static func collectJSON(_ request: Request) async throws -> Data {
        try requireJSONContentType(request)
        return try await collect(request)
    }

    /// A form's whole body (`application/x-www-form-urlencoded`, as Slack's interactivity callbacks come): 415 for
    /// another content type (or none), 413 past the limit.
    public static func collectForm(_ request: Request) async throws -> Data {
        let value = request.headers[.contentType] ?? ""
        let essence = (value.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        guard essence == "application/x-www-form-urlencoded" else {
            let shown = value.count > 100 ? String(value.prefix(100)) + "…" : value
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           message: "Content-Type must be application/x-www-form-urlencoded, not \"\(shown)\"",
                           field: "Content-Type")
        }
        return try await collect(request)
    }

    /// The whole body, or 413 past the limit. Private: routes read bodies through `collectJSON` or `collectForm`,
    /// so none skips the content-type check.
    private static func collect(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge
        }
    }

    /// The body as a JSON object, or 400 naming what is wrong (malformed JSON, not an object).
    static func jsonObject(_ request: Request) async throws -> [String: JSONValue] {
        try jsonObject(await collectJSON(request))
    }

    static func jsonObject(_ data: Data) throws(APIError) -> [String: JSONValue] {
        do {
            return try JSONValue.parseObject(data)
        } catch {
            throw APIError.badJSON(error)
        }
    }

    /// Decodes a JSON body into `T`, naming the field at fault on failure.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try decode(type, from: await collectJSON(request))
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
        guard !data.isEmpty else {
            throw APIError(.badRequest, code: "empty_body", message: "the request body is empty; expected a JSON object")
        }
        // Parse first so malformed JSON and a non-object top level get the same clear messages everywhere.
        _ = try jsonObject(data)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw APIError.badJSON(JSONInputError(decoding: error))
        }
    }
}
