import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
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
        // 200 ms, doubling, without jitter or cap; pauses ride out cancellation, as a recipe reports on its way out.
        let policy = RetryPolicy(maxAttempts: attempts, initialDelay: .milliseconds(200),
                                 maxDelay: .seconds(Int64(Int32.max)), jittered: false)
        try await policy.runThroughCancellation { (_: Int) throws(RecipeError) -> RetryPolicy.Attempt<Void> in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: result.encoded()))
            let response: HTTPClientResponse
            let text: String
            do {
                response = try await httpClient.execute(request, timeout: .seconds(10))
                text = String(buffer: try await response.body.collect(upTo: 64 * 1024))
            } catch {
                return .retry(problem: "\(error)")
            }
            switch response.status.code {
            case 200..<300:
                return .done(())
            case 400..<500:
                throw .reporting("the reconciler refused the result (\(response.status.code)): \(text)")
            default:
                return .retry(problem: "the reconciler answered \(response.status.code)")
            }
        } giveUp: { attempts, problem in
            .reporting("could not report the result after \(attempts) attempts: \(problem)")
        }
    }
}
