import Synchronization

/// Runs work that must finish even when the task that asked for it is cancelled, as children of the task group of
/// the long-lived service that owns the shield (no unstructured task).
///
/// `KubernetesJobLauncher` sends its Kubernetes requests through one: a Job being created when its run is cancelled
/// is still created (so a stop deletes it, and a shutdown leaves it to the next reconciler, instead of orphaning
/// it), a Job being deleted is deleted, and the look-up of a run to follow again is made even if a stop is already
/// requested.
///
/// The owner calls `run()` in its task group and `finish()` when it shuts down gracefully: from then on nothing
/// new is taken, the work already submitted finishes, and `run()` returns. Work submitted before `run()` starts
/// waits for it (a service's children may start after its first callers); work submitted after `finish()` runs at
/// once on the caller's task, unshielded.
public final class CancellationShield: Sendable {
    private typealias Job = @Sendable () async -> Void

    private struct State {
        var accepting = true
        var started = false
    }

    private let state = Mutex(State())
    // Unbounded: the owner bounds the work it submits (the launcher: one request at a time per recipe run).
    private let jobs = AsyncStream.makeStream(of: Job.self)

    public init() {}

    /// Runs the submitted work, each piece as a child task, until `finish()` (or cancellation: work submitted until
    /// then still runs, though cancelled), then waits for it. Runs once; a second call returns at once.
    public func run() async {
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        await withDiscardingTaskGroup { group in
            // Whatever ends the stream (`finish()`, or this task's cancellation), the work it buffered is still
            // delivered before it ends.
            for await job in jobs.stream {
                group.addTask { await job() }
            }
            finish()
        }
    }

    /// Stops taking work (the owner's graceful shutdown); what was submitted still finishes, and `run()` returns
    /// once it has.
    public func finish() {
        state.withLock { state in
            state.accepting = false
            jobs.continuation.finish()
        }
    }

    /// Runs `work` to completion and returns its result, even when the calling task is cancelled meanwhile: the
    /// caller keeps waiting for it. After `finish()`, `work` runs on the caller's task.
    public func perform<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> T {
        if let result = await submit(work) { return result.value }
        return await work()
    }

    /// The result of `work`, run by `run()`; nil when the shield takes no more work.
    private func submit<T: Sendable>(_ work: @escaping @Sendable () async -> T) async -> Submitted<T>? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Submitted<T>?, Never>) in
            let job: Job = { continuation.resume(returning: Submitted(value: await work())) }
            // Deciding and yielding under one lock: no job goes into a stream `finish()` has ended. (A stream
            // ended by `run()`'s cancellation answers `.terminated`.)
            let taken = state.withLock { state in
                guard state.accepting, case .enqueued = jobs.continuation.yield(job) else { return false }
                return true
            }
            if !taken { continuation.resume(returning: nil) }
        }
    }

    /// A result of submitted work, told apart from "not taken" even when `T` is itself optional.
    private struct Submitted<T: Sendable>: Sendable {
        var value: T
    }
}
