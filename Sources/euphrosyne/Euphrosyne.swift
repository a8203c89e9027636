import ArgumentParser
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The `euphrosyne` command: the reconciler (`serve`) and small clients for its API.
@main
struct Euphrosyne: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "euphrosyne",
        abstract: "A Kubernetes-native incident reconciler: alerts in, parallel diagnosis, approved actions.",
        subcommands: [Serve.self, Recipes.self, Alert.self, Incidents.self, Approve.self]
    )

    static func main() async {
        pinLocalTimeZone()
        runSwiftConcurrencyOnTheEventLoops()
        await main(nil)
    }

    /// Swift Concurrency's global executor becomes NIO's event loops (SwiftNIO's documented take-over, one call
    /// before any task is enqueued). Every request's task is then resumed on the event loop whose socket it reads,
    /// instead of waking a dispatch thread and handing the answer back to the loop: a new alert group then takes
    /// about a third less CPU (measured in `docs/performance.md`). The cost is the usual rule of the global
    /// executor, kept by this code already: nothing blocks a thread (child processes are awaited by a thread of their
    /// own, `ChildProcessExit`). Where the runtime hook does not exist the call does nothing and the default pool runs.
    private static func runSwiftConcurrencyOnTheEventLoops() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// With `TZ` unset, glibc looks at `/etc/localtime` again (a `stat`) for every timestamp a log line formats;
    /// under an alert storm that was a system call per log line. Naming the same file in `TZ` (glibc's `:path`
    /// form) gives the same time zone, read once. Done first, before any other thread exists.
    private static func pinLocalTimeZone() {
        #if os(Linux)
        if getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 0) }
        #endif
    }
}
