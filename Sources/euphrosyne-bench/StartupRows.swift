import Foundation

/// Row 4: start-to-ready and idle memory of the release `euphrosyne serve --local` (a registry with one recipe,
/// no bot, both listeners) against the Hummingbird 2 hello world, each started `runs` times in turn.
///
/// Start-to-ready is from `posix_spawn` to the first 200 from `/readyz` (polled every millisecond over a raw
/// socket); idle RSS is VmRSS two seconds after ready, with nothing sent but the probes. Medians of the runs.
struct StartupRows {
    var runs: Int
    let settle = Duration.seconds(2)

    func rows(directory: URL) async throws -> [Row] {
        let registry = directory.appendingPathComponent("startup-recipes.yaml")
        try Alerts.registry(debuggingFor: "BenchStartup").write(to: registry, atomically: true, encoding: .utf8)
        let environment = childEnvironment(home: directory)
        var ours: [(ready: Duration, residentKB: Int)] = []
        var reference: [(ready: Duration, residentKB: Int)] = []
        for _ in 0..<runs {
            reference.append(try await measure(try await ServerProcess.hello(environment: environment)))
            ours.append(try await measure(try await ServerProcess.serve(["--local", "--recipes", registry.path],
                                                                        environment: environment)))
        }
        let oursReady = median(ours.map(\.ready.asMilliseconds))
        let referenceReady = median(reference.map(\.ready.asMilliseconds))
        let oursRSS = Int(median(ours.map { Double($0.residentKB) }))
        let referenceRSS = Int(median(reference.map { Double($0.residentKB) }))
        return [
            Row(name: "Start to ready (spawn → /readyz 200), serve --local, median of \(runs)",
                ours: formatMilliseconds(oursReady), reference: "hello world \(formatMilliseconds(referenceReady))",
                ratio: oursReady / referenceReady),
            Row(name: "Idle RSS, \(settle.components.seconds) s after ready, median of \(runs)",
                ours: formatMegabytes(kB: oursRSS), reference: "hello world \(formatMegabytes(kB: referenceRSS))",
                ratio: Double(oursRSS) / Double(referenceRSS)),
        ]
    }

    private func measure(_ server: ServerProcess) async throws -> (ready: Duration, residentKB: Int) {
        do {
            let ready = try await server.waitUntilReady()
            try await Task.sleep(for: settle)
            guard let memory = server.memory else { throw BenchError("cannot read /proc/\(server.process.pid)/status") }
            await server.stop()
            return (ready, memory.residentKB)
        } catch {
            await server.stop()
            throw error
        }
    }
}
