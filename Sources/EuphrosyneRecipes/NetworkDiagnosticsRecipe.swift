import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import RecipeKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension BuiltinRecipes {
    /// `network-diagnostics` (debugging): for the Services an alert names (`namespace` + `service` labels), or those
    /// selecting the pod or Deployment it names, follows a request link by link (see `NetworkDiagnosis`) and says which
    /// link is broken: a selector that matches no pod, pods not Ready, a named `targetPort` the pods do not declare,
    /// EndpointSlices without a ready address, NetworkPolicies that close the port (to the alert's `source_namespace`
    /// / `source_pod` when it names one), or a name that does not resolve (checked only inside the cluster).
    ///
    /// Needs get and list on services and pods, list on endpointslices.discovery.k8s.io and
    /// networkpolicies.networking.k8s.io, and get on namespaces (see docs/workload-recipes.md). Settings:
    /// `NETWORK_DIAGNOSTICS_SUGGEST` (default `jira`, `none` for none), `NETWORK_DIAGNOSTICS_MAX_SERVICES` (default
    /// 5), `NETWORK_DIAGNOSTICS_CLUSTER_DOMAIN` (default `cluster.local`).
    @Sendable public static func networkDiagnostics(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await NetworkDiagnosticsRecipe(context: context).run()
    }
}

/// The I/O of `network-diagnostics`.
struct NetworkDiagnosticsRecipe {
    let context: RecipeContext
    typealias Reference = WorkloadTargets.Reference

    func run() async throws -> RecipeOutcome {
        let environment = context.environment
        let suggest = environment.suggestedActions("NETWORK_DIAGNOSTICS_SUGGEST", fallback: ["jira"])
        let maxServices = min(max(environment.value("NETWORK_DIAGNOSTICS_MAX_SERVICES").flatMap { Int($0) } ?? 5, 1), 20)
        let domain = environment.value("NETWORK_DIAGNOSTICS_CLUSTER_DOMAIN") ?? "cluster.local"
        let targets = WorkloadTargets(context.input, approverData: false)
        guard !targets.services.isEmpty || !targets.pods.isEmpty || !targets.deployments.isEmpty else {
            throw RecipeError.failed("no Service to follow: no firing alert has a namespace label with a service, pod or deployment label; \(context.input.alert.labelsSentence())")
        }
        return try await RecipeKubernetes.with(environment) { kubernetes in
            var notes: [String] = []
            var services = targets.services
            if services.isEmpty {
                services = try await servicesSelecting(targets, kubernetes, notes: &notes)
            }
            var paragraphs = notes
            var broken = false
            var reports: [JSONValue] = []
            for reference in services.prefix(maxServices) {
                let (paragraph, diagnosis) = try await diagnose(reference, domain: domain, kubernetes)
                paragraphs.append(paragraph)
                if let diagnosis {
                    broken = broken || diagnosis.brokenLink != nil
                    reports.append(.object(["service": .string(reference.description),
                                            "broken": diagnosis.brokenLink.map { .string($0.name) } ?? .null,
                                            "links": .array(diagnosis.links.map { .object(["name": .string($0.name), "ok": .bool($0.ok)]) })]))
                }
            }
            if services.count > maxServices {
                paragraphs.append("\(services.count - maxServices) more Services were not followed (NETWORK_DIAGNOSTICS_MAX_SERVICES is \(maxServices)).")
            }
            if let missing = kubernetes.missing.sentence(recipe: "network-diagnostics") { paragraphs.append(missing) }
            let analysis = paragraphs.joined(separator: "\n\n")
            guard !reports.isEmpty else { throw RecipeError.failed(analysis.isEmpty ? "no Service to follow" : analysis) }
            return RecipeOutcome(status: .successful, analysis: analysis, actions: broken ? suggest : [],
                                 json: String(decoding: OutboundHTTP.encode(.object(["services": .array(reports)])), as: UTF8.self))
        }
    }

