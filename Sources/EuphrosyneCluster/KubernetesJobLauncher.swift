import EuphrosyneCore
import EuphrosyneKubernetes
import EuphrosynePorts
import EuphrosyneSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs each recipe as a Kubernetes Job, for cluster mode, exactly as the original system did (the contract in docs/recipes.md): a data
/// ConfigMap per incident (per action for action recipes) holding `data.json`, mounted at `/app`, and one Job per run
/// with `generateName: <recipe>-`, the labels `app`, `recipe`, `uuid`, the `description` annotation,
/// `restartPolicy: Never`, `backoffLimit: 0`, the Jira variables from Secret `euphrosyne-keys`, and the entrypoint
/// followed by exactly the three original flags.
///
/// Beyond the original: `activeDeadlineSeconds` (the recipe timeout), `ttlSecondsAfterFinished` as a backstop, the
/// data ConfigMap as owner of its Jobs (deleting it cleans up), `app.kubernetes.io/*` labels, and a hardened pod:
/// non-root (uid 65532 unless the registry's `runAsUser` says otherwise), RuntimeDefault seccomp, no privilege
/// escalation, no capabilities, a read-only root filesystem with a small writable `/tmp`, no service-account token
/// unless the recipe names a `serviceAccountName`, and default requests and limits the registry's `resources` override
/// key by key. Every Job gets the Redis credentials recipes report with (`REDIS_USERNAME`, `REDIS_PASSWORD` from a
/// Secret), and the registry's `secretEnv` replaces the Jira variables for recipes that declare it.
///
/// Beside each data ConfigMap the launcher creates a Secret of the same name, owned by it, holding the incident's
/// result key; the Job reads it as `EUPHROSYNE_RESULT_KEY` through `secretKeyRef`, so the key never appears in a Job
/// spec that anyone allowed to read Jobs can see.
///
/// Jobs and their pods are followed through informers (no polling): a failed Job, or a pod that cannot start (image
/// pull error, missing Secret), ends the run at once with the tail of its pod log.
///
/// The requests that must not be cut short by a run's cancellation (creating a run's objects, deleting its Job,
/// finding a Job to follow again) go through a `CancellationShield` that `run()` hosts.
public final class KubernetesJobLauncher: RecipeLauncher, Service {
    public struct Settings: Sendable {
        /// Where Jobs and data ConfigMaps are created (`--recipe-namespace`).
        public var namespace: String
        /// Finished Jobs are deleted by Kubernetes after this long even if the reconciler never cleans them up.
        public var ttlSecondsAfterFinished: Int
        /// The Secret the Jira variables come from.
        public var keysSecret: String
        /// How long past its `activeDeadlineSeconds` a Job may take to say it failed before the launcher stops it
        /// itself.
        public var deadlineGrace: Duration
        /// On shutdown, leave Jobs running (their results come over Redis to the next reconciler).
        public var leavesRunsRunningWhenCancelled: Bool
        /// `REDIS_USERNAME` of every Job, the ACL user recipes report as (`--recipe-redis-username`); nil: none.
        public var redisUsername: String?
        /// The Secret whose `recipe-password` key becomes every Job's `REDIS_PASSWORD` (`--recipe-redis-secret`);
        /// optional in the pod, so a deployment without it keeps working against an open Redis. Nil: none.
        public var redisPasswordSecret: String?

        public init(namespace: String, ttlSecondsAfterFinished: Int = 3_600, keysSecret: String = "euphrosyne-keys",
                    deadlineGrace: Duration = .seconds(30), leavesRunsRunningWhenCancelled: Bool = true,
                    redisUsername: String? = "euphrosyne-recipe", redisPasswordSecret: String? = "euphrosyne-redis") {
            self.namespace = namespace
            self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
            self.keysSecret = keysSecret
            self.deadlineGrace = deadlineGrace
            self.leavesRunsRunningWhenCancelled = leavesRunsRunningWhenCancelled
            self.redisUsername = redisUsername
            self.redisPasswordSecret = redisPasswordSecret
        }
    }

    /// The key of `Settings.redisPasswordSecret` that holds the recipes' Redis password.
    public static let redisPasswordKey = "recipe-password"
    /// The key of a run's result-key Secret.
    public static let resultKeyKey = "result-key"
    /// The variable a recipe finds its result key in (RecipeKit signs with it).
    public static let resultKeyVariable = "EUPHROSYNE_RESULT_KEY"
    /// The uid and gid recipe pods run as unless the registry's `runAsUser` says otherwise: the `nonroot` user of
    /// distroless images, and in other images a uid nobody else has (not root, and owning none of the image's files).
    public static let defaultUserID = 65532
    /// Requests and limits of a recipe container without them in the registry: enough for a recipe that queries an
    /// API and reports, small enough that a storm of them does not starve the node.
    public static let defaultResources = RecipeResources(requests: ["cpu": "50m", "memory": "64Mi"],
                                                         limits: ["cpu": "500m", "memory": "256Mi"])

