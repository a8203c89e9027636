import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import KubernetesEmulator
import RecipeKit
import Testing

/// `network-diagnostics` against the emulator, whose endpoint-slice controller keeps each Service's slices from its
/// pods, with the recipe's own ServiceAccount and the shipped (read-only) RBAC.
@Suite struct NetworkDiagnosticsRecipeTests {
    /// A Ready pod of `app` with the container port `portName` 8080 and the IP `ip`.
    static func seedPod(_ cluster: NodeCluster, _ name: String, namespace: String = "shop", app: String = "web",
                        portName: String = "http", ip: String, ready: Bool = true) async throws {
        try await cluster.emulator.seed(.pods, namespace: namespace, [
            "metadata": ["name": .string(name), "labels": ["app": .string(app)]],
            "spec": ["nodeName": "emulator-node",
                     "containers": [["name": "web", "image": "shop/web:1", "ports": [["name": .string(portName), "containerPort": 8080]]]]],
        ])
        try await cluster.emulator.setPodStatus(namespace: namespace, name: name, status: [
            "phase": "Running", "podIP": .string(ip),
            "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]],
            "containerStatuses": [["name": "web", "ready": .bool(ready), "restartCount": 0, "state": ["running": ["startedAt": "2026-12-05T08:00:00Z"]]]],
        ])
    }

    static func seedService(_ cluster: NodeCluster, selector: String = "web") async throws {
        try await cluster.emulator.seed(.services, namespace: "shop", [
            "metadata": ["name": "web"],
            "spec": ["selector": ["app": .string(selector)], "ports": [["name": "http", "port": 80, "targetPort": "http"]]],
        ])
    }

    static func run(_ cluster: NodeCluster, labels: [String: String], permissions: Permissions? = nil) async throws -> RecipeOutcome {
        try await BuiltinRecipes.networkDiagnostics(NodeCluster.context(
            "network-diagnostics", labels: labels,
            kubeconfig: try await cluster.kubeconfig(for: "network-diagnostics", permissions: permissions)))
    }

    static let serviceLabels = ["alertname": "ProbeFailed", "namespace": "shop", "service": "web"]

