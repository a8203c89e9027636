import EuphrosyneKubernetes
import Foundation
import Testing

@testable import EuphrosyneRecipes

/// `network-diagnostics`' judgement as values: each broken link of the path to a Service's pods, and NetworkPolicy
/// semantics (isolation, additive rules, AND within a peer, named ports, ipBlocks).
@Suite struct NetworkDiagnosisTests {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) -> T {
        try! JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    static let service = decode(KubernetesService.self, """
        {"metadata":{"name":"web","namespace":"shop"},"spec":{"type":"ClusterIP","clusterIP":"10.96.12.34","selector":{"app":"web"},
         "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"http"}]}}
        """)

    static func pod(_ name: String, app: String = "web", ready: Bool = true, portName: String = "http", ip: String = "10.244.1.7") -> Pod {
        decode(Pod.self, """
            {"metadata":{"name":"\(name)","namespace":"shop","labels":{"app":"\(app)"}},
             "spec":{"containers":[{"name":"web","image":"shop/web:1","ports":[{"name":"\(portName)","containerPort":8080}]}]},
             "status":{"phase":"Running","podIP":"\(ip)","conditions":[{"type":"Ready","status":"\(ready ? "True" : "False")"}],
               "containerStatuses":[{"name":"web","ready":\(ready),"restartCount":0,"state":{"running":{}}}]}}
            """)
    }

