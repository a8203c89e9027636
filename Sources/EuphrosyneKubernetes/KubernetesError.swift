import Foundation

/// Why a Kubernetes request failed: the API's own `Status` (with its `reason`), or no usable answer at all.
public struct KubernetesError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server answered with a non-2xx status and (usually) a `Status` body.
        case api(status: Int)
        /// No answer: connection refused, TLS failure, timeout.
        case transport
        /// An answer that is not what the API promises.
        case unexpectedResponse
        /// Credentials could not be loaded (the token file is missing…).
        case credentials
    }

    public var kind: Kind
    /// The decoded `Status` of an API error.
    public var apiStatus: APIStatus?
    public var message: String

    public init(_ kind: Kind, apiStatus: APIStatus? = nil, message: String) {
        self.kind = kind
        self.apiStatus = apiStatus
        self.message = message
    }

    /// The HTTP status of an API error.
    public var statusCode: Int? {
        if case .api(let status) = kind { return status }
        return nil
    }

    /// The machine-readable `reason` of an API error (`NotFound`, `AlreadyExists`, `Forbidden`, `Expired`…).
    public var reason: String? { apiStatus?.reason }

    public var isNotFound: Bool { statusCode == 404 }
    public var isAlreadyExists: Bool { statusCode == 409 && reason == "AlreadyExists" }
    /// A watch or list `resourceVersion` too old (410 `Gone`/`Expired`): list again.
    public var isGone: Bool { statusCode == 410 || reason == "Expired" || reason == "Gone" }

    /// Worth trying again: the server was overloaded or failed, or did not answer.
    public var isRetryable: Bool {
        switch kind {
        case .transport: return true
        case .api(let status): return status == 429 || status >= 500
        case .unexpectedResponse, .credentials: return false
        }
    }

    public var description: String {
        switch kind {
        case .api(let status):
            return "Kubernetes API answered \(status)" + (reason.map { " \($0)" } ?? "") + ": \(message)"
        case .transport: return "Kubernetes API unreachable: \(message)"
        case .unexpectedResponse: return "unexpected answer from the Kubernetes API: \(message)"
        case .credentials: return "Kubernetes credentials: \(message)"
        }
    }
}
