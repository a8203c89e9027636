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
        let deadline = ContinuousClock.now + grace
        while !hasExited, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        if !hasExited {
            signalGroup(SIGKILL)
            _ = await wait()
        }
    }
}