    static func slice(ready: [String], notReady: [String] = []) -> EndpointSlice {
        let endpoints = ready.map { #"{"addresses":["\#($0)"],"conditions":{"ready":true}}"# }
            + notReady.map { #"{"addresses":["\#($0)"],"conditions":{"ready":false}}"# }
        return decode(EndpointSlice.self, """
            {"metadata":{"name":"web-x7k2p","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
             "endpoints":[\(endpoints.joined(separator: ","))],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
            """)
    }

    static func policy(_ json: String) -> NetworkPolicy { decode(NetworkPolicy.self, json) }

    static func diagnose(pods: [Pod], slices: [EndpointSlice], policies: [NetworkPolicy] = [],
                         source: NetworkPolicyCheck.Source? = nil,
                         lookup: NetworkDiagnosis.NameLookup = .notChecked("the recipe does not run in the cluster")) -> NetworkDiagnosis {
        NetworkDiagnosis(service: service, pods: pods, slices: slices,
                         policies: NetworkPolicyCheck(policies: policies, namespaceLabels: ["ingress": ["team": "edge"]]),
                         source: source, lookup: lookup)
    }

    @Test func aHealthyPathHoldsEveryLink() {
        let diagnosis = Self.diagnose(pods: [Self.pod("web-a")], slices: [Self.slice(ready: ["10.244.1.7"])],
                                      lookup: .resolved(name: "web.shop.svc.cluster.local", addresses: ["10.96.12.34"]))
        #expect(diagnosis.brokenLink == nil)
        #expect(diagnosis.paragraph == "Service shop/web: every link holds. Checked: ✓ selector: its selector app=web matches 1 pod; ✓ readiness: 1 of them is Ready; ✓ ports: its ports lead to 80→8080/TCP; ✓ endpoints: its EndpointSlices list 1 ready address (10.244.1.7); ✓ network policies: no NetworkPolicy isolates its pods; ✓ dns: web.shop.svc.cluster.local resolves to 10.96.12.34.")
    }

    @Test func eachBrokenLinkIsNamed() {
        // A selector that matches nothing, with near misses.
        #expect(Self.diagnose(pods: [Self.pod("web-v2-a", app: "web-v2")], slices: []).brokenLink
                == .init(name: "selector", ok: false, text: "its selector app=web matches no running pod in shop; pods labelled app=web-v2 (1) exist: were the labels or the selector changed?"))
        // Pods that are not Ready.
        #expect(Self.diagnose(pods: [Self.pod("web-a", ready: false)], slices: [Self.slice(ready: [], notReady: ["10.244.1.7"])]).brokenLink?.name
                == "readiness")
        // A named targetPort the pods do not declare.
        #expect(Self.diagnose(pods: [Self.pod("web-a", portName: "web")], slices: []).brokenLink
                == .init(name: "ports", ok: false, text: "port 80 (http) targets the named port \"http\", which web-a does not declare (they name: web)"))
        // Ready pods but no ready endpoint.
        #expect(Self.diagnose(pods: [Self.pod("web-a")], slices: []).brokenLink
                == .init(name: "endpoints", ok: false, text: "its EndpointSlices list no ready address, although 1 selected pod is Ready: the endpoint controller has not caught up, or the endpoints are managed by hand"))
        // A name that does not resolve, or to the wrong address.
        #expect(Self.diagnose(pods: [Self.pod("web-a")], slices: [Self.slice(ready: ["10.244.1.7"])],
                              lookup: .failed(name: "web.shop.svc.cluster.local", reason: "Name or service not known")).brokenLink?.text
                == "web.shop.svc.cluster.local does not resolve: Name or service not known")
        #expect(Self.diagnose(pods: [Self.pod("web-a")], slices: [Self.slice(ready: ["10.244.1.7"])],
                              lookup: .resolved(name: "web.shop.svc.cluster.local", addresses: ["10.0.0.1"])).brokenLink?.name == "dns")
    }

    static let denyAll = policy(#"{"metadata":{"name":"default-deny","namespace":"shop"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}"#)
    static let fromGateway = policy("""
        {"metadata":{"name":"web-in","namespace":"shop"},"spec":{"podSelector":{"matchLabels":{"app":"web"}},
         "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"edge"}},"podSelector":{"matchLabels":{"app":"gateway"}}},
                             {"ipBlock":{"cidr":"10.0.0.0/8","except":["10.9.0.0/16"]}}],
                     "ports":[{"protocol":"TCP","port":"http"}]}]}}
        """)

    @Test func aDefaultDenyClosesThePortAndAnAllowingRuleOpensIt() {
        let pods = [Self.pod("web-a")]
        let slices = [Self.slice(ready: ["10.244.1.7"])]
        #expect(Self.diagnose(pods: pods, slices: slices, policies: [Self.denyAll]).brokenLink
                == .init(name: "network policies", ok: false, text: "NetworkPolicies isolate its pods and port 8080/TCP is closed by default-deny to every source"))
        let open = Self.diagnose(pods: pods, slices: slices, policies: [Self.denyAll, Self.fromGateway])
        #expect(open.brokenLink == nil)
        #expect(open.links.first { $0.name == "network policies" }?.text
                == "NetworkPolicies isolate its pods; port 8080 is open (web-in: from pods app=gateway in namespaces team=edge, 10.0.0.0/8 except 10.9.0.0/16)")
    }

    @Test func aSourceIsJudgedByItsPodAndNamespaceLabelsTogether() {
        let check = NetworkPolicyCheck(policies: [Self.denyAll, Self.fromGateway], namespaceLabels: ["ingress": ["team": "edge"]])
        let web = Self.pod("web-a")
        func verdict(_ namespace: String, _ labels: [String: String], ip: String? = nil) -> Bool {
            check.ingress(to: web, port: 8080, protocol: "TCP",
                          from: .init(namespace: namespace, labels: labels, ip: ip, description: "x")).allowed
        }
        #expect(verdict("ingress", ["app": "gateway"]))
        // Both selectors are in one peer: the pod label alone, or the namespace alone, is not enough.
        #expect(!verdict("shop", ["app": "gateway"]))
        #expect(!verdict("ingress", ["app": "other"]))
        // ipBlock, with its exception.
        #expect(verdict("elsewhere", [:], ip: "10.1.2.3"))
        #expect(!verdict("elsewhere", [:], ip: "10.9.2.3"))
        // Another port is closed; the named port resolves against the destination pod.
        #expect(!check.ingress(to: web, port: 9090, protocol: "TCP", from: nil).allowed)
        #expect(check.ingress(to: web, port: 8080, protocol: "UDP", from: nil).allowed == false)
        // Egress is judged on the source's side: a policy isolating it for egress must allow the destination.
        let egressOnly = Self.policy(#"{"metadata":{"name":"no-egress","namespace":"ingress"},"spec":{"podSelector":{},"policyTypes":["Egress"]}}"#)
        let source = NetworkPolicyCheck.Source(namespace: "ingress", labels: ["app": "gateway"], ip: nil, description: "gateway")
        let withEgress = NetworkPolicyCheck(policies: [egressOnly], namespaceLabels: [:])
        #expect(withEgress.egress(from: source, sourcePod: Self.pod("gw", app: "gateway"), to: web, port: 8080, protocol: "TCP")
                == (["no-egress"], false))
    }

    @Test func policyTypesDefaultAsTheServerDefaultsThem() {
        #expect(Self.fromGateway.types == ["Ingress"])
        #expect(Self.policy(#"{"metadata":{"name":"e"},"spec":{"podSelector":{},"egress":[{}]}}"#).types == ["Ingress", "Egress"])
        #expect(NetworkPolicyCheck.contains("10.244.0.0/16", "10.244.7.1") && !NetworkPolicyCheck.contains("10.244.0.0/16", "10.245.0.1"))
        #expect(!NetworkPolicyCheck.contains("fd00::/8", "fd00::1") && !NetworkPolicyCheck.contains("10.0.0.0/33", "10.0.0.1"))
    }
}