    /// Where the data file is mounted, and the path recipes are given.
    public static let mountPath = "/app"
    public static let dataFilePath = "/app/data.json"
    /// The label every object of ours carries, as in the original system.
    public static let selector = "app=euphrosyne"
    /// Waiting reasons of a container that will not start by itself.
    static let fatalWaitingReasons: Set<String> = [
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
        "ErrImageNeverPull",
    ]

    public let settings: Settings
    let client: KubernetesClient
    private let logger: Logger
    private let jobs: Informer<Job>
    private let pods: Informer<Pod>
    /// The diagnosis' data ConfigMap of each incident, being or already created, so its debugging runs share one.
    /// (Each action run has a ConfigMap of its own: nothing to share.)
    let diagnosisData = OncePerKey<UUID, ConfigMap>()
    /// Where the requests run that a run's cancellation must not cut short. Each recipe run has at most one there
    /// at a time (its creation, the look-up of a run followed again, its Job's deletion), so the run cap bounds it.
    let shield = CancellationShield()
    /// What the launcher's own deadline (a run's timeout plus `deadlineGrace`) is measured on.
    private let clock: any Clock<Duration>
    /// The time now, for what is left of a run followed again after a restart (its deadline is a date).
    private let now: @Sendable () -> Date
    /// Jobs this launcher created whose runs are still being followed, by name: the Job cache may trail a Job
    /// created a moment ago, and `/api/status` must still name it (not the run).
    private let createdJobs = Mutex<[String: Job]>([:])

