import EuphrosyneCore
import EuphrosyneKubernetes
import Foundation

/// What is wrong with one pod, judged from its status alone (no I/O): the `pod-diagnostics` recipe reads the pod,
/// asks this for findings and for the container whose log is worth showing, then adds events and the log tail.
struct PodDiagnosis: Sendable, Hashable {
    /// One thing wrong, worst first in `findings`.
    struct Finding: Sendable, Hashable {
        /// A short machine-readable name: `CrashLoopBackOff`, `OOMKilled`, `ImagePullBackOff`, `Unschedulable`…
        var problem: String
        /// One or two sentences for humans.
        var text: String
        /// Lower is worse; orders findings and picks the log to show.
        var severity: Int
    }

    /// The container whose log to show, and whether from its previous (terminated) instance.
    struct LogChoice: Sendable, Hashable {
        var container: String
        var previous: Bool
    }

    var findings: [Finding]
    var log: LogChoice?
    /// The images the pod cannot pull: the kubelet's pull events about them are quoted in the finding.
    var unpullableImages: [String]
    /// For a healthy pod: the phase and readiness, e.g. `Running, 2/2 containers ready, no restarts`.
    var healthSummary: String

    var isHealthy: Bool { findings.isEmpty }
    /// The worst problem, or nil for a healthy pod.
    var problem: String? { findings.first?.problem }

    static let pullReasons: Set<String> = [
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable",
        "SignatureValidationFailed",
    ]
    static let createReasons: Set<String> = [
        "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreCreateHookError",
        "PreStartHookError", "PostStartHookError",
    ]

    /// Diagnoses `pod`; `preferredContainer` (the alert's `container` label) wins when choosing the log to show.
    init(_ pod: Pod, preferredContainer: String? = nil) {
        var findings: [Finding] = []
        var logCandidates: [(severity: Int, choice: LogChoice)] = []
        var unpullable: [String] = []
        let status = pod.status
        let phase = status?.phase ?? "Unknown"
        let conditions = status?.conditions ?? []
        let specContainers = pod.spec?.containers ?? []

        if let deleting = pod.metadata.deletionTimestamp {
            findings.append(Finding(problem: "Terminating", text: "It is being deleted (since \(deleting)).", severity: 60))
        }
        switch phase {
        case "Pending":
            if let scheduled = conditions.first(where: { $0.type == "PodScheduled" }), scheduled.status == "False" {
                let reason = scheduled.reason ?? "Unschedulable"
                var text = "It cannot be scheduled (\(reason))"
                if let message = scheduled.message, !message.isEmpty { text += ": " + Self.sentence(message) } else { text += "." }
                let requests = specContainers.compactMap { container -> String? in
                    guard let requests = container.resources?.requests, !requests.isEmpty else { return nil }
                    return "\"\(container.name)\" requests " + requests.sorted { $0.key < $1.key }
                        .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                }
                if !requests.isEmpty { text += " Its containers' requests: " + requests.joined(separator: "; ") + "." }
                findings.append(Finding(problem: reason, text: text, severity: 10))
            } else if (status?.containerStatuses ?? []).isEmpty, !conditions.contains(where: { $0.type == "PodScheduled" }) {
                findings.append(Finding(problem: "Pending", text: "It is Pending and has not been scheduled yet.", severity: 70))
            }
        case "Failed":
            let reason = status?.reason ?? "Failed"
            var text = "It has failed (\(reason))"
            if let message = status?.message, !message.isEmpty { text += ": " + Self.sentence(message) } else { text += "." }
            findings.append(Finding(problem: reason, text: text, severity: 20))
        case "Unknown":
            findings.append(Finding(problem: "Unknown",
                                    text: "Its phase is Unknown: the node running it stopped reporting.", severity: 30))
        default:
            break
        }

        let statuses = (status?.initContainerStatuses ?? []).map { (isInit: true, status: $0) }
            + (status?.containerStatuses ?? []).map { (isInit: false, status: $0) }
        for (isInit, container) in statuses {
            let name = (isInit ? "init container " : "container ") + "\"\(container.name)\""
            let restarts = container.restartCount ?? 0
            let waiting = container.state?.waiting
            let running = container.state?.running
            let terminatedNow = container.state?.terminated
            let last = container.lastState?.terminated
            let memoryLimit = specContainers.first { $0.name == container.name }?.resources?.limits?["memory"]
            let image = container.image ?? specContainers.first { $0.name == container.name }?.image

            if let reason = waiting?.reason, reason == "CrashLoopBackOff" {
                var text = "Its \(name) is in CrashLoopBackOff, restarted \(Self.times(restarts))."
                var problem = "CrashLoopBackOff"
                if let last {
                    if last.reason == "OOMKilled" {
                        problem = "OOMKilled"
                        text += " " + Self.oomSentence(last, limit: memoryLimit)
                    } else {
                        text += " " + Self.exitSentence(last)
                    }
                }
                findings.append(Finding(problem: problem, text: text, severity: 40))
                logCandidates.append((40, LogChoice(container: container.name, previous: last != nil || restarts > 0)))
            } else if let reason = waiting?.reason, Self.pullReasons.contains(reason) {
                var text = "Its \(name) cannot pull its image" + (image.map { " \"\($0)\"" } ?? "") + " (\(reason))"
                if let message = waiting?.message, !message.isEmpty { text += ": " + Self.sentence(message) } else { text += "." }
                if let image { unpullable.append(image) }
                findings.append(Finding(problem: reason, text: text, severity: 20))
            } else if let reason = waiting?.reason, Self.createReasons.contains(reason) {
                var text = "Its \(name) cannot be created (\(reason))"
                if let message = waiting?.message, !message.isEmpty { text += ": " + Self.sentence(message) } else { text += "." }
                findings.append(Finding(problem: reason, text: text, severity: 20))
            } else if let terminatedNow, terminatedNow.reason == "OOMKilled" {
                findings.append(Finding(problem: "OOMKilled", text: "Its \(name) " + Self.oomSentence(terminatedNow, limit: memoryLimit)
                                            .dropFirst("It ".count), severity: 40))
                logCandidates.append((40, LogChoice(container: container.name, previous: false)))
            } else if let terminatedNow, terminatedNow.exitCode != 0, !isInit || phase != "Running" {
                let text = "Its \(name) has terminated. " + Self.exitSentence(terminatedNow)
                findings.append(Finding(problem: terminatedNow.reason ?? "Error", text: text, severity: 45))
                logCandidates.append((45, LogChoice(container: container.name, previous: false)))
            } else if running != nil, restarts > 0 {
                var text = "Its \(name) is running but has restarted \(Self.times(restarts))."
                var problem = "Restarting"
                if let last {
                    if last.reason == "OOMKilled" {
                        problem = "OOMKilled"
                        text += " " + Self.oomSentence(last, limit: memoryLimit)
                    } else {
                        text += " " + Self.exitSentence(last)
                    }
                }
                findings.append(Finding(problem: problem, text: text, severity: problem == "OOMKilled" ? 45 : 50))
                logCandidates.append((50, LogChoice(container: container.name, previous: last != nil)))
            } else if running != nil, container.ready == false, !isInit {
                findings.append(Finding(problem: "NotReady",
                                        text: "Its \(name) is running but not ready: its readiness probe fails or it is still starting.",
                                        severity: 55))
                logCandidates.append((55, LogChoice(container: container.name, previous: false)))
            } else if let reason = waiting?.reason, phase != "Succeeded" {
                var text = "Its \(name) is waiting (\(reason))"
                if let message = waiting?.message, !message.isEmpty { text += ": " + Self.sentence(message) } else { text += "." }
                findings.append(Finding(problem: reason, text: text, severity: 65))
            }
        }

        if findings.isEmpty, phase == "Pending" {
            findings.append(Finding(problem: "Pending",
                                    text: "It is Pending: scheduled, but its containers are not running yet.", severity: 70))
        }
        self.findings = findings.enumerated().sorted { ($0.element.severity, $0.offset) < ($1.element.severity, $1.offset) }
            .map(\.element)
        if let preferredContainer, let preferred = logCandidates.first(where: { $0.choice.container == preferredContainer }) {
            log = preferred.choice
        } else {
            log = logCandidates.min { $0.severity < $1.severity }?.choice
        }
        unpullableImages = unpullable
        let ready = (status?.containerStatuses ?? []).filter { $0.ready == true }.count
        let total = max(specContainers.count, status?.containerStatuses?.count ?? 0)
        let restarts = (status?.containerStatuses ?? []).reduce(0) { $0 + ($1.restartCount ?? 0) }
        healthSummary = phase == "Succeeded" ? "Succeeded, its containers have completed"
            : "\(phase), \(ready)/\(total) containers ready, "
            + (restarts == 0 ? "no restarts" : restarts == 1 ? "1 restart" : "\(restarts) restarts")
    }