    @Test func aHealthyServiceHoldsEveryLink() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-a", ip: "10.244.1.7")
            try await Self.seedPod(cluster, "web-b", ip: "10.244.1.8")
            let outcome = try await Self.run(cluster, labels: Self.serviceLabels)
            #expect(outcome.actions.isEmpty)
            #expect(outcome.analysis.hasPrefix("Service shop/web: every link holds. Checked: ✓ selector: its selector app=web matches 2 pods; ✓ readiness: 2 of them are Ready; ✓ ports: its ports lead to 80→8080/TCP; ✓ endpoints: its EndpointSlices list 2 ready addresses (10.244.1.7, 10.244.1.8); ✓ network policies: no NetworkPolicy isolates its pods; ✓ dns: its name was not looked up (the recipe does not run in the cluster)."),
                    "\(outcome.analysis)")
            let reads = await cluster.emulator.requestLog.filter { $0.user.hasSuffix(":network-diagnostics") }
            #expect(!reads.isEmpty && reads.allSatisfy { $0.method == "GET" })
        }
    }

    @Test func aSelectorThatMatchesNothingAndAPortNameThePodsLackAreNamed() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-v2-a", app: "web-v2", ip: "10.244.1.7")
            let outcome = try await Self.run(cluster, labels: Self.serviceLabels)
            #expect(outcome.actions == ["jira"])
            #expect(outcome.analysis.hasPrefix("Service shop/web: the broken link is selector: its selector app=web matches no running pod in shop; pods labelled app=web-v2 (1) exist: were the labels or the selector changed?"))
            #expect(outcome.json.contains(#""broken":"selector""#))
        }
        try await NodeCluster.with(nodes: 0) { cluster in
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-a", portName: "web", ip: "10.244.1.7")
            let outcome = try await Self.run(cluster, labels: Self.serviceLabels)
            #expect(outcome.analysis.hasPrefix("Service shop/web: the broken link is ports: port 80 (http) targets the named port \"http\", which web-a does not declare (they name: web)."),
                    "\(outcome.analysis)")
        }
    }

    @Test func policiesAreJudgedForTheAlertsSource() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            await cluster.emulator.createNamespace("ingress")
            await cluster.emulator.setNamespaceLabels("ingress", ["team": "edge"])
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-a", ip: "10.244.1.7")
            try await Self.seedPod(cluster, "gateway-1", namespace: "ingress", app: "gateway", ip: "10.244.2.9")
            try await Self.seedPod(cluster, "debug", namespace: "ingress", app: "debug", ip: "10.244.2.10")
            try await cluster.emulator.seed(.networkPolicies, namespace: "shop", [
                "metadata": ["name": "web-in"],
                "spec": ["podSelector": ["matchLabels": ["app": "web"]],
                         "ingress": [["from": [["namespaceSelector": ["matchLabels": ["team": "edge"]],
                                                "podSelector": ["matchLabels": ["app": "gateway"]]]],
                                      "ports": [["protocol": "TCP", "port": "http"]]]]],
            ])
            let fromGateway = try await Self.run(cluster, labels: Self.serviceLabels.merging(["source_namespace": "ingress", "source_pod": "gateway-1"]) { $1 })
            #expect(fromGateway.actions.isEmpty, "\(fromGateway.analysis)")
            #expect(fromGateway.analysis.contains("✓ network policies: NetworkPolicies isolate its pods; port 8080 is open (web-in: from pods app=gateway in namespaces team=edge)"))
            let fromDebug = try await Self.run(cluster, labels: Self.serviceLabels.merging(["source_namespace": "ingress", "source_pod": "debug"]) { $1 })
            #expect(fromDebug.analysis.hasPrefix("Service shop/web: the broken link is network policies: NetworkPolicies isolate its pods and port 8080/TCP is closed by web-in to pod ingress/debug."),
                    "\(fromDebug.analysis)")
        }
    }

    @Test func aPodsServicesAreFoundAndMissingPermissionsListed() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-a", ip: "10.244.1.7")
            let withoutSlices = try NodeCluster.shippedPermissions("network-diagnostics")
                .denying(verbs: ["list"], group: "discovery.k8s.io", resources: ["endpointslices"])
            let outcome = try await Self.run(cluster, labels: ["namespace": "shop", "pod": "web-a"], permissions: withoutSlices)
            #expect(outcome.analysis.hasPrefix("Service shop/web: the broken link is endpoints"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("Its EndpointSlices could not be read: forbidden: the recipe may not list endpointslices.discovery.k8s.io in \"shop\" (403)."))
            #expect(outcome.analysis.hasSuffix("Missing Kubernetes permissions: list endpointslices.discovery.k8s.io in \"shop\". Grant them to the recipe's ServiceAccount with a Role (see docs/recipes.md, network-diagnostics)."))

            // Nothing could be followed: a failed result that says why.
            let lonely = await NodeCluster.failure { try await Self.run(cluster, labels: ["namespace": "shop", "service": "gone"]) }
            #expect(lonely == "Service shop/gone: cannot read it: not found (404). The alert names a Service that does not exist: check its name and namespace.")
            let message = await NodeCluster.failure {
                try await Self.run(cluster, labels: ["alertname": "X", "namespace": "shop"])
            }
            #expect(message == "no Service to follow: no firing alert has a namespace label with a service, pod or deployment label; its labels are alertname, namespace")
        }
    }

    @Test func itUsesExactlyWhatItIsGranted() async throws {
        try await NodeCluster.with(nodes: 0) { cluster in
            await cluster.emulator.createNamespace("ingress")
            try await Self.seedService(cluster)
            try await Self.seedPod(cluster, "web-a", ip: "10.244.1.7")
            try await Self.seedPod(cluster, "gateway-1", namespace: "ingress", app: "gateway", ip: "10.244.2.9")
            try await cluster.emulator.seed(.deployments, namespace: "shop", [
                "metadata": ["name": "web"],
                "spec": ["selector": ["matchLabels": ["app": "web"]],
                         "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "shop/web:1"]]]]],
            ])
            _ = try await Self.run(cluster, labels: Self.serviceLabels.merging(["source_namespace": "ingress", "source_pod": "gateway-1"]) { $1 })
            _ = try await Self.run(cluster, labels: ["namespace": "shop", "pod": "web-a"])
            _ = try await Self.run(cluster, labels: ["namespace": "shop", "deployment": "web"])
            let granted = try NodeCluster.shippedPermissions("network-diagnostics").grantedPermissions
            let used = Set(await cluster.emulator.requestLog.filter { $0.user.hasSuffix(":network-diagnostics") }.map(\.permission))
            #expect(used == granted, "granted but unused: \(granted.subtracting(used).sorted()); used but not granted: \(used.subtracting(granted).sorted())")
        }
    }
}
