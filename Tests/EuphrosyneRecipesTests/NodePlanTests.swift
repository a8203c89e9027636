@testable import EuphrosyneKubernetes
import Foundation
import RecipeKit
import Testing

@testable import EuphrosyneRecipes

/// The node recipes' decisions as values: the blast-radius guard, a drain's plan, and what a node's state says.
@Suite struct NodePlanTests {
    static func node(_ name: String, ready: String = "True", cordoned: Bool = false,
                     conditions: [Node.Condition] = [], allocatable: [String: String]? = nil) -> Node {
        Node(metadata: ObjectMeta(name: name), spec: Node.Spec(unschedulable: cordoned ? true : nil),
             status: Node.Status(allocatable: allocatable,
                                 conditions: [Node.Condition(type: "Ready", status: ready, reason: ready == "True" ? "KubeletReady" : "KubeletNotReady",
                                                             message: ready == "True" ? nil : "container runtime network not ready",
                                                             lastTransitionTime: "2026-12-05T08:00:00Z")] + conditions))
    }

    static func pod(_ name: String, namespace: String = "shop", owner: (kind: String, name: String, uid: String)? = ("ReplicaSet", "web-7d4b9", "rs-1"),
                    labels: [String: String] = ["app": "web"], phase: String = "Running", ready: Bool = true,
                    emptyDir: Bool = false, mirror: Bool = false, node: String = "worker-2",
                    requests: [String: String]? = nil) -> Pod {
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels,
                                  annotations: mirror ? ["kubernetes.io/config.mirror": "abc"] : nil,
                                  ownerReferences: owner.map { [OwnerReference(apiVersion: "apps/v1", kind: $0.kind, name: $0.name, uid: $0.uid, controller: true)] })
        metadata.uid = "uid-\(name)"
        var spec = PodSpec(containers: [Container(name: "app", image: "shop/web:1",
                                                  resources: requests.map { ResourceRequirements(requests: $0) })],
                           volumes: emptyDir ? [Volume(name: "tmp", emptyDir: .init())] : nil)
        spec.nodeName = node
        var pod = Pod(metadata: metadata, spec: spec)
        pod.status = Pod.Status(phase: phase, conditions: [Pod.Condition(type: "Ready", status: ready ? "True" : "False")],
                                containerStatuses: [Pod.ContainerStatus(name: "app", ready: ready, restartCount: ready ? 0 : 7,
                                                                        state: ready ? .init(running: .init(startedAt: "2026-12-05T08:00:00Z"))
                                                                            : .init(waiting: .init(reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container")))])
        return pod
    }

    // MARK: The guard

    @Test func theGuardCountsTheClusterAfterTheCordon() {
        let cluster = (1...6).map { Self.node("worker-\($0)") }
        let allowed = CordonGuard().check(cordoning: "worker-2", among: cluster)
        #expect(allowed == .allowed(.init(total: 6, schedulableAfter: 5, cordonedAfter: 1)))
        #expect(CordonGuard().check(cordoning: "worker-2", among: [Self.node("worker-2", cordoned: true)]) == .alreadyCordoned)
    }

    @Test func theGuardRefusesTooFewSchedulableNodes() {
        // Two of four nodes are not Ready: cordoning a third leaves one schedulable node.
        let cluster = [Self.node("a"), Self.node("b"), Self.node("c", ready: "False"), Self.node("d", ready: "Unknown")]
        guard case .refused(let counts, let reason) = CordonGuard(minSchedulableNodes: 2, maxCordonedFraction: 1)
            .check(cordoning: "a", among: cluster) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(counts.schedulableAfter == 1)
        #expect(reason == "it would leave 1 schedulable node, fewer than MIN_SCHEDULABLE_NODES (2)")
    }

    @Test func theGuardRefusesTooLargeACordonedShare() {
        // Ten nodes, two cordoned: a third makes 30%, allowed; a fourth makes 40%, refused.
        var cluster = (1...10).map { Self.node("n\($0)") }
        cluster[0] = Self.node("n1", cordoned: true)
        cluster[1] = Self.node("n2", cordoned: true)
        #expect(CordonGuard().check(cordoning: "n3", among: cluster)
                == .allowed(.init(total: 10, schedulableAfter: 7, cordonedAfter: 3)))
        cluster[2] = Self.node("n3", cordoned: true)
        guard case .refused(_, let reason) = CordonGuard().check(cordoning: "n4", among: cluster) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(reason == "it would leave 4 of 10 nodes (40%) cordoned, more than MAX_CORDONED_FRACTION (0.3, 30%)")
    }

    @Test func theGuardsSettingsAreCheckedNotGuessed() throws {
        let custom = try CordonGuard(RecipeEnvironment(["MIN_SCHEDULABLE_NODES": "1", "MAX_CORDONED_FRACTION": "0.5"]))
        #expect(custom == CordonGuard(minSchedulableNodes: 1, maxCordonedFraction: 0.5))
        #expect(throws: RecipeError.failed("MAX_CORDONED_FRACTION must be a fraction between 0 and 1 (0.3 for 30%); it is \"30%\"")) {
            try CordonGuard(RecipeEnvironment(["MAX_CORDONED_FRACTION": "30%"]))
        }
        #expect(throws: RecipeError.self) { try CordonGuard(RecipeEnvironment(["MIN_SCHEDULABLE_NODES": "-1"])) }
    }

    // MARK: The drain plan

    @Test func aDrainEvictsManagedPodsAndLeavesDaemonSetAndStaticPods() {
        let pods = [
            Self.pod("web-1", emptyDir: true),
            Self.pod("logs-x", namespace: "kube-system", owner: ("DaemonSet", "fluent-bit", "ds-1")),
            Self.pod("etcd-worker-2", namespace: "kube-system", owner: nil, mirror: true),
            Self.pod("batch-done", owner: nil, phase: "Succeeded"),
        ]
        let budget = PodDisruptionBudget(metadata: ObjectMeta(name: "web-pdb", namespace: "shop"),
                                         spec: .init(minAvailable: .int(2), selector: LabelSelector(matchLabels: ["app": "web"])),
                                         status: .init(disruptionsAllowed: 0))
        let plan = DrainPlan(node: "worker-2", pods: pods, existingDaemonSets: ["kube-system/fluent-bit"], budgets: [budget],
                             force: false)
        #expect(plan.refused.isEmpty)
        #expect(plan.toEvict.map(\.reference) == ["shop/batch-done", "shop/web-1"])
        #expect(plan.toEvict.last?.disposition == .evict(budget: "shop/web-pdb"))
        #expect(plan.summary() == "evict 2 pods (shop/batch-done, shop/web-1), leave 1 DaemonSet pod (kube-system/logs-x), leave 1 static pod; the emptyDir data of shop/web-1 would be lost; the PodDisruptionBudget shop/web-pdb allows 0 disruptions now and 1 of its pods are on the node, so the drain would wait for replacements to become ready")
        #expect(plan.summary(done: true) == "evicted 2 pods (shop/batch-done, shop/web-1), left 1 DaemonSet pod (kube-system/logs-x), left 1 static pod; the emptyDir data of shop/web-1 was lost")
    }

    @Test func aPodWithoutAControllerRefusesTheWholeDrainUnlessForced() {
        let pods = [Self.pod("web-1"), Self.pod("debug", owner: nil), Self.pod("logs-x", owner: ("DaemonSet", "gone", "ds-9"))]
        let plan = DrainPlan(node: "worker-2", pods: pods, existingDaemonSets: [], budgets: [], force: false)
        #expect(plan.refused.map(\.reference) == ["shop/debug", "shop/logs-x"])
        #expect(plan.refusalSentence == "Nothing was evicted: shop/debug has no controller, so nothing would recreate it; shop/logs-x names the DaemonSet shop/gone, which does not exist. Approve again with \"force\": true in the data to evict them anyway.")
        let forced = DrainPlan(node: "worker-2", pods: pods, existingDaemonSets: [], budgets: [], force: true)
        #expect(forced.refused.isEmpty && forced.toEvict.count == 3)
    }

    @Test func aBudgetSelectsByLabelsInItsOwnNamespaceOnly() {
        let other = PodDisruptionBudget(metadata: ObjectMeta(name: "web-pdb", namespace: "other"),
                                        spec: .init(selector: LabelSelector(matchLabels: ["app": "web"])))
        let nullSelector = PodDisruptionBudget(metadata: ObjectMeta(name: "none", namespace: "shop"), spec: .init())
        let plan = DrainPlan(node: "worker-2", pods: [Self.pod("web-1")], existingDaemonSets: [], budgets: [other, nullSelector],
                             force: false)
        #expect(plan.toEvict.first?.disposition == .evict(budget: nil))
    }

    // MARK: The node's state

    @Test func aNotReadyNodeUnderPressureSaysWhyAndSinceWhen() {
        let node = Self.node("worker-2", ready: "False", conditions: [
            Node.Condition(type: "DiskPressure", status: "True", reason: "KubeletHasDiskPressure",
                           message: "kubelet has disk pressure", lastTransitionTime: "2026-12-05T07:59:00Z"),
            Node.Condition(type: "MemoryPressure", status: "False"),
        ], allocatable: ["cpu": "3920m", "memory": "15Gi", "pods": "110"])
        let pods = [Self.pod("web-1", ready: false, requests: ["cpu": "500m", "memory": "512Mi"]),
                    Self.pod("api-1", owner: ("ReplicaSet", "api-5f", "rs-2"), requests: ["cpu": "1.5", "memory": "1Gi"])]
        let diagnosis = NodeDiagnosis(node, pods: pods, healthyElsewhere: ["rs-1": 2])
        #expect(diagnosis.isTroubled)
        #expect(diagnosis.problems == [
            "it is NotReady (KubeletNotReady: container runtime network not ready, since 2026-12-05T08:00:00Z)",
            "it has DiskPressure (KubeletHasDiskPressure: kubelet has disk pressure, since 2026-12-05T07:59:00Z) and may evict pods",
        ])
        #expect(diagnosis.requests == "cpu 2 of 3.9 (51%), memory 1.5Gi of 15Gi (10%), 2 of 110 pods")
        #expect(diagnosis.failingPods == [.init(reference: "shop/web-1", problem: "CrashLoopBackOff", healthyElsewhere: 2)])
        #expect(diagnosis.paragraph.contains("shop/web-1 has healthy replicas on other nodes, so the failure follows this node."))
    }

    @Test func aHealthyNodeSaysSo() {
        let diagnosis = NodeDiagnosis(Self.node("worker-1", cordoned: true), pods: [], healthyElsewhere: [:])
        #expect(!diagnosis.isTroubled)
        #expect(diagnosis.paragraph == "Node worker-1: Ready, with no memory, disk or PID pressure. It is cordoned (unschedulable).")
        let silent = NodeDiagnosis(Node(metadata: ObjectMeta(name: "new")), pods: [], healthyElsewhere: [:])
        #expect(silent.problems == ["it has never reported a Ready condition"])
    }
}