    public init(client: KubernetesClient, settings: Settings,
                logger: Logger = Logger(label: "euphrosyne.launcher.kubernetes"),
                clock: any Clock<Duration> = ContinuousClock(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
        self.client = client
        self.settings = settings
        self.logger = logger
        self.clock = clock
        jobs = Informer(client: client, namespace: settings.namespace, labelSelector: Self.selector, logger: logger)
        pods = Informer(client: client, namespace: settings.namespace, labelSelector: Self.selector,
                        key: { $0.metadata.labels?["batch.kubernetes.io/job-name"] ?? $0.metadata.labels?["job-name"] },
                        logger: logger)
    }

    /// Follows the Jobs and pods of the recipe namespace, and hosts the shielded requests. On a graceful shutdown
    /// (the coordinator, which stops first, sends no more) the requests under way finish before it returns.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.jobs.run() }
            group.addTask { try await self.pods.run() }
            group.addTask {
                await withGracefulShutdownHandler {
                    await self.shield.run()
                } onGracefulShutdown: {
                    self.shield.finish()
                }
            }
        }
    }

    // MARK: - RecipeLauncher

    public func run(_ request: LaunchRequest, started: @escaping @Sendable () async -> Void) async -> RunExit {
        var logger = self.logger
        logger[metadataKey: "incident"] = "\(request.incidentID.uuidString.lowercased())"
        logger[metadataKey: "recipe"] = "\(request.recipe.name)"
        guard request.recipe.image != nil else {
            return .launchFailed(reason: "the recipe has no image, which a Job needs")
        }
        let created: Job
        switch await createObjects(for: request) {
        case .success(let job): created = job
        case .failure(let failure): return .launchFailed(reason: failure.reason)
        }
        guard let name = created.metadata.name else { return .launchFailed(reason: "the API returned a Job without a name") }
        logger[metadataKey: "job"] = "\(name)"
        logger.debug("recipe Job created")
        createdJobs.withLock { $0[name] = created }
        await started()
        let exit = await follow(name, timeout: request.timeout, cancellation: request.cancellation,
                                hasReported: request.hasReported, logger: logger)
        createdJobs.withLock { $0[name] = nil }
        return exit
    }

    /// A run's Job and data ConfigMap are named after it: a repeated launch finds them (409) and follows the Job.
    public var findsRepeatedLaunches: Bool { true }

    public func reattach(
        incident: UUID, run: RecipeRun, until deadline: Date, cancellation: RunCancellation
    ) async -> RunExit? {
        await jobs.waitUntilSynced()
        let id = incident.uuidString.lowercased()
        var job = await jobs.all.first(where: {
            $0.metadata.labels?["uuid"] == id && $0.metadata.labels?["euphrosyne.io/run"] == String(run.id)
        })
        if job == nil {
            // The cache may trail a Job created a moment ago: ask the API, even if a stop is already requested (the
            // stop must then delete what it finds).
            let client = self.client
            let namespace = settings.namespace
            job = await shield.perform {
                try? await client.list(Job.self, namespace: namespace,
                                       labelSelector: "uuid=\(id),euphrosyne.io/run=\(run.id)").items.first
            }
        }
        guard let job, job.metadata.deletionTimestamp == nil, let name = job.metadata.name else { return nil }
        var logger = self.logger
        logger[metadataKey: "incident"] = "\(id)"
        logger[metadataKey: "job"] = "\(name)"
        logger.info("following a recipe Job started before the restart")
        let remaining = max(0, deadline.timeIntervalSince(now()))
        return await follow(name, timeout: .milliseconds(Int64(remaining * 1000)), cancellation: cancellation,
                            logger: logger)
    }

    private enum Ending: Sendable {
        case succeeded
        case failed(reason: String, message: String)
        case cannotStart(pod: String, reason: String, message: String)
        case deleted
        case deadline
        case cancelled
    }

    /// Waits for the Job to end, for its pod to be unable to start, for the deadline, or for cancellation.
    /// `hasReported` says whether the run's result is in already: a Job that succeeded then needs no log tail (its
    /// pod may well be gone with the clean-up).
    private func follow(
        _ name: String, timeout: Duration, cancellation: RunCancellation,
        hasReported: @Sendable () -> Bool = { false }, logger: Logger
    ) async -> RunExit {
        let jobChanges = await jobs.follow(name)
        let podChanges = await pods.follow(name)
        let jobs = self.jobs
        let pods = self.pods
        let limit = timeout + settings.deadlineGrace
        let clock = self.clock
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                // The cache first (the Job may have ended before we followed it), then every change.
                if let decided = Self.decision(await jobs.object(named: name)) { return decided }
                for await job in jobChanges {
                    guard let job else { return .deleted }
                    if let decided = Self.decision(job) { return decided }
                }
                return nil
            }
            group.addTask {
                for pod in await pods.objects(withKey: name) {
                    if let stuck = Self.cannotStart(pod) { return stuck }
                }
                for await pod in podChanges {
                    if let pod, let stuck = Self.cannotStart(pod) { return stuck }
                }
                return nil
            }
            group.addTask {
                do { try await clock.sleep(for: limit) } catch { return nil }
                return .deadline
            }
            var result: Ending = .cancelled
            while let next = await group.next() {
                if let next {
                    result = next
                    break
                }
                if Task.isCancelled { break }
            }
            group.cancelAll()
            return result
        }

        switch ending {
        case .succeeded:
            return .exited(status: 0, stderrTail: hasReported() ? "" : await logTail(of: name))
        case .failed(let reason, let message):
            if reason == "DeadlineExceeded" {
                logger.warning("recipe Job reached its deadline")
                return .timedOut
            }
            let exitCode = await terminatedExitCode(of: name) ?? 1
            let tail = await logTail(of: name)
            return .exited(status: Int32(clamping: exitCode),
                           stderrTail: "Job failed (\(reason)\(message.isEmpty ? "" : ": \(message)"))" + (tail.isEmpty ? "" : "; log: \(tail)"))
        case .cannotStart(let pod, let reason, let message):
            logger.warning("recipe pod cannot start; deleting its Job", metadata: ["pod": "\(pod)", "reason": "\(reason)"])
            await deleteJob(name, logger: logger)
            return .launchFailed(reason: "pod \(pod) cannot start: \(reason)\(message.isEmpty ? "" : ": \(message)")")
        case .deleted:
            return .cancelled(reason: "the Job \(name) was deleted")
        case .deadline:
            logger.warning("recipe Job outlived its deadline; deleting it")
            await deleteJob(name, logger: logger)
            return .timedOut
        case .cancelled:
            if let reason = cancellation.reason {
                await deleteJob(name, logger: logger)
                return .cancelled(reason: reason)
            }
            if settings.leavesRunsRunningWhenCancelled {
                logger.info("reconciler stopping; recipe Job left running")
                return .cancelled(reason: "left running while the reconciler restarts")
            }
            await deleteJob(name, logger: logger)
            return .cancelled(reason: "the reconciler stopped the run")
        }
    }

    private static func decision(_ job: Job?) -> Ending? {
        guard let job else { return nil }
        switch job.outcome {
        case .running: return nil
        case .succeeded: return .succeeded
        case .failed(let reason, let message): return .failed(reason: reason, message: message)
        }
    }

    private static func cannotStart(_ pod: Pod) -> Ending? {
        for status in pod.status?.containerStatuses ?? [] {
            if let waiting = status.state?.waiting, let reason = waiting.reason, fatalWaitingReasons.contains(reason) {
                return .cannotStart(pod: pod.metadata.name ?? "?", reason: reason, message: waiting.message ?? "")
            }
        }
        return nil
    }

    /// Deletes a Job and its pods; runs even when the calling task is cancelled.
    private func deleteJob(_ name: String, logger: Logger) async {
        let client = self.client
        let namespace = settings.namespace
        let failure = await shield.perform { () -> KubernetesError? in
            do throws(KubernetesError) {
                try await client.delete(Job.self, name: name, namespace: namespace, propagation: .background)
                return nil
            } catch {
                return error
            }
        }
        if let failure { logger.error("cannot delete the recipe Job", metadata: ["error": "\(failure)"]) }
    }

    /// The newest pod of the Job: from the cache, else (the pod's events may trail the Job's) from the API.
    private func pod(of job: String) async -> Pod? {
        var candidates = await pods.objects(withKey: job)
        if candidates.isEmpty {
            candidates = (try? await client.list(Pod.self, namespace: settings.namespace,
                                                 labelSelector: "job-name=\(job)").items) ?? []
        }
        return candidates.max { ($0.metadata.creationTimestamp ?? "") < ($1.metadata.creationTimestamp ?? "") }
    }

    private func terminatedExitCode(of job: String) async -> Int? {
        await pod(of: job)?.status?.containerStatuses?.first?.state?.terminated?.exitCode
    }

    /// The last lines of the Job's pod log; empty when there is none.
    private func logTail(of job: String) async -> String {
        guard let pod = await pod(of: job), let name = pod.metadata.name else { return "" }
        do {
            return try await client.podLog(name: name, namespace: settings.namespace, tailLines: 20, limitBytes: 4_096)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            return ""
        }
    }

    // MARK: - Clean-up and status

    public func cleanUp(incident: UUID, phase: RunPhase) async {
        var selector = "app=euphrosyne,uuid=\(incident.uuidString.lowercased())"
        if let label = phase.label { selector += ",euphrosyne.io/phase=\(label)" }
        if phase == .all || phase == .debugging {
            diagnosisData.forget(incident)
        }
        let id = incident.uuidString.lowercased()
        createdJobs.withLock { created in
            created = created.filter { _, job in
                let labels = job.metadata.labels ?? [:]
                return labels["uuid"] != id || (phase.label.map { labels["euphrosyne.io/phase"] != $0 } ?? false)
            }
        }
        do throws(KubernetesError) {
            // Deleting the data ConfigMaps lets the garbage collector remove the Jobs and the result-key Secrets
            // they own; the Jobs are deleted explicitly too, failed ones included, so nothing waits on the
            // collector. The Secrets are left to it: deleting them ourselves would need a verb whose answer holds
            // Secrets, which the reconciler must not have.
            try await client.deleteCollection(Job.self, namespace: settings.namespace, labelSelector: selector,
                                              propagation: .background)
            try await client.deleteCollection(ConfigMap.self, namespace: settings.namespace, labelSelector: selector,
                                              propagation: .background)
        } catch {
            var logger = self.logger
            logger[metadataKey: "incident"] = "\(incident.uuidString.lowercased())"
            logger.error("cannot clean up the incident's Jobs, ConfigMaps and Secrets", metadata: ["error": "\(error)"])
        }
    }

    public func jobStatuses(incident: UUID) async -> [JobStatus]? {
        let id = incident.uuidString.lowercased()
        let cached = await jobs.all.filter { $0.metadata.labels?["uuid"] == id }
        let cachedNames = Set(cached.compactMap(\.metadata.name))
        // Jobs created a moment ago that the cache has not seen yet, as the API answered their creation.
        let fresh = createdJobs.withLock { created in
            created.values.filter { $0.metadata.labels?["uuid"] == id && !cachedNames.contains($0.metadata.name ?? "") }
        }
        return (cached + fresh)
            .sorted { ($0.metadata.creationTimestamp ?? "", $0.metadata.name ?? "") < ($1.metadata.creationTimestamp ?? "", $1.metadata.name ?? "") }
            .map { job in
                let phase: JobStatus.Phase
                switch job.outcome {
                case .running: phase = .active
                case .succeeded: phase = .completed
                case .failed: phase = .failed
                }
                return JobStatus(
                    name: job.metadata.name ?? "", startTime: job.status?.startTime ?? job.metadata.creationTimestamp ?? "",
                    status: phase, labels: job.metadata.labels ?? [:],
                    description: job.metadata.annotations?["description"] ?? ""
                )
            }
    }

}
