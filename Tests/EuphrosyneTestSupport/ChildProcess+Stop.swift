import EuphrosyneSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ChildProcess {
    /// Sends `signal` to the server's process group, gives it `grace` to exit, then SIGKILLs and reaps it: how the
    /// servers tests start (Redis, Alertmanager) are stopped.
    func stop(with signal: Int32, grace: Duration = .seconds(10)) async {
        signalGroup(signal)
        if await waitIgnoringCancellation(upTo: grace) == nil {
            signalGroup(SIGKILL)
            _ = await waitIgnoringCancellation()
        }
    }
}
