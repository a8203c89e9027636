import EuphrosyneCore
import EuphrosyneEngine
import EuphrosyneRedis
import EuphrosyneSupport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the subscriber side of the Redis benchmark counts.
final class Counters: Sendable {
    let confirmed = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let malformed = Atomic<Int>(0)
    let first = Mutex<ContinuousClock.Instant?>(nil)
    let last = Mutex<ContinuousClock.Instant?>(nil)
}

/// Results collected per second through our subscriber with `channels` channels subscribed, against
/// redis-benchmark's PUBLISH rate into those channels on the same server in the same run.
func redisRow(directory: URL, channels: Int, messages: Int, skipDecode: Bool) async throws -> Row {
    let port = try freePort()
    let server = try await ChildProcess.spawn(
        executable: try executable("redis-server"),
        arguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.path,
                    "--client-output-buffer-limit", "pubsub", "0", "0", "0"],
        environment: ProcessInfo.processInfo.environment
    )
    defer { server.signalGroup(SIGKILL) }

    var configuration = try RedisConfiguration(address: "127.0.0.1:\(port)")
    configuration.clientName = "bench-subscriber"
    let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    let subscriber = RedisSubscriber(configuration: configuration, logger: logger)
    let counters = Counters()

    let group = ServiceGroup(configuration: .init(services: [.init(service: subscriber)], logger: logger))
    return try await withThrowingTaskGroup(of: Row?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        // redis-benchmark's __rand_int__ with -r N is a 12-digit number below N.
        let names = (0..<channels).map { String(format: "%012d", $0) }
        var subscriptions: [RedisSubscription] = []
        for name in names { subscriptions.append(try await subscriber.subscribe(to: name)) }
        for subscription in subscriptions {
            tasks.addTask {
                for await event in subscription {
                    switch event {
                    case .subscribed:
                        counters.confirmed.add(1, ordering: .relaxed)
                    case .message(let payload):
                        // The real path: every message decoded as a recipe result.
                        if !skipDecode, (try? payload.withUnsafeReadableBytes({ try RecipeResult.decode($0) })) == nil {
                            counters.malformed.add(1, ordering: .relaxed)
                        }
                        let now = ContinuousClock.now
                        counters.first.withLock { $0 = $0 ?? now }
                        counters.last.withLock { $0 = now }
                        counters.received.add(1, ordering: .relaxed)
                    case .dropped:
                        break
                    }
                }
                return nil
            }
        }
        while counters.confirmed.load(ordering: .relaxed) < channels { try await Task.sleep(for: .milliseconds(20)) }

        let payload = String(decoding: RecipeResult(
            incident: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab", name: "http-errors", status: .successful,
            results: .init(actions: ["jira"], analysis: "5xx on /checkout rose from 0.1% to 7% at 21:13", json: "{}",
                           links: ["https://grafana.example/d/abc"])
        ).encoded(), as: UTF8.self)
        let csv = try await capture(try executable("redis-benchmark"), [
            "-h", "127.0.0.1", "-p", "\(port)", "-n", "\(messages)", "-c", "50", "-P", "16", "-r", "\(channels)", "--csv",
            "PUBLISH", "__rand_int__", payload,
        ], in: directory)
        // The test name (first column) holds the payload's commas: count the 7 numeric columns from the end.
        let fields = csv.split(separator: "\n").last?.split(separator: ",") ?? []
        guard fields.count >= 8,
              let publishRate = Double(fields[fields.count - 7].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        else { throw BenchError(description: "cannot read redis-benchmark's output: \(csv)") }

        let deadline = ContinuousClock.now + .seconds(120)
        while counters.received.load(ordering: .relaxed) < messages, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let count = counters.received.load(ordering: .relaxed)
        let span = (counters.last.withLock { $0 } ?? .now) - (counters.first.withLock { $0 } ?? .now)
        let seconds = Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18
        let ourRate = seconds > 0 ? Double(count) / seconds : 0
        for subscription in subscriptions { subscription.cancel() }
        await group.triggerGracefulShutdown()
        tasks.cancelAll()
        guard count == messages, counters.malformed.load(ordering: .relaxed) == 0 else {
            throw BenchError(description: "collected \(count) of \(messages) results (\(counters.malformed.load(ordering: .relaxed)) malformed)")
        }
        let ratio = ourRate / publishRate
        return Row(
            name: "Redis results collected/s, \(channels) channels, one connection",
            ours: "\(Int(ourRate).formatted())/s", reference: "redis-benchmark PUBLISH \(Int(publishRate).formatted())/s",
            ratio: ratio, target: "≥ 0.5×", met: ratio >= 0.5
        )
    }
}
