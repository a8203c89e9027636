import EuphrosyneKubernetes
import Foundation

/// What is wrong with one node, judged from the Node and the pods on it (no I/O): its conditions, taints and
/// cordon, what its pods request against its allocatable, and which of its pods fail while their siblings on other
/// nodes are healthy (the failure follows the node). `node-diagnostics` reads the API and writes the paragraph.
struct NodeDiagnosis: Sendable {
    /// A pod on the node that is not healthy.
    struct FailingPod: Sendable, Hashable {
        var reference: String
        var problem: String
        /// Pods of the same controller are Ready on other nodes: only here does it fail.
        var healthyElsewhere: Int
    }

    var name: String
    /// One sentence per unhealthy condition, the worst first.
    var problems: [String]
    var cordoned: Bool
    var taints: [String]
    /// `cpu 3.2 of 4 (80%), memory 12Gi of 16Gi (75%), 17 of 110 pods`, or nil when the node says nothing.
    var requests: String?
    var failingPods: [FailingPod]

    var isTroubled: Bool { !problems.isEmpty }

    /// Pods that fail on this node while their siblings elsewhere are Ready: the case for draining it.
    var failingHereAlone: [FailingPod] { failingPods.filter { $0.healthyElsewhere > 0 } }

    /// - Parameter healthyElsewhere: per controller uid, how many of its pods are Ready on other nodes.
    init(_ node: Node, pods: [Pod], healthyElsewhere: [String: Int]) {
        name = node.metadata.name ?? "?"
        cordoned = node.isCordoned
        taints = (node.spec?.taints ?? []).map(\.description)
        problems = Self.problems(node)

        let running = pods.filter { !$0.isTerminal }
        var cpu = ResourceQuantity(0)
        var memory = ResourceQuantity(0)
        for pod in running {
            for container in pod.spec?.containers ?? [] {
                cpu = cpu + (container.resources?.requests?["cpu"].flatMap(ResourceQuantity.init(parsing:)) ?? ResourceQuantity(0))
                memory = memory + (container.resources?.requests?["memory"].flatMap(ResourceQuantity.init(parsing:)) ?? ResourceQuantity(0))
            }
        }
        let allocatable = node.status?.allocatable ?? node.status?.capacity ?? [:]
        var parts: [String] = []
        if let total = allocatable["cpu"].flatMap(ResourceQuantity.init(parsing:)), total.value > 0 {
            parts.append("cpu \(cpu.cpuDescription) of \(total.cpuDescription) (\(Self.percent(cpu, total)))")
        }
        if let total = allocatable["memory"].flatMap(ResourceQuantity.init(parsing:)), total.value > 0 {
            parts.append("memory \(memory.memoryDescription) of \(total.memoryDescription) (\(Self.percent(memory, total)))")
        }
        if let total = allocatable["pods"].flatMap(ResourceQuantity.init(parsing:)), total.value > 0 {
            parts.append("\(running.count) of \(Int(total.value)) pods")
        }
        requests = parts.isEmpty ? nil : parts.joined(separator: ", ")

        failingPods = pods.compactMap { pod -> FailingPod? in
            let diagnosis = PodDiagnosis(pod)
            guard !diagnosis.isHealthy, pod.status?.phase != "Succeeded" else { return nil }
            let controller = pod.controller.flatMap { $0.kind == "DaemonSet" ? nil : $0.uid }
            return FailingPod(reference: "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")",
                              problem: diagnosis.problem ?? "NotReady",
                              healthyElsewhere: controller.flatMap { healthyElsewhere[$0] } ?? 0)
        }.sorted { $0.reference < $1.reference }
    }

    static func percent(_ part: ResourceQuantity, _ whole: ResourceQuantity) -> String {
        "\(Int((part.value / whole.value * 100).rounded()))%"
    }

    /// The conditions that say the node is unwell, as sentences: not Ready first, then pressure and network.
    static func problems(_ node: Node) -> [String] {
        var problems: [String] = []
        func detail(_ condition: Node.Condition) -> String {
            var text = condition.reason ?? "no reason given"
            if let message = condition.message, !message.isEmpty { text += ": " + PodDiagnosis.sentence(message).dropLast() }
            if let since = condition.lastTransitionTime { text += ", since \(since)" }
            return text
        }
        switch node.condition("Ready") {
        case nil:
            problems.append("it has never reported a Ready condition")
        case let ready? where ready.status == "False":
            problems.append("it is NotReady (\(detail(ready)))")
        case let ready? where ready.status != "True":
            problems.append("its kubelet has stopped reporting: Ready is \(ready.status) (\(detail(ready)))")
        default:
            break
        }
        for type in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            if let condition = node.condition(type), condition.status == "True" {
                problems.append("it has \(type) (\(detail(condition))) and may evict pods")
            }
        }
        if let network = node.condition("NetworkUnavailable"), network.status == "True" {
            problems.append("its network is not configured: NetworkUnavailable (\(detail(network)))")
        }
        return problems
    }

    /// The paragraph for the analysis (without events and previews, which need the API).
    var paragraph: String {
        var text = "Node \(name): "
        text += isTroubled ? problems.joined(separator: "; ") + "." : "Ready, with no memory, disk or PID pressure."
        text += cordoned ? " It is cordoned (unschedulable)." : " It is schedulable."
        let own = taints.filter { !$0.hasPrefix("node.kubernetes.io/unschedulable") }
        if !own.isEmpty { text += " Taints: " + own.joined(separator: ", ") + "." }
        if let requests { text += " Its pods request \(requests) of what it can allocate." }
        if !failingPods.isEmpty {
            text += " \(failingPods.count) of its pods \(failingPods.count == 1 ? "is" : "are") failing: "
                + DrainPlan.list(failingPods.map { "\($0.reference) (\($0.problem))" }) + "."
            let alone = failingHereAlone
            if !alone.isEmpty {
                text += " " + DrainPlan.list(alone.map(\.reference))
                    + (alone.count == 1 ? " has" : " have") + " healthy replicas on other nodes, so the failure follows this node."
            }
        }
        return text
    }
}