    /// The Services of the alert's pods (or Deployments' pods): those whose selector matches the pods' labels.
    func servicesSelecting(_ targets: WorkloadTargets, _ kubernetes: RecipeKubernetes, notes: inout [String]) async throws -> [Reference] {
        var labelSets: [(namespace: String, labels: [String: String], what: String)] = []
        for pod in targets.pods.prefix(5) {
            do throws(KubernetesError) {
                let object = try await kubernetes.client.get(Pod.self, name: pod.name, namespace: pod.namespace)
                labelSets.append((pod.namespace, object.metadata.labels ?? [:], "pod \(pod)"))
            } catch {
                notes.append("Pod \(pod): cannot read it: \(try kubernetes.explain(error, verb: "get", resource: "pods", namespace: pod.namespace)).")
            }
        }
        for deployment in targets.deployments.prefix(5) {
            do throws(KubernetesError) {
                let object = try await kubernetes.client.get(Deployment.self, name: deployment.name, namespace: deployment.namespace)
                labelSets.append((deployment.namespace, object.spec?.template?.metadata?.labels ?? [:], "deployment \(deployment)"))
            } catch {
                notes.append("Deployment \(deployment): cannot read it: \(try kubernetes.explain(error, verb: "get", resource: "deployments.apps", namespace: deployment.namespace)).")
            }
        }
        var found: [Reference] = []
        for (namespace, labels, what) in labelSets {
            let services: [KubernetesService]
            do throws(KubernetesError) {
                services = try await kubernetes.client.list(KubernetesService.self, namespace: namespace).items
            } catch {
                notes.append("Cannot list the Services of \(namespace): \(try kubernetes.explain(error, verb: "list", resource: "services", namespace: namespace)).")
                continue
            }
            let selecting = services.filter { service in
                guard let selector = service.spec?.selector, !selector.isEmpty else { return false }
                return selector.allSatisfy { labels[$0.key] == $0.value }
            }
            if selecting.isEmpty { notes.append("No Service in \(namespace) selects \(what), so no traffic reaches it through a Service.") }
            for service in selecting {
                let reference = Reference(namespace: namespace, name: service.metadata.name ?? "?")
                if !found.contains(reference) { found.append(reference) }
            }
        }
        return found
    }

    /// One Service's paragraph, and its diagnosis when the Service could be read.
    func diagnose(_ reference: Reference, domain: String, _ kubernetes: RecipeKubernetes) async throws -> (String, NetworkDiagnosis?) {
        let namespace = reference.namespace
        let service: KubernetesService
        do throws(KubernetesError) {
            service = try await kubernetes.client.get(KubernetesService.self, name: reference.name, namespace: namespace)
        } catch {
            let why = try kubernetes.explain(error, verb: "get", resource: "services", namespace: namespace)
            return ("Service \(reference): cannot read it: \(why)." + (error.isNotFound ? " The alert names a Service that does not exist: check its name and namespace." : ""), nil)
        }
        var notes: [String] = []
        func read<Value>(_ what: String, _ verb: String, _ resource: String, _ fallback: Value,
                         _ body: () async throws(KubernetesError) -> Value) async throws -> Value {
            do throws(KubernetesError) {
                return try await body()
            } catch {
                notes.append("Its \(what) could not be read: \(try kubernetes.explain(error, verb: verb, resource: resource, namespace: namespace)).")
                return fallback
            }
        }
        let pods = try await read("pods", "list", "pods", []) { () throws(KubernetesError) in
            try await kubernetes.client.list(Pod.self, namespace: namespace).items
        }
        let slices = try await read("EndpointSlices", "list", "endpointslices.discovery.k8s.io", []) { () throws(KubernetesError) in
            try await kubernetes.client.list(EndpointSlice.self, namespace: namespace,
                                             labelSelector: "\(EndpointSlice.serviceNameLabel)=\(reference.name)").items
        }
        let policies = try await read("NetworkPolicies", "list", "networkpolicies.networking.k8s.io", []) { () throws(KubernetesError) in
            try await kubernetes.client.list(NetworkPolicy.self, namespace: namespace).items
        }
        let source = try await self.source(kubernetes, notes: &notes)
        var namespaceLabels: [String: [String: String]] = [:]
        if let source {
            namespaceLabels[source.namespace] = try await read("namespace's labels", "get", "namespaces", [:]) { () throws(KubernetesError) in
                try await kubernetes.client.get(Namespace.self, name: source.namespace, namespace: nil).metadata.labels ?? [:]
            }
        }
        let host = "\(reference.name).\(namespace).svc.\(domain)"
        let lookup: NetworkDiagnosis.NameLookup
        if context.environment.value("KUBERNETES_SERVICE_HOST") == nil {
            lookup = .notChecked("the recipe does not run in the cluster")
        } else {
            lookup = await Self.resolve(host)
        }
        let diagnosis = NetworkDiagnosis(service: service, pods: pods, slices: slices,
                                         policies: NetworkPolicyCheck(policies: policies, namespaceLabels: namespaceLabels),
                                         source: source, lookup: lookup)
        return (([diagnosis.paragraph] + notes).joined(separator: " "), diagnosis)
    }

