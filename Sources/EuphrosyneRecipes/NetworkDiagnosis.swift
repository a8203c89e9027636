import EuphrosyneKubernetes
import Foundation

/// The path of a request to a Service's pods, link by link (PROTOCOLS §10): the selector matches pods, the pods
/// are Ready, the target ports resolve in them, the EndpointSlices list ready addresses, NetworkPolicies let the
/// traffic in, and the name resolves. Pure: `network-diagnostics` reads the API (and DNS) and hands it the values.
struct NetworkDiagnosis: Sendable {
    struct Link: Sendable, Hashable {
        var name: String
        var ok: Bool
        var text: String
    }

    /// What resolving the Service's name gave.
    enum NameLookup: Sendable, Hashable {
        case notChecked(String)
        case resolved(name: String, addresses: [String])
        case failed(name: String, reason: String)
    }

    var service: String
    var links: [Link]

    /// The first link that does not hold: where the request stops.
    var brokenLink: Link? { links.first { !$0.ok } }

    init(service: KubernetesService, pods: [Pod], slices: [EndpointSlice], policies: NetworkPolicyCheck,
         source: NetworkPolicyCheck.Source?, lookup: NameLookup) {
        let namespace = service.metadata.namespace ?? ""
        let name = service.metadata.name ?? "?"
        self.service = "\(namespace)/\(name)"
        var links: [Link] = []

        if service.spec?.type == "ExternalName" {
            self.links = [Link(name: "type", ok: true, text: "it is an ExternalName Service: it only aliases another name, and has no pods or endpoints to check")]
            return
        }

        // 1. The selector.
        let selector = service.spec?.selector ?? [:]
        let selected: [Pod]
        if selector.isEmpty {
            selected = []
            links.append(Link(name: "selector", ok: true, text: "it has no selector, so its endpoints are managed outside the endpoint controller"))
        } else {
            let text = selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            selected = pods.filter { pod in selector.allSatisfy { pod.metadata.labels?[$0.key] == $0.value } && !pod.isTerminal }
            if selected.isEmpty {
                var sentence = "its selector \(text) matches no running pod in \(namespace)"
                let nearMisses = Self.nearMisses(selector, pods)
                if !nearMisses.isEmpty { sentence += "; pods labelled " + nearMisses.joined(separator: ", ") + " exist: were the labels or the selector changed?" }
                links.append(Link(name: "selector", ok: false, text: sentence))
            } else {
                links.append(Link(name: "selector", ok: true, text: "its selector \(text) matches \(selected.count) pod\(selected.count == 1 ? "" : "s")"))
            }
        }

        // 2. Readiness.
        let ready = selected.filter(\.isReady)
        if !selected.isEmpty {
            if ready.isEmpty {
                let why = selected.prefix(5).map { pod in "\(pod.metadata.name ?? "?") (\(PodDiagnosis(pod).problem ?? "not Ready"))" }
                links.append(Link(name: "readiness", ok: false, text: "none of its \(selected.count) pods is Ready: " + why.joined(separator: ", ")))
            } else {
                links.append(Link(name: "readiness", ok: true, text: "\(ready.count) of them \(ready.count == 1 ? "is" : "are") Ready"))
            }
        }

        // 3. Target ports, per pod.
        var targetPorts: [(service: Int, target: Int, protocol: String)] = []
        for port in service.spec?.ports ?? [] {
            let proto = port.protocol ?? "TCP"
            let label = port.name.map { "port \(port.port) (\($0))" } ?? "port \(port.port)"
            switch port.targetPort ?? .int(port.port) {
            case .int(let number):
                targetPorts.append((port.port, number, proto))
            case .string(let portName):
                let resolving = ready.isEmpty ? selected : ready
                let missing = resolving.filter { Self.containerPort(named: portName, in: $0) == nil }
                if let resolved = resolving.lazy.compactMap({ Self.containerPort(named: portName, in: $0) }).first {
                    targetPorts.append((port.port, resolved, proto))
                }
                if !missing.isEmpty {
                    let names = Set(missing.flatMap { ($0.spec?.containers ?? []).flatMap { $0.ports ?? [] }.compactMap(\.name) }).sorted()
                    links.append(Link(name: "ports", ok: false,
                                      text: "\(label) targets the named port \"\(portName)\", which \(DrainPlan.list(missing.compactMap(\.metadata.name))) \(missing.count == 1 ? "does" : "do") not declare (\(names.isEmpty ? "no named ports" : "they name: " + names.joined(separator: ", ")))"))
                }
            }
        }
        if !links.contains(where: { $0.name == "ports" }), !targetPorts.isEmpty, !selected.isEmpty {
            links.append(Link(name: "ports", ok: true, text: "its ports lead to " + targetPorts.map { "\($0.service)→\($0.target)/\($0.protocol)" }.joined(separator: ", ")))
        }

        // 4. EndpointSlices.
        let endpoints = slices.flatMap { $0.endpoints ?? [] }
        let readyAddresses = endpoints.filter(\.isReady).flatMap { $0.addresses ?? [] }
        let notReady = endpoints.filter { !$0.isReady }.count
        if readyAddresses.isEmpty {
            var text = "its EndpointSlices list no ready address" + (notReady > 0 ? " (\(notReady) not ready)" : "")
            if !ready.isEmpty { text += ", although \(ready.count) selected pod\(ready.count == 1 ? " is" : "s are") Ready: the endpoint controller has not caught up, or the endpoints are managed by hand" }
            links.append(Link(name: "endpoints", ok: false, text: text))
        } else {
            links.append(Link(name: "endpoints", ok: true, text: "its EndpointSlices list \(readyAddresses.count) ready address\(readyAddresses.count == 1 ? "" : "es") (\(DrainPlan.list(readyAddresses)))" + (notReady > 0 ? " and \(notReady) not ready" : "")))
        }

        // 5. NetworkPolicies, on a Ready pod (else any selected one).
        if let pod = ready.first ?? selected.first, !targetPorts.isEmpty {
            var closed: [String] = []
            var notes: [String] = []
            for port in targetPorts {
                let verdict = policies.ingress(to: pod, port: port.target, protocol: port.protocol, from: source)
                if verdict.isolatingPolicies.isEmpty { continue }
                let by = verdict.isolatingPolicies.joined(separator: ", ")
                if verdict.allowed {
                    notes.append("port \(port.target) is open (" + verdict.openingRules.joined(separator: "; ") + ")")
                } else {
                    closed.append("port \(port.target)/\(port.protocol) is closed by \(by)" + (source.map { " to \($0.description)" } ?? " to every source"))
                }
            }
            if !closed.isEmpty {
                links.append(Link(name: "network policies", ok: false, text: "NetworkPolicies isolate its pods and " + closed.joined(separator: "; ")))
            } else if notes.isEmpty {
                links.append(Link(name: "network policies", ok: true, text: "no NetworkPolicy isolates its pods"))
            } else {
                links.append(Link(name: "network policies", ok: true, text: "NetworkPolicies isolate its pods; " + notes.joined(separator: "; ")))
            }
        }

        // 6. The name.
        switch lookup {
        case .notChecked(let why):
            links.append(Link(name: "dns", ok: true, text: "its name was not looked up (\(why))"))
        case .resolved(let host, let addresses):
            let expected = service.spec?.clusterIP
            if let expected, expected != "None", !expected.isEmpty, !addresses.contains(expected) {
                links.append(Link(name: "dns", ok: false, text: "\(host) resolves to \(addresses.joined(separator: ", ")), not its cluster IP \(expected)"))
            } else {
                links.append(Link(name: "dns", ok: true, text: "\(host) resolves to \(addresses.joined(separator: ", "))"))
            }
        case .failed(let host, let reason):
            links.append(Link(name: "dns", ok: false, text: "\(host) does not resolve: \(reason)"))
        }
        self.links = links
    }

    static func containerPort(named name: String, in pod: Pod) -> Int? {
        (pod.spec?.containers ?? []).flatMap { $0.ports ?? [] }.first { $0.name == name }?.containerPort
    }

    /// `app=web-v2 (3)`: label values of pods that have every selector key but not every value.
    static func nearMisses(_ selector: [String: String], _ pods: [Pod]) -> [String] {
        var counts: [String: Int] = [:]
        for pod in pods where !pod.isTerminal {
            let labels = pod.metadata.labels ?? [:]
            guard selector.keys.allSatisfy({ labels[$0] != nil }), selector.contains(where: { labels[$0.key] != $0.value }) else { continue }
            let text = selector.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
            counts[text, default: 0] += 1
        }
        return counts.sorted { $0.key < $1.key }.prefix(3).map { "\($0.key) (\($0.value))" }
    }

    /// The paragraph: the broken link first, then the path as checked.
    var paragraph: String {
        var text = "Service \(service): "
        if let broken = brokenLink {
            text += "the broken link is \(broken.name): \(broken.text)."
        } else {
            text += "every link holds."
        }
        text += " Checked: " + links.map { "\($0.ok ? "✓" : "✗") \($0.name): \($0.text)" }.joined(separator: "; ") + "."
        return text
    }
}
