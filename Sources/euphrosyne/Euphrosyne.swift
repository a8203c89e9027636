import ArgumentParser
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
        await main(nil)
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