    static func times(_ count: Int) -> String { count == 1 ? "once" : "\(count) times" }

    /// `It last exited with code 1 (Error) at 2026-…, signal 9.`
    static func exitSentence(_ terminated: Pod.ContainerState.Terminated) -> String {
        var text = "It last exited with code \(terminated.exitCode)"
        if let reason = terminated.reason, !reason.isEmpty { text += " (\(reason))" }
        if let finished = terminated.finishedAt { text += " at \(finished)" }
        text += "."
        if let message = terminated.message?.trimmingCharacters(in: .whitespacesAndNewlines), !message.isEmpty {
            text += " Its termination message: " + sentence(message)
        }
        return text
    }

    static func oomSentence(_ terminated: Pod.ContainerState.Terminated, limit: String?) -> String {
        var text = "It was killed for using too much memory (OOMKilled, exit code \(terminated.exitCode)"
        if let finished = terminated.finishedAt { text += ", at \(finished)" }
        text += ")"
        if let limit {
            text += "; its memory limit is \(limit)."
        } else {
            text += "; it has no memory limit, so the node itself ran short of memory."
        }
        return text
    }

    /// A message as a sentence: one line, ending with a full stop.
    static func sentence(_ message: String) -> String {
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        guard let last = line.last else { return "" }
        return ".!?".contains(last) ? line : line + "."
    }
}

extension KubernetesEvent {
    /// One event for an analysis: `Warning BackOff (×12) at 2026-11-28T21:13:44Z: Back-off restarting failed container.`
    var summaryLine: String {
        var line = "\(type ?? "Normal") \(reason ?? "")"
        if occurrences > 1 { line += " (×\(occurrences))" }
        if let seen = lastSeen { line += " at \(seen)" }
        return line + ": " + PodDiagnosis.sentence(message ?? "")
    }
}
