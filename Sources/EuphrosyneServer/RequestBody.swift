import EuphrosyneCore
import Foundation
import Hummingbird
import NIOCore

/// Reading request bodies with the limits and error messages every endpoint shares.
enum RequestBody {
    /// Largest body any endpoint accepts.
    static let limit = 1 << 20

    /// The whole body, or 413 past the limit.
    static func collect(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge
        }
    }

    /// The body as a JSON object, or 400 naming what is wrong (malformed JSON, not an object).
    static func jsonObject(_ request: Request) async throws -> [String: JSONValue] {
        try jsonObject(await collect(request))
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
        try decode(type, from: await collect(request))
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
