import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `pod-diagnostics` (debugging): for each firing alert with `namespace` and `pod` labels (or `namespace` and
    /// `deployment`: the Deployment's pods, through its selector), reads the pod's status, its recent events
    /// (warnings first) and the tail of its failing container's log from the Kubernetes API, and says what is wrong
    /// in one paragraph per pod: CrashLoopBackOff, OOMKilled, an image that cannot be pulled, Pending and why it
    /// cannot be scheduled, a container that cannot be created, or running but restarting.
    ///
    /// The API is the pod's own (its ServiceAccount, which needs get/list on pods, pods/log and events: see
    /// docs/recipes.md), else the kubeconfig of `KUBECONFIG` or `~/.kube/config`. Settings: `POD_DIAGNOSTICS_SUGGEST`
    /// (comma-separated actions suggested when something is wrong, default `jira`, `none` for none),
    /// `POD_DIAGNOSTICS_LOG_LINES` (default 20), `POD_DIAGNOSTICS_LOG_BYTES` (default 4096),
    /// `POD_DIAGNOSTICS_MAX_PODS` (default 10).
    @Sendable public static func podDiagnostics(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await PodDiagnosticsRecipe(context: context).run()
    }
}

/// The I/O of `pod-diagnostics`: which pods the alert names, and what the API says about them.
struct PodDiagnosticsRecipe {
    /// A pod, or a Deployment whose pods to inspect, named by an alert's labels.
    struct Target: Hashable {
        enum Kind: Hashable {
            case pod
            case deployment
        }

        var kind: Kind
        var namespace: String
        var name: String
        /// The alert's `container` label, if any: the container whose log to prefer.
        var container: String?
    }

    /// One inspected pod (or a target that could not be inspected), as it goes into the analysis and the JSON.
    struct Report: Encodable {
        var namespace: String
        var pod: String?
        var deployment: String?
        /// The worst problem found, `Healthy`, or `NotInspected`.
        var problem: String
        var paragraph: String
        var inspected: Bool

        enum CodingKeys: String, CodingKey {
            case namespace, pod, deployment, problem, inspected
        }
    }

    struct Settings {
        var suggest: [String]
        var logLines: Int
        var logBytes: Int
        var maxPods: Int
        var eventsShown = 5

        init(_ environment: RecipeEnvironment) {
            suggest = environment.suggestedActions("POD_DIAGNOSTICS_SUGGEST", fallback: ["jira"])
            func number(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
                let value = environment.value(name).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? fallback
                return min(max(value, range.lowerBound), range.upperBound)
            }
            logLines = number("POD_DIAGNOSTICS_LOG_LINES", 20, 1...500)
            logBytes = number("POD_DIAGNOSTICS_LOG_BYTES", 4096, 256...262_144)
            maxPods = number("POD_DIAGNOSTICS_MAX_PODS", 10, 1...100)
        }
    }

    let context: RecipeContext
    let settings: Settings

    init(context: RecipeContext) {
        self.context = context
        settings = Settings(context.environment)
    }

    // MARK: Targets

    /// The pods and Deployments the alert names, in order, without repeats; or why there are none.
    static func targets(of notification: AlertNotification) throws(RecipeError) -> [Target] {
        guard notification.source != .generic else {
            throw .failed("the alert is a generic JSON payload, not an Alertmanager or Grafana notification, so it has no namespace and pod (or deployment) labels to find pods by")
        }
        let alerts = notification.firingAlerts.isEmpty ? notification.alerts : notification.firingAlerts
        var targets: [Target] = []
        for alert in alerts {
            let labels = notification.commonLabels.merging(alert.labels) { _, own in own }
            guard let namespace = labels["namespace"], !namespace.isEmpty else { continue }
            let target: Target
            if let pod = labels["pod"], !pod.isEmpty {
                target = Target(kind: .pod, namespace: namespace, name: pod, container: labels["container"])
            } else if let deployment = labels["deployment"], !deployment.isEmpty {
                target = Target(kind: .deployment, namespace: namespace, name: deployment, container: labels["container"])
            } else {
                continue
            }
            if !targets.contains(target) { targets.append(target) }
        }
        guard targets.isEmpty else { return targets }
        throw .failed("no firing alert has a namespace label with a pod or deployment label, so there is no pod to diagnose; \(notification.labelsSentence(of: alerts))")
    }

    // MARK: Run

