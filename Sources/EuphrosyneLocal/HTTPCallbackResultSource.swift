import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Synchronization

/// Results posted by recipes to the reconciler's own webhook listener, at a URL that carries the incident's
/// secret, so nothing that merely reaches the port can inject results.
///
/// The base URL may be set after construction, once the listener knows its port (it may be bound to port 0).
public final class HTTPCallbackResultSource: ResultSource {
    /// The name of the variable that carries the callback URL to the recipe.
    public static let urlVariable = "EUPHROSYNE_RESULT_URL"

    private let base: Mutex<String>

    /// `baseURL` is the webhook listener as recipes reach it, e.g. `http://127.0.0.1:8080`.
    public init(baseURL: String) {
        base = Mutex(Self.normalized(baseURL))
    }

    public var baseURL: String { base.withLock { $0 } }

    public func setBaseURL(_ url: String) {
        base.withLock { $0 = Self.normalized(url) }
    }

    public func recipeEnvironment(incident: UUID, secret: String) -> [String: String] {
        [Self.urlVariable: "\(baseURL)/results/\(incident.uuidString.lowercased())/\(secret)"]
    }

    public nonisolated(nonsending) func watch(incident: UUID) async {}
    public nonisolated(nonsending) func unwatch(incident: UUID) async {}

    private static func normalized(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}
