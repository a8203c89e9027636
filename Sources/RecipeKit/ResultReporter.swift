import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore

/// Delivers a recipe's result to the reconciler.
public protocol ResultReporter: Sendable {
    func report(_ result: RecipeResult) async throws(RecipeError)
}

/// Posts the result to the HTTP callback URL the reconciler put in `EUPHROSYNE_RESULT_URL` (local mode).
///
/// Retries transport errors and 5xx with back-off until `attempts` run out; a 4xx is the reconciler refusing the
/// result (a duplicate, a late result, a wrong URL) and is final.
public struct HTTPCallbackReporter: ResultReporter {
    public var url: String
    public var attempts: Int
    public var httpClient: HTTPClient

    public init(url: String, attempts: Int = 5, httpClient: HTTPClient = .shared) {
        self.url = url
        self.attempts = max(1, attempts)
        self.httpClient = httpClient
    }

    public func report(_ result: RecipeResult) async throws(RecipeError) {
        var lastProblem = ""
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: result.encoded()))
            do {
                let response = try await httpClient.execute(request, timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 64 * 1024)
                let text = String(buffer: body)
                switch response.status.code {
                case 200..<300:
                    return
                case 400..<500:
                    throw RecipeError.reporting("the reconciler refused the result (\(response.status.code)): \(text)")
                default:
                    lastProblem = "the reconciler answered \(response.status.code)"
                }
            } catch let error as RecipeError {
                throw error
            } catch {
                lastProblem = "\(error)"
            }
            if attempt < attempts {
                try? await Task.sleep(for: .milliseconds(200 * (1 << (attempt - 1))))
            }
        }
        throw .reporting("could not report the result after \(attempts) attempts: \(lastProblem)")
    }
}