    /// The alert's `source_namespace` and `source_pod` (the client whose traffic fails), read for its labels and IP.
    func source(_ kubernetes: RecipeKubernetes, notes: inout [String]) async throws -> NetworkPolicyCheck.Source? {
        let labels = WorkloadTargets.labelSets(context.input.alert).first ?? [:]
        guard let namespace = labels["source_namespace"], !namespace.isEmpty else { return nil }
        guard let name = labels["source_pod"], !name.isEmpty else {
            return NetworkPolicyCheck.Source(namespace: namespace, labels: [:], ip: nil, description: "pods of namespace \(namespace)")
        }
        do throws(KubernetesError) {
            let pod = try await kubernetes.client.get(Pod.self, name: name, namespace: namespace)
            return NetworkPolicyCheck.Source(namespace: namespace, labels: pod.metadata.labels ?? [:], ip: pod.status?.podIP,
                                             description: "pod \(namespace)/\(name)")
        } catch {
            notes.append("The source pod \(namespace)/\(name) could not be read: \(try kubernetes.explain(error, verb: "get", resource: "pods", namespace: namespace)).")
            return nil
        }
    }

    /// Resolves `host` with the system resolver (the pod's `resolv.conf`), on a thread of its own so a slow DNS
    /// server blocks no task; gives up after 5 s.
    static func resolve(_ host: String) async -> NetworkDiagnosis.NameLookup {
        await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            let thread = Thread {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, nil, &hints, &result)
                guard status == 0 else {
                    once.resume(.failed(name: host, reason: String(cString: gai_strerror(status))))
                    return
                }
                var addresses: [String] = []
                var entry = result
                while let current = entry {
                    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                                   NI_NUMERICHOST) == 0 {
                        let address = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        if !addresses.contains(address) { addresses.append(address) }
                    }
                    entry = current.pointee.ai_next
                }
                freeaddrinfo(result)
                once.resume(.resolved(name: host, addresses: addresses))
            }
            thread.start()
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                once.resume(.failed(name: host, reason: "no answer within 5 s"))
            }
        }
    }
}

/// Resumes a continuation once, whichever of the resolver thread and the timer gets there first.
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<NetworkDiagnosis.NameLookup, Never>?>

    init(_ continuation: CheckedContinuation<NetworkDiagnosis.NameLookup, Never>) { self.continuation = Mutex(continuation) }

    func resume(_ value: NetworkDiagnosis.NameLookup) {
        continuation.withLock { pending in
            let taken = pending
            pending = nil
            return taken
        }?.resume(returning: value)
    }
}