    func run() async throws -> RecipeOutcome {
        let targets = try Self.targets(of: context.input.alert)
        return try await RecipeKubernetes.with(context.environment) { kubernetes in
            try await diagnose(targets, kubernetes: kubernetes)
        }
    }

    func diagnose(_ targets: [Target], kubernetes: RecipeKubernetes) async throws -> RecipeOutcome {
        var reports: [Report] = []
        var skipped = 0
        for target in targets {
            let remaining = settings.maxPods - reports.filter { $0.pod != nil }.count
            guard remaining > 0 else {
                skipped += 1
                continue
            }
            switch target.kind {
            case .pod:
                reports.append(try await inspectPod(named: target.name, in: target.namespace, container: target.container,
                                                    kubernetes: kubernetes))
            case .deployment:
                reports += try await inspectDeployment(target, limit: remaining, kubernetes: kubernetes)
            }
        }

        var paragraphs = reports.map(\.paragraph)
        if skipped > 0 {
            paragraphs.append("\(skipped) more of the alert's pods or deployments were not inspected (POD_DIAGNOSTICS_MAX_PODS is \(settings.maxPods)).")
        }
        if let missing = kubernetes.missing.sentence(recipe: "pod-diagnostics") { paragraphs.append(missing) }
        let analysis = paragraphs.joined(separator: "\n\n")
        guard reports.contains(where: \.inspected) else { throw RecipeError.failed(analysis) }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(["pods": reports])).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let troubled = reports.contains { $0.problem != "Healthy" }
        return RecipeOutcome(status: .successful, analysis: analysis, actions: troubled ? settings.suggest : [], json: json)
    }

    // MARK: Reading the API

    func inspectPod(
        named name: String, in namespace: String, container: String?, kubernetes: RecipeKubernetes
    ) async throws -> Report {
        let pod: Pod
        do throws(KubernetesError) {
            pod = try await kubernetes.client.get(Pod.self, name: name, namespace: namespace)
        } catch {
            let why = try kubernetes.explain(error, verb: "get", resource: "pods", namespace: namespace)
            let hint = error.isNotFound ? " It may have been deleted or replaced since the alert fired (a Deployment's pods get new names)." : ""
            return Report(namespace: namespace, pod: name, problem: "NotInspected",
                          paragraph: "Pod \(namespace)/\(name): cannot read it: \(why).\(hint)", inspected: false)
        }
        return try await report(pod, namespace: namespace, container: container, kubernetes: kubernetes)
    }

    func inspectDeployment(
        _ target: Target, limit: Int, kubernetes: RecipeKubernetes
    ) async throws -> [Report] {
        let namespace = target.namespace
        func notInspected(_ text: String) -> [Report] {
            [Report(namespace: namespace, deployment: target.name, problem: "NotInspected",
                    paragraph: "Deployment \(namespace)/\(target.name): \(text)", inspected: false)]
        }
        let deployment: Deployment
        do throws(KubernetesError) {
            deployment = try await kubernetes.client.get(Deployment.self, name: target.name, namespace: namespace)
        } catch {
            let why = try kubernetes.explain(error, verb: "get", resource: "deployments.apps", namespace: namespace)
            return notInspected("cannot read it: \(why).")
        }
        guard let selector = deployment.spec?.selector?.queryString else {
            return notInspected("its selector is empty or uses an operator this recipe does not know, so its pods cannot be listed.")
        }
        let pods: [Pod]
        do throws(KubernetesError) {
            pods = try await kubernetes.client.list(Pod.self, namespace: namespace, labelSelector: selector).items
        } catch {
            let why = try kubernetes.explain(error, verb: "list", resource: "pods", namespace: namespace)
            return notInspected("cannot list its pods (\(selector)): \(why).")
        }

        let wanted = deployment.spec?.replicas ?? 1
        let available = deployment.status?.availableReplicas ?? 0
        var header = "Deployment \(namespace)/\(target.name): \(available) of \(wanted) replicas available, \(pods.count) pod\(pods.count == 1 ? "" : "s")."
        let conditions = (deployment.status?.conditions ?? []).filter {
            ($0.type == "ReplicaFailure" && $0.status == "True") || ($0.type != "ReplicaFailure" && $0.status == "False")
        }
        for condition in conditions {
            header += " \(condition.type) \(condition.status == "True" ? "" : "is False ")(\(condition.reason ?? "no reason"))"
            header += condition.message.map { ": " + PodDiagnosis.sentence($0) } ?? "."
        }
        // The pods worth reading first: the unhealthy ones, the worst first.
        let ranked = pods.map { ($0, PodDiagnosis($0, preferredContainer: target.container)) }
            .sorted { lhs, rhs in
                (lhs.1.findings.first?.severity ?? Int.max, lhs.0.metadata.name ?? "")
                    < (rhs.1.findings.first?.severity ?? Int.max, rhs.0.metadata.name ?? "")
            }
        if ranked.count > limit { header += " The \(limit) least healthy are shown." }
        let troubled = pods.isEmpty || available < wanted || !conditions.isEmpty
        var reports = [Report(namespace: namespace, deployment: target.name, problem: troubled ? "Unavailable" : "Healthy",
                              paragraph: header, inspected: true)]
        for (pod, _) in ranked.prefix(limit) {
            reports.append(try await report(pod, namespace: namespace, container: target.container, kubernetes: kubernetes))
        }
        return reports
    }

    /// The paragraph about one pod: what is wrong, its events, its log tail.
    func report(
        _ pod: Pod, namespace: String, container: String?, kubernetes: RecipeKubernetes
    ) async throws -> Report {
        let name = pod.metadata.name ?? "?"
        let diagnosis = PodDiagnosis(pod, preferredContainer: container)
        var paragraph = "Pod \(namespace)/\(name)"
        if diagnosis.isHealthy {
            paragraph += " looks healthy: \(diagnosis.healthSummary)."
        } else {
            paragraph += " (\(pod.status?.phase ?? "Unknown")): " + diagnosis.findings.map(\.text).joined(separator: " ")
        }

        // Events: warnings first, then the most recent; those the findings already quote are left out.
        var events: [KubernetesEvent] = []
        do throws(KubernetesError) {
            events = try await kubernetes.client.list(KubernetesEvent.self, namespace: namespace,
                                           fieldSelector: "involvedObject.kind=Pod,involvedObject.name=\(name)").items
        } catch {
            let why = try kubernetes.explain(error, verb: "list", resource: "events", namespace: namespace)
            paragraph += " (Its events could not be read: \(why).)"
        }
        if let uid = pod.metadata.uid {
            events = events.filter { $0.involvedObject?.uid == nil || $0.involvedObject?.uid == uid }
        }
        events.sort { lhs, rhs in
            if lhs.isWarning != rhs.isWarning { return lhs.isWarning }
            return Self.time(lhs.lastSeen) > Self.time(rhs.lastSeen)
        }
        if !diagnosis.unpullableImages.isEmpty,
           let pull = events.first(where: { event in
               event.isWarning && diagnosis.unpullableImages.contains { event.message?.contains($0) == true }
           }), let message = pull.message {
            paragraph += " The kubelet says: " + PodDiagnosis.sentence(message)
        }
        let fresh = events.filter { event in
            guard let message = event.message, !message.isEmpty else { return true }
            return !paragraph.contains(PodDiagnosis.sentence(message).dropLast())
        }
        let shown = diagnosis.isHealthy ? fresh.filter(\.isWarning) : fresh
        if !shown.isEmpty {
            let lines = shown.prefix(settings.eventsShown).map(\.summaryLine)
            paragraph += " Recent events: " + lines.joined(separator: " ")
            if shown.count > settings.eventsShown { paragraph += " (\(shown.count - settings.eventsShown) more.)" }
        }

        if let log = diagnosis.log {
            let which = log.previous ? "before its last restart" : "current"
            do throws(KubernetesError) {
                let text = try await kubernetes.client.podLog(name: name, namespace: namespace, container: log.container,
                                                   tailLines: settings.logLines, limitBytes: settings.logBytes,
                                                   previous: log.previous)
                let tail = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if tail.isEmpty {
                    paragraph += " The log of \"\(log.container)\" (\(which)) is empty."
                } else {
                    paragraph += "\nLast log lines of \"\(log.container)\" (\(which)):\n```\n\(tail)\n```"
                }
            } catch {
                let why: String
                if error.statusCode == 400 {
                    why = error.message
                } else {
                    why = try kubernetes.explain(error, verb: "get", resource: "pods/log", namespace: namespace)
                }
                paragraph += " Its log (\"\(log.container)\", \(which)) could not be read: \(why)."
            }
        }
        return Report(namespace: namespace, pod: name, problem: diagnosis.problem ?? "Healthy", paragraph: paragraph,
                      inspected: true)
    }

    static func time(_ text: String?) -> Date {
        text.flatMap(RFC3339.parse) ?? .distantPast
    }
}
