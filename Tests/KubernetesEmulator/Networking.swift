import Foundation

/// Services and NetworkPolicies as the API server stores them (PROTOCOLS §10.1, §10.3): the server-side defaults a
/// network-diagnostics recipe reads back (`type`, `protocol`, `targetPort`, `clusterIP`, `policyTypes`) and the
/// validation that answers 422. Nothing routes traffic or enforces a policy.
enum Networking {
    /// The Service CIDR `clusterIP`s come from: 10.96.0.0/12.
    static let serviceRange: ClosedRange<UInt32> = (10 << 24 | 96 << 16 | 1)...(10 << 24 | 111 << 16 | 255 << 8 | 254)

    static func ipString(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    /// core/v1 `SetDefaults_Service` and `SetDefaults_ServicePort`: `type: ClusterIP`, `sessionAffinity: None`,
    /// `protocol: TCP`, `targetPort` = `port`, single-stack IPv4.
    static func defaultService(_ object: inout JSON) {
        var spec = object["spec"]
        if spec["type"].isNull { spec["type"] = "ClusterIP" }
        if spec["sessionAffinity"].isNull { spec["sessionAffinity"] = "None" }
        if spec["type"].string != "ExternalName" {
            if spec["internalTrafficPolicy"].isNull { spec["internalTrafficPolicy"] = "Cluster" }
            if spec["ipFamilies"].isNull { spec["ipFamilies"] = ["IPv4"] }
            if spec["ipFamilyPolicy"].isNull { spec["ipFamilyPolicy"] = "SingleStack" }
        }
        if case .array(var ports) = spec["ports"] {
            for index in ports.indices {
                if ports[index]["protocol"].isNull { ports[index]["protocol"] = "TCP" }
                if ports[index]["targetPort"].isNull { ports[index]["targetPort"] = ports[index]["port"] }
            }
            spec["ports"] = .array(ports)
        }
        object["spec"] = spec
        if object["status"].isNull { object["status"] = ["loadBalancer": [:]] }
    }

    /// `ValidateService`, the parts diagnostics depend on: a known type, ports (1–65535, a protocol, a name on each
    /// when there are several, unique), target ports (a number or an IANA service name), selector labels.
    static func validateService(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let spec = object["spec"]
        let type = spec["type"].string ?? "ClusterIP"
        if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) {
            causes.append(.notSupported("spec.type", type, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
        }
        let ports = spec["ports"].array ?? []
        let headless = spec["clusterIP"].string == "None"
        if type == "ExternalName" {
            if (spec["externalName"].string ?? "").isEmpty { causes.append(.required("spec.externalName")) }
        } else if ports.isEmpty, !headless {
            causes.append(.required("spec.ports"))
        }
        var names: Set<String> = []
        for (index, port) in ports.enumerated() {
            let field = "spec.ports[\(index)]"
            let name = port["name"].string ?? ""
            if ports.count > 1, name.isEmpty {
                causes.append(.required("\(field).name"))
            } else if !name.isEmpty {
                for message in Rules.labelErrors(name) { causes.append(.invalid("\(field).name", name, message)) }
                if !names.insert(name).inserted {
                    causes.append(Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(quoted(name))", field: "\(field).name"))
                }
            }
            if let number = port["port"].int {
                if !(1...65535).contains(number) {
                    causes.append(.invalid("\(field).port", String(number), "must be between 1 and 65535, inclusive"))
                }
            } else {
                causes.append(.required("\(field).port"))
            }
            let proto = port["protocol"].string ?? "TCP"
            if !["TCP", "UDP", "SCTP"].contains(proto) { causes.append(.notSupported("\(field).protocol", proto, ["SCTP", "TCP", "UDP"])) }
            causes += validatePortReference(port["targetPort"], field: "\(field).targetPort")
        }
        causes += Rules.labelCauses(spec["selector"], field: "spec.selector")
        return causes
    }

    /// An `IntOrString` port: 1–65535, or an IANA service name (≤ 15 lower-case letters, digits and single inner
    /// dashes, with at least one letter).
    static func validatePortReference(_ value: JSON, field: String) -> [Cause] {
        if let number = value.int {
            return (1...65535).contains(number) ? [] : [.invalid(field, String(number), "must be between 1 and 65535, inclusive")]
        }
        guard let name = value.string else { return [] }
        var messages: [String] = []
        if name.count > 15 { messages.append("must be no more than 15 characters") }
        if !name.allSatisfy({ ($0.isLetter && $0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" }) || name.hasPrefix("-")
            || name.hasSuffix("-") || name.contains("--") || name.isEmpty {
            messages.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        }
        if !name.contains(where: \.isLetter) { messages.append("must contain at least one letter (a-z)") }
        return messages.map { .invalid(field, name, $0) }
    }

    /// networking/v1 `SetDefaults_NetworkPolicy`: `policyTypes` is `["Ingress"]`, plus `"Egress"` when there are
    /// egress rules; rule ports default to TCP; a missing `podSelector` is `{}` (all pods).
    static func defaultNetworkPolicy(_ object: inout JSON) {
        var spec = object["spec"]
        if spec["podSelector"].isNull { spec["podSelector"] = [:] }
        if (spec["policyTypes"].array ?? []).isEmpty {
            spec["policyTypes"] = (spec["egress"].array ?? []).isEmpty ? ["Ingress"] : ["Ingress", "Egress"]
        }
        for direction in ["ingress", "egress"] {
            guard case .array(var rules) = spec[direction] else { continue }
            for index in rules.indices {
                guard case .array(var ports) = rules[index]["ports"] else { continue }
                for portIndex in ports.indices where ports[portIndex]["protocol"].isNull { ports[portIndex]["protocol"] = "TCP" }
                rules[index]["ports"] = .array(ports)
            }
            spec[direction] = .array(rules)
        }
        object["spec"] = spec
    }

    /// `ValidateNetworkPolicy`, in part: known policy types, one peer kind per `ipBlock` item, a CIDR on an
    /// `ipBlock`, `endPort` only after a numeric `port` and not below it.
    static func validateNetworkPolicy(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let spec = object["spec"]
        for (index, type) in (spec["policyTypes"].array ?? []).enumerated() {
            let value = type.string ?? ""
            if value != "Ingress", value != "Egress" { causes.append(.notSupported("spec.policyTypes[\(index)]", value, ["Ingress", "Egress"])) }
        }
        causes += Rules.labelCauses(spec["podSelector"]["matchLabels"], field: "spec.podSelector.matchLabels")
        for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
            for (ruleIndex, rule) in (spec[direction].array ?? []).enumerated() {
                for (peerIndex, peer) in (rule[peers].array ?? []).enumerated() {
                    let field = "spec.\(direction)[\(ruleIndex)].\(peers)[\(peerIndex)]"
                    if !peer["ipBlock"].isNull {
                        if !peer["podSelector"].isNull || !peer["namespaceSelector"].isNull {
                            causes.append(.forbidden(field, "may not specify more than 1 peer type"))
                        }
                        if (peer["ipBlock"]["cidr"].string ?? "").isEmpty { causes.append(.required("\(field).ipBlock.cidr")) }
                    } else if peer["podSelector"].isNull, peer["namespaceSelector"].isNull {
                        causes.append(.required(field, "Required value: must specify a peer"))
                    }
                }
                for (portIndex, port) in (rule["ports"].array ?? []).enumerated() {
                    let field = "spec.\(direction)[\(ruleIndex)].ports[\(portIndex)]"
                    causes += validatePortReference(port["port"], field: "\(field).port")
                    if let end = port["endPort"].int {
                        if let start = port["port"].int {
                            if end < start { causes.append(.invalid("\(field).endPort", String(end), "must be greater than or equal to `port`")) }
                        } else {
                            causes.append(.forbidden("\(field).endPort", "may not be specified when `port` is non-numeric"))
                        }
                    }
                }
            }
        }
        return causes
    }

    /// discovery/v1 `ValidateEndpointSlice`, in part: an address type, addresses on every endpoint.
    static func validateEndpointSlice(_ object: JSON) -> [Cause] {
        var causes: [Cause] = []
        let addressType = object["addressType"].string ?? ""
        if addressType.isEmpty {
            causes.append(.required("addressType"))
        } else if !["IPv4", "IPv6", "FQDN"].contains(addressType) {
            causes.append(.notSupported("addressType", addressType, ["FQDN", "IPv4", "IPv6"]))
        }
        for (index, endpoint) in (object["endpoints"].array ?? []).enumerated() where (endpoint["addresses"].array ?? []).isEmpty {
            causes.append(.required("endpoints[\(index)].addresses", "Required value: must contain at least 1 address"))
        }
        return causes
    }
}

extension KubernetesEmulator {
    /// Gives a new Service its `clusterIP` (and `clusterIPs`): a free address of 10.96.0.0/12, unless it is
    /// headless (`None`), an ExternalName, or names one itself. A dry run gets an address that is not reserved.
    func allocateClusterIP(_ object: inout JSON) {
        guard object["spec"]["type"].string != "ExternalName" else { return }
        let requested = object["spec"]["clusterIP"].string ?? ""
        if requested.isEmpty {
            let used = Set(allStored(.services, namespace: nil).compactMap { $0.1["spec"]["clusterIP"].string })
            var address = Networking.ipString(UInt32.random(in: Networking.serviceRange))
            while used.contains(address) || address.hasSuffix(".0") || address.hasSuffix(".255") {
                address = Networking.ipString(UInt32.random(in: Networking.serviceRange))
            }
            object["spec"]["clusterIP"] = .string(address)
        }
        if object["spec"]["clusterIPs"].isNull { object["spec"]["clusterIPs"] = [object["spec"]["clusterIP"]] }
    }

    /// An update that leaves out `clusterIP`/`clusterIPs` keeps the allocated ones, as the registry's
    /// `PrepareForUpdate` does.
    static func keepClusterIP(_ object: inout JSON, from existing: JSON) {
        for key in ["clusterIP", "clusterIPs"] where object["spec"][key].isNull && !existing["spec"][key].isNull {
            object["spec"][key] = existing["spec"][key]
        }
    }

    /// Sets a namespace's labels (for NetworkPolicy `namespaceSelector`s), keeping the automatic
    /// `kubernetes.io/metadata.name`. Creates the namespace when it does not exist.
    public func setNamespaceLabels(_ name: String, _ labels: [String: String]) {
        createNamespace(name)
        var merged = labels
        merged["kubernetes.io/metadata.name"] = name
        namespaces[name]?["metadata"]["labels"] = .object(merged.mapValues { .string($0) })
        revision += 1
        namespaces[name]?["metadata"]["resourceVersion"] = .string(String(revision))
    }
}
