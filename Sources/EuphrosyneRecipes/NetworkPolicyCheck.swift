import EuphrosyneKubernetes
import Foundation

/// Whether NetworkPolicies let traffic reach a pod on a port, decided as PROTOCOLS §10.3 describes the API's
/// semantics (what a conforming network plugin enforces): a pod is isolated for ingress once any policy selecting
/// it lists `Ingress`; then some rule of those policies must match both the source and the port. Pure.
struct NetworkPolicyCheck: Sendable {
    /// Who sends the traffic, when the alert says (labels `source_namespace` and `source_pod`, or the pod read).
    struct Source: Sendable, Hashable {
        var namespace: String
        var labels: [String: String]
        var ip: String?
        var description: String
    }

    struct Verdict: Sendable, Hashable {
        /// The policies that isolate the pod for ingress (none: everything may reach it).
        var isolatingPolicies: [String]
        /// Whether the port is open: to `source` when given, else to at least some source.
        var allowed: Bool
        /// The rules that open the port, in words (`from pods app=gateway in namespaces …`), when isolated.
        var openingRules: [String]
    }

    let policies: [NetworkPolicy]
    /// Labels of the namespaces policies may select by (`kubernetes.io/metadata.name` is always assumed).
    let namespaceLabels: [String: [String: String]]

    func ingress(to pod: Pod, port: Int, protocol: String, from source: Source?) -> Verdict {
        let namespace = pod.metadata.namespace ?? ""
        let labels = pod.metadata.labels ?? [:]
        let selecting = policies.filter { policy in
            policy.metadata.namespace == namespace && policy.types.contains("Ingress")
                && (policy.spec?.podSelector ?? LabelSelector()).matches(labels)
        }
        guard !selecting.isEmpty else { return Verdict(isolatingPolicies: [], allowed: true, openingRules: []) }
        var opening: [String] = []
        var allowed = false
        for policy in selecting {
            for rule in policy.spec?.ingress ?? [] where portMatches(rule.ports, port: port, protocol: `protocol`, pod: pod) {
                let peers = rule.from ?? []
                if let source {
                    if peers.isEmpty || peers.contains(where: { matches($0, source: source, policyNamespace: namespace) }) {
                        allowed = true
                        opening.append("\(policy.metadata.name ?? "?"): " + Self.describe(peers))
                    }
                } else {
                    allowed = true
                    opening.append("\(policy.metadata.name ?? "?"): " + Self.describe(peers))
                }
            }
        }
        return Verdict(isolatingPolicies: selecting.compactMap(\.metadata.name).sorted(), allowed: allowed, openingRules: opening)
    }

    /// Whether the source pod may send to `destination` (its egress side), or nil when no policy isolates it.
    func egress(from source: Source, sourcePod: Pod, to destination: Pod, port: Int, protocol: String) -> (isolatingPolicies: [String], allowed: Bool) {
        let selecting = policies.filter { policy in
            policy.metadata.namespace == source.namespace && policy.types.contains("Egress")
                && (policy.spec?.podSelector ?? LabelSelector()).matches(source.labels)
        }
        guard !selecting.isEmpty else { return ([], true) }
        let target = Source(namespace: destination.metadata.namespace ?? "", labels: destination.metadata.labels ?? [:],
                            ip: destination.status?.podIP, description: "")
        let allowed = selecting.contains { policy in
            (policy.spec?.egress ?? []).contains { rule in
                portMatches(rule.ports, port: port, protocol: `protocol`, pod: destination)
                    && ((rule.to ?? []).isEmpty || (rule.to ?? []).contains { matches($0, source: target, policyNamespace: source.namespace) })
            }
        }
        return (selecting.compactMap(\.metadata.name).sorted(), allowed)
    }

    func portMatches(_ ports: [NetworkPolicy.Port]?, port: Int, protocol: String, pod: Pod) -> Bool {
        guard let ports, !ports.isEmpty else { return true }
        return ports.contains { rule in
            guard (rule.protocol ?? "TCP") == `protocol` else { return false }
            switch rule.port {
            case nil: return true
            case .int(let number)?: return rule.endPort.map { (number...$0).contains(port) } ?? (number == port)
            case .string(let name)?:
                return (pod.spec?.containers ?? []).flatMap { $0.ports ?? [] }.contains {
                    $0.name == name && $0.containerPort == port && ($0.protocol ?? "TCP") == `protocol`
                }
            }
        }
    }

    func matches(_ peer: NetworkPolicy.Peer, source: Source, policyNamespace: String) -> Bool {
        if let block = peer.ipBlock {
            guard let ip = source.ip else { return false }
            return Self.contains(block.cidr, ip) && !(block.except ?? []).contains { Self.contains($0, ip) }
        }
        var labels = namespaceLabels[source.namespace] ?? [:]
        labels["kubernetes.io/metadata.name"] = source.namespace
        switch (peer.podSelector, peer.namespaceSelector) {
        case (let pods?, let namespaces?): return namespaces.matches(labels) && pods.matches(source.labels)
        case (nil, let namespaces?): return namespaces.matches(labels)
        case (let pods?, nil): return source.namespace == policyNamespace && pods.matches(source.labels)
        case (nil, nil): return false
        }
    }

    /// `from anywhere`, `from pods app=gateway in namespaces kubernetes.io/metadata.name=ingress, 10.0.0.0/8`.
    static func describe(_ peers: [NetworkPolicy.Peer]) -> String {
        guard !peers.isEmpty else { return "from anywhere" }
        return "from " + peers.map { peer -> String in
            if let block = peer.ipBlock { return block.cidr + ((block.except ?? []).isEmpty ? "" : " except " + (block.except ?? []).joined(separator: ", ")) }
            let pods = peer.podSelector.map { "pods " + (Self.selectorText($0)) }
            let namespaces = peer.namespaceSelector.map { "namespaces " + Self.selectorText($0) }
            switch (pods, namespaces) {
            case (let pods?, let namespaces?): return "\(pods) in \(namespaces)"
            case (let pods?, nil): return "\(pods) in its own namespace"
            case (nil, let namespaces?): return "all pods in \(namespaces)"
            case (nil, nil): return "nothing"
            }
        }.joined(separator: ", ")
    }

    static func selectorText(_ selector: LabelSelector) -> String {
        selector.queryString ?? "(any)"
    }

    /// Whether an IPv4 `cidr` holds `ip` (IPv6 and malformed input: false).
    static func contains(_ cidr: String, _ ip: String) -> Bool {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits),
              let network = ipv4(String(parts[0])), let address = ipv4(ip) else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - UInt32(bits))
        return network & mask == address & mask
    }

    static func ipv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4, text.split(separator: ".", omittingEmptySubsequences: false).count == 4 else { return nil }
        return octets.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
