import EuphrosyneEngine
import HummingbirdCore

/// Caps the connections one listener holds at once (`--max-connections`): at the cap the server stops accepting,
/// and new connections wait in the kernel's accept backlog until one closes (the read timeout sees to it that
/// slow or idle clients do close). Reports `euphrosyne_http_connections{listener}` and counts each time the cap
/// held up accepting in `euphrosyne_http_refused_total{listener, reason="connection_limit"}`.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    let listener: String
    let metrics: ReconcilerMetrics
    private var open = 0

    init(maximum: Int, listener: String, metrics: ReconcilerMetrics) {
        self.maximum = maximum
        self.listener = listener
        self.metrics = metrics
    }

    mutating func connectionOpened() {
        open += 1
        metrics.gauge("euphrosyne_http_connections", Double(open), [("listener", listener)])
    }

    mutating func connectionClosed() {
        open -= 1
        metrics.gauge("euphrosyne_http_connections", Double(open), [("listener", listener)])
    }

    func isAcceptingNewConnections() -> Bool {
        guard open < maximum else {
            metrics.increment("euphrosyne_http_refused_total", [("listener", listener), ("reason", "connection_limit")])
            return false
        }
        return true
    }
}
