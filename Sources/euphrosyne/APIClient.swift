import AsyncHTTPClient
import Foundation
import NIOCore

/// The small HTTP client the CLI's client commands share: one request, the answer as text, clear errors. Sends
/// `EUPHROSYNE_API_TOKEN` as a bearer token when set.
struct APIClient {
    struct Answer {
        var status: Int
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func send(method: String, url: String, body: Data? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        // From the environment only, so the token never shows in `ps`.
        if let token = ProcessInfo.processInfo.environment["EUPHROSYNE_API_TOKEN"], !token.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let buffer = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), body: Data(buffer.readableBytesView))
        } catch {
            throw Failure(description: "cannot reach \(url): \(error)")
        }
    }

    /// The API's JSON error message, or the raw body.
    static func errorMessage(_ answer: Answer) -> String {
        if let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
           let error = object["error"] as? [String: Any], let message = error["message"] as? String {
            return "\(answer.status): \(message)"
        }
        return "\(answer.status): \(answer.text)"
    }

    static func baseURL(_ flag: String?, variable: String, default fallback: String) -> String {
        let url = flag ?? ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}
