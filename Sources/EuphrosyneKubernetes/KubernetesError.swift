import Foundation

/// The one error type of EuphrosyneKubernetes: every `throws(KubernetesError)` of the client, the watch and the
/// informer throws this. Callers branch on ``code`` (compare with `==` against the static members) and, for API
/// errors, on ``statusCode`` and ``reason``; ``message`` is detail for people; ``underlying`` is the transport's
/// own error where there is one. The same shape as `RedisError`.
public struct KubernetesError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so that adding a code never breaks a caller's
    /// exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case api, transport, unexpectedResponse, credentials
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server answered with a non-2xx status (``KubernetesError/statusCode``) and usually a `Status` body.
        public static let api = Code(.api)
        /// No answer: connection refused, TLS failure, timeout.
        public static let transport = Code(.transport)
        /// An answer that is not what the API promises.
        public static let unexpectedResponse = Code(.unexpectedResponse)
        /// Credentials could not be loaded (the token file is missing…).
        public static let credentials = Code(.credentials)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The HTTP status of an API error.
    public var statusCode: Int?
    /// The decoded `Status` of an API error.
    public var apiStatus: APIStatus?
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// An error the API server answered with `status`.
    public static func api(status: Int, apiStatus: APIStatus? = nil, message: String) -> KubernetesError {
        var error = KubernetesError(.api, message: message)
        error.statusCode = status
        error.apiStatus = apiStatus
        return error
    }

    /// The machine-readable `reason` of an API error (`NotFound`, `AlreadyExists`, `Forbidden`, `Expired`…).
    public var reason: String? { apiStatus?.reason }

    public var isNotFound: Bool { statusCode == 404 }
    public var isAlreadyExists: Bool { statusCode == 409 && reason == "AlreadyExists" }
    /// An update whose `resourceVersion` is no longer the stored one (409 `Conflict`): someone else wrote first.
    public var isConflict: Bool { statusCode == 409 && reason == "Conflict" }
    /// A watch or list `resourceVersion` too old (410 `Gone`/`Expired`): list again.
    public var isGone: Bool { statusCode == 410 || reason == "Expired" || reason == "Gone" }

    /// An eviction refused because it would break a PodDisruptionBudget (429 with a `DisruptionBudget` cause):
    /// the cause's message, which names the budget (`The disruption budget web-pdb needs 2 healthy pods and has 2
    /// currently`). Not load shedding: only the budget changing (a pod becoming ready elsewhere) lets it through.
    public var disruptionBudget: String? {
        guard statusCode == 429 else { return nil }
        return apiStatus?.details?.causes?.first { $0.reason == "DisruptionBudget" }.map { $0.message ?? "" }
    }

    /// Worth trying again at once: the server was overloaded or failed, or did not answer. A PodDisruptionBudget's
    /// refusal is not: its caller decides how long to keep asking (`drain-node` until its deadline).
    public var isRetryable: Bool {
        if code == .transport { return true }
        guard code == .api, let statusCode else { return false }
        if disruptionBudget != nil { return false }
        return statusCode == 429 || statusCode >= 500
    }

    public var description: String {
        switch code {
        case .api:
            return "Kubernetes API answered \(statusCode ?? 0)" + (reason.map { " \($0)" } ?? "") + ": \(message)"
        case .transport: return "Kubernetes API unreachable: \(message)"
        case .credentials: return "Kubernetes credentials: \(message)"
        default: return "unexpected answer from the Kubernetes API: \(message)"
        }
    }
}
