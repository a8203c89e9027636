import Crypto
import EuphrosyneCore
import EuphrosynePorts
import EuphrosyneSupport
import EuphrosyneTestSupport
import Foundation
import Logging
import NIOCore
import Testing
import Yams

@testable import EuphrosyneRedisAdapters
@testable import EuphrosyneRedis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Redis we ship (deploy/base/redis.yaml) held to what our clients send. The ACL file is not copied here: the test
/// runs the manifest's own `write-acl` init script with passwords of its own, starts redis-server with the manifest's
/// own arguments, then checks that the reconciler's store and result source work as user `euphrosyne`, that a recipe
/// (the real `euphrosyne-recipes` binary, so RecipeKit's RedisReporter) can report as `euphrosyne-recipe` and do
/// nothing else, that the probe user can only PING, and that nobody gets in without a password. A change to the
/// manifest that breaks any of this fails here.
@Suite struct ShippedRedisACLTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let incident = UUID(uuidString: "6f1c1e2a-1111-4c5d-9e8f-0123456789ab")!

    @Test func theShippedUsersDoWhatOurClientsNeedAndNothingElse() async throws {
        let redis = try ShippedRedis.load()
        #expect(redis.reconcilerUser == "euphrosyne")
        // No password in redis-server's argv, and protected mode left on (its default).
        #expect(redis.serverArguments.firstIndex(of: "--protected-mode") == nil, "\(redis.serverArguments)")
        #expect(redis.serverArguments.firstIndex(of: "--requirepass") == nil, "\(redis.serverArguments)")
        let probe = try #require(redis.probeUser, "the readiness probe names no --user: \(redis.readinessCommand)")
        try await redis.withServer { server, written in
            let reconciler = Self.configuration(server, user: redis.reconcilerUser, password: written.reconcilerPassword)
            let recipe = Self.configuration(server, user: "euphrosyne-recipe", password: written.recipePassword)
            let observer = Self.configuration(server, user: ShippedRedis.observer, password: written.observerPassword)
            try await Self.theReconcilerRunsItsStore(reconciler)
            try await Self.aRecipeReportsAndTheReconcilerCollects(server, reconciler: reconciler, recipe: recipe,
                                                                  observer: observer)
            try await Self.theRecipeUserCanDoNothingElse(recipe)
            try await Self.theReconcilerCannotDoDangerousThings(reconciler)
            // The readiness probe's user is the only one without a password (so its argv holds nothing secret), and
            // it may PING and nothing else.
            #expect(written.passwordlessUsers == [probe])
            for user in written.passwordlessUsers {
                try await Self.theProbeUserCanOnlyPing(server, user: user, password: redis.probePassword)
            }
            try await Self.nobodyGetsInWithoutAPassword(server)
        }
    }

    /// A client of the shipped server that connects from 127.0.0.2: protected mode treats that address as remote
    /// (it only trusts 127.0.0.1 and ::1), so the answer shows what a Pod on another node would get — while the
    /// traffic never leaves the loopback interface.
    #if os(Linux)
    @Test func protectedModeStaysOnAndLetsOtherAddressesAuthenticate() async throws {
        // Control: a server with the defaults (no ACL file) refuses such a client outright, so the probe below is
        // really seen as non-local.
        try await withRedisServer { server in
            let reply = try #require(Self.exchange(from: "127.0.0.2", port: server.port, request: "PING\r\n"))
            #expect(reply.hasPrefix("-DENIED"), "\(reply)")
        }
        let redis = try ShippedRedis.load()
        try await redis.withServer { server, written in
            let anonymous = try #require(Self.exchange(from: "127.0.0.2", port: server.port, request: "PING\r\n"))
            #expect(anonymous.hasPrefix("-NOAUTH"), "\(anonymous)")
            let login = "HELLO 3 AUTH \(redis.reconcilerUser) \(written.reconcilerPassword)\r\n"
            let welcome = try #require(Self.exchange(from: "127.0.0.2", port: server.port, request: login))
            #expect(welcome.hasPrefix("%"), "\(welcome.prefix(80))")
        }
    }
    #endif

    // MARK: The reconciler

    /// Everything RedisIncidentStore sends: the save and create scripts (GET, SET NX EX, HGET, HSET, EXPIRE, ZADD,
    /// SADD, SREM, DEL inside EVAL), HGET, ZREMRANGEBYSCORE, ZCARD, ZREVRANGE, SMEMBERS, SREM.
    static func theReconcilerRunsItsStore(_ configuration: RedisConfiguration) async throws {
        let client = RedisClient(configuration: configuration, logger: quiet)
        let store = RedisIncidentStore(client: client, retentionSeconds: 3_600)
        try await RunningServer.with(services: [client], ports: PortCollector(count: 0), logger: quiet) { _ in
            let payload: [String: JSONValue] = ["version": .string("4"), "groupKey": .string("{}:{alertname=\"A\"}"),
                                                "alerts": .array([])]
            func incident(_ offset: Double) -> Incident {
                var incident = Incident(id: UUID(), payload: payload, callbackSecret: "s",
                                        at: Date().addingTimeInterval(offset))
                incident.state = .diagnosing
                incident.revision = 1
                return incident
            }
            var first = incident(0)
            let second = incident(1)
            #expect(try await store.create(first, replacing: nil) == nil)
            #expect(try await store.create(second, replacing: nil) == first.id)
            first.revision = 2
            try await store.save(first)
            #expect(try await store.incident(first.id)?.revision == 2)
            #expect(try await store.list(offset: 0, limit: 10).incidents.map(\.id) == [first.id])
            #expect(try await store.openIncidents().map(\.id) == [first.id])

            // An open incident whose key is gone is dropped from the open set (SREM) when incidents are resumed.
            _ = try await client.execute(RedisRawCommand("SADD", RedisIncidentStore.openKey, UUID().uuidString.lowercased()))
            #expect(try await store.openIncidents().map(\.id) == [first.id])
            #expect(try await client.execute(SMEMBERS(RedisIncidentStore.openKey)) == [first.id.uuidString.lowercased()])

            // Closing frees the group (DEL in the script), so the next incident of the group may be created.
            first.state = .resolved
            first.revision = 3
            try await store.save(first)
            #expect(try await store.openIncidents().isEmpty)
            #expect(try await store.create(second, replacing: nil) == nil)
            #expect(try await store.list(offset: 0, limit: 10).total == 2)

            // Past its capacity the save script deletes the oldest closed incidents (ZRANGE, SISMEMBER, ZREM, DEL).
            let small = RedisIncidentStore(client: client, retentionSeconds: 3_600, capacity: 2)
            var third = incident(2)
            third.revision = 2
            try await small.save(third)
            #expect(try await small.list(offset: 0, limit: 10).incidents.map(\.id) == [third.id, second.id])
            #expect(try await small.incident(first.id) == nil)

            // Signed API requests are remembered once (SET NX EX), shared by every replica.
            let replays = RedisReplayCache(client: client)
            let now = Date()
            #expect(try await replays.admit(keyID: "bot", signature: "sha256=ab", sentAt: now, now: now, window: 300))
            #expect(try await !replays.admit(keyID: "bot", signature: "sha256=ab", sentAt: now, now: now, window: 300))
        }
    }

    /// The recipe side as a Job runs it (the `euphrosyne-recipes` binary with REDIS_USERNAME and REDIS_PASSWORD,
    /// RecipeKit's RedisReporter: RPUSH + EXPIRE on the durable list, then PUBLISH), and the reconciler side as
    /// RedisResultSource runs it (SUBSCRIBE over RESP3, LRANGE of the durable list, UNSUBSCRIBE; the subscriber's
    /// keep-alive PING is checked in theReconcilerCannotDoDangerousThings).
    static func aRecipeReportsAndTheReconcilerCollects(
        _ server: RedisServerProcess, reconciler: RedisConfiguration, recipe: RedisConfiguration,
        observer: RedisConfiguration
    ) async throws {
        let channel = incident.uuidString.lowercased()
        let watcher = try await RedisConnection.connect(configuration: observer, logger: quiet)
        @Sendable func subscribers() async throws -> Int {
            let reply = try await watcher.execute(RedisRawCommand("PUBSUB", "NUMSUB", channel))
            guard case .array(let items) = reply.value, let last = Swift.Array(items).last, items.count == 2,
                  case .number(let count) = last.value else {
                throw TestTimeout(what: "a PUBSUB NUMSUB answer, got \(reply)")
            }
            return Int(count)
        }
        let client = RedisClient(configuration: reconciler, logger: quiet)
        var subscriberConfiguration = reconciler
        subscriberConfiguration.clientName = "euphrosyne-subscriber"
        let subscriber = RedisSubscriber(configuration: subscriberConfiguration, logger: quiet)
        let results = RedisResultSource(subscriber: subscriber, client: client, logger: quiet)
        let stream = try #require(results.incomingResults)
        do {
            try await collect(server, results: results, subscriber: subscriber, client: client, stream: stream,
                              recipe: recipe, subscribers: subscribers)
            // The durable copy expires (the recipe's EXPIRE went through).
            let ttl = try await watcher.execute(TTL(ResultDelivery.durableKey(incident: channel)))
            #expect(ttl > 0 && ttl <= ResultDelivery.durableKeyTTL)
        } catch {
            await watcher.close()
            throw error
        }
        await watcher.close()
    }

    static func collect(
        _ server: RedisServerProcess, results: RedisResultSource, subscriber: RedisSubscriber, client: RedisClient,
        stream: AsyncStream<RecipeResult>, recipe: RedisConfiguration,
        subscribers: @escaping @Sendable () async throws -> Int
    ) async throws {
        try await RunningServer.with(services: [client, subscriber, results], ports: PortCollector(count: 0),
                                     logger: quiet) { _ in
            await results.watch(incident: incident)
            try await waitUntil("the result channel to be subscribed") { subscriber.activeChannels == 1 }
            #expect(try await subscribers() == 1)

            let status = try await runRecipe(server, user: try #require(recipe.username),
                                             password: try #require(recipe.password))
            #expect(status.code == 0, "euphrosyne-recipes dummy: \(status.stderr)")

            let result = try await first(of: stream, timeout: .seconds(30))
            #expect(result.incident == incident.uuidString.lowercased())
            #expect(result.name == "dummy")
            #expect(result.status == .successful)
            #expect(await results.storedResults(incident: incident).map(\.name) == ["dummy"])
            #expect(results.malformedMessages == 0)

            // The server really dropped the subscription (UNSUBSCRIBE went through).
            await results.unwatch(incident: incident)
            try await waitUntil("the result channel to be unsubscribed") { try await subscribers() == 0 }
        }
    }

    // MARK: What is refused

    static func theRecipeUserCanDoNothingElse(_ configuration: RedisConfiguration) async throws {
        let id = incident.uuidString.lowercased()
        let results = ResultDelivery.durableKey(incident: id)
        let connection = try await RedisConnection.connect(configuration: configuration, logger: quiet)
        do {
            for command in [
                ["GET", "euphrosyne:incident:\(id)"], ["HGET", "euphrosyne:incident:\(id)", "data"],
                ["SET", "euphrosyne:incident:\(id)", "forged"], ["DEL", "euphrosyne:incident:\(id)"],
                ["DEL", results], ["LRANGE", results, "0", "-1"], ["RPUSH", "euphrosyne:incidents:open", id],
                ["SET", results, "x"], ["FLUSHALL"], ["FLUSHDB"], ["KEYS", "*"], ["CONFIG", "GET", "*"],
                ["PUBLISH", "not-an-incident", "x"], ["EVAL", "return 1", "0"], ["CLIENT", "LIST"], ["ACL", "LIST"],
                ["PING"], ["INFO"], ["SCAN", "0"], ["PUBSUB", "CHANNELS"],
            ] {
                try await expectRefused(command, on: connection, as: "NOPERM")
            }
            // What a report needs still works on this same connection.
            #expect(try await connection.execute(RPUSH(results, elements: [ByteBuffer(string: "{}")])) >= 1)
            #expect(try await connection.execute(EXPIRE(results, seconds: 60)))
            #expect(try await connection.execute(PUBLISH(id, message: "{}")) == 0)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()

        // SUBSCRIBE is refused too: a recipe cannot listen to other incidents' results.
        let subscriber = RedisSubscriber(configuration: configuration, logger: quiet)
        try await RunningServer.with(services: [subscriber], ports: PortCollector(count: 0), logger: quiet) { _ in
            try await waitUntil("the recipe user's subscriber to connect") { subscriber.isConnected }
            let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe(to: id) }
            #expect(error?.serverErrorPrefix == "NOPERM", "\(String(describing: error))")
        }
    }

    static func theReconcilerCannotDoDangerousThings(_ configuration: RedisConfiguration) async throws {
        let connection = try await RedisConnection.connect(configuration: configuration, logger: quiet)
        do {
            #expect(try await connection.execute(PING()) == "PONG")  // RedisSubscriber's keep-alive
            for command in [
                ["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "SET", "protected-mode", "no"], ["CONFIG", "GET", "*"],
                ["KEYS", "*"], ["SCAN", "0"], ["ACL", "LIST"], ["ACL", "SETUSER", "x", "on"],
                ["MODULE", "LIST"], ["SCRIPT", "FLUSH"], ["SAVE"], ["BGSAVE"], ["REPLICAOF", "127.0.0.1", "1"],
                ["MONITOR"], ["CLIENT", "KILL", "TYPE", "normal"], ["GET", "not-ours"], ["SET", "not-ours", "x"],
                // Results come from recipes only: the reconciler cannot publish one.
                ["PUBLISH", incident.uuidString.lowercased(), "forged"],
                ["SHUTDOWN", "NOSAVE"],
            ] {
                try await expectRefused(command, on: connection, as: "NOPERM")
            }
            // DEBUG is off by default in Redis 7 (enable-debug-command), which answers before the ACL does.
            let debug = await #expect(throws: RedisError.self) { try await connection.execute(RedisRawCommand("DEBUG", "SLEEP", "0")) }
            #expect(debug?.serverErrorPrefix == "NOPERM" || debug?.message.hasPrefix("ERR DEBUG command not allowed") == true,
                    "\(String(describing: debug))")
            // A script runs with its caller's rights.
            let error = await #expect(throws: RedisError.self) {
                try await connection.execute(EVAL("return redis.call('FLUSHALL')"))
            }
            #expect(error?.message.contains("can't run this command") == true, "\(String(describing: error))")
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    static func theProbeUserCanOnlyPing(_ server: RedisServerProcess, user: String, password: String) async throws {
        let configuration = Self.configuration(server, user: user, password: password)
        let connection = try await RedisConnection.connect(configuration: configuration, logger: quiet)
        do {
            #expect(try await connection.execute(PING()) == "PONG")
            for command in [
                ["GET", "euphrosyne:incident:x"], ["SET", "k", "v"], ["PUBLISH", incident.uuidString.lowercased(), "x"],
                ["INFO"], ["CONFIG", "GET", "*"], ["FLUSHALL"], ["KEYS", "*"], ["CLIENT", "LIST"], ["EVAL", "return 1", "0"],
            ] {
                try await expectRefused(command, on: connection, as: "NOPERM")
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    static func nobodyGetsInWithoutAPassword(_ server: RedisServerProcess) async throws {
        // RESP3 (what our clients use): HELLO without AUTH is refused.
        let anonymous = await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(configuration: configuration(server, user: nil, password: nil), logger: quiet)
        }
        #expect(anonymous?.code == .authenticationFailed)
        #expect(anonymous?.serverErrorPrefix == "NOAUTH", "\(String(describing: anonymous))")

        // RESP2: the connection opens, and every command is refused.
        var resp2 = configuration(server, user: nil, password: nil)
        resp2.protocolPreference = .resp2
        let unauthenticated = try await RedisConnection.connect(configuration: resp2, logger: quiet)
        for command in [["GET", "euphrosyne:incidents"], ["PUBLISH", incident.uuidString.lowercased(), "x"], ["FLUSHALL"]] {
            try await expectRefused(command, on: unauthenticated, as: "NOAUTH")
        }
        await unauthenticated.close()

        // The default user is off: no password opens it.
        for password in ["", "default", "redis"] {
            let error = await #expect(throws: RedisError.self) {
                try await RedisConnection.connect(configuration: configuration(server, user: "default", password: password),
                                                  logger: quiet)
            }
            #expect(error?.serverErrorPrefix == "WRONGPASS", "\(String(describing: error))")
        }
        // Nor does a wrong password open a real user.
        let wrong = await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(configuration: configuration(server, user: "euphrosyne-recipe", password: "guess"),
                                              logger: quiet)
        }
        #expect(wrong?.serverErrorPrefix == "WRONGPASS", "\(String(describing: wrong))")
    }

    // MARK: Helpers

    static func configuration(_ server: RedisServerProcess, user: String?, password: String?) -> RedisConfiguration {
        var configuration = server.configuration(name: user.map { "test-\($0)" })
        configuration.username = user
        configuration.password = password
        configuration.reconnectBackoff = RedisReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        return configuration
    }

    static func expectRefused(_ command: [String], on connection: RedisConnection, as prefix: String,
                              sourceLocation: SourceLocation = #_sourceLocation) async throws {
        do {
            let reply = try await connection.execute(RedisRawCommand(command))
            Issue.record("\(command.joined(separator: " ")) was allowed: \(reply)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.serverErrorPrefix == prefix, "\(command.joined(separator: " ")): \(error)",
                    sourceLocation: sourceLocation)
        }
    }

    /// Runs `euphrosyne-recipes dummy` as a recipe Job would, against `server`; returns its exit status and stderr.
    static func runRecipe(_ server: RedisServerProcess, user: String, password: String) async throws -> (code: Int32?, stderr: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shipped-acl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data.json")
        try Data(#"{"version":"4","status":"firing","alerts":[],"uuid":"\#(incident.uuidString.lowercased())"}"#.utf8)
            .write(to: data)
        let stderr = directory.appendingPathComponent("stderr")
        let binary = productsDirectory + "/euphrosyne-recipes"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestTimeout(what: "\(binary) (build everything first: swift build --build-tests)")
        }
        let process = try await ChildProcess.spawn(
            executable: binary,
            arguments: ["dummy", "--data-file-path", data.path, "--aggregator-address", "",
                        "--redis-address", "127.0.0.1:\(server.port)"],
            environment: ["PATH": "/usr/bin:/bin", "REDIS_USERNAME": user, "REDIS_PASSWORD": password],
            standardError: stderr.path
        )
        guard let code = await process.waitIgnoringCancellation(upTo: .seconds(60)) else {
            process.signalGroup(SIGKILL)
            _ = await process.waitIgnoringCancellation()
            throw TestTimeout(what: "euphrosyne-recipes dummy to exit")
        }
        return (code, (try? String(contentsOf: stderr, encoding: .utf8)) ?? "")
    }

    /// Where `swift build` put the executables: beside this test binary.
    static var productsDirectory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }

    static func first(of stream: AsyncStream<RecipeResult>, timeout: Duration) async throws -> RecipeResult {
        try await withThrowingTaskGroup(of: RecipeResult?.self) { group in
            group.addTask {
                var iterator = stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw TestTimeout(what: "a result from the result source") }
            return first
        }
    }

    #if os(Linux)
    /// Sends `request` to 127.0.0.1:`port` from the local address `source` and returns the first chunk of the reply.
    static func exchange(from source: String, port: Int, request: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func address(_ host: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr(host)
            return address
        }
        var local = address(source, 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var remote = address("127.0.0.1", port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &reply, reply.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: reply[0..<count], as: UTF8.self)
    }
    #endif
}

/// What deploy/base/redis.yaml and reconciler.yaml say about Redis, read with a YAML parser: the `write-acl` init
/// container (its argv and the Secret keys its password variables come from), redis-server's arguments, the
/// readiness probe, and the reconciler's REDIS_USERNAME.
struct ShippedRedis: Sendable {
    struct ManifestError: Error, CustomStringConvertible {
        var description: String
    }

    /// What `write-acl` was given and wrote.
    struct Written: Sendable {
        var reconcilerPassword: String
        var recipePassword: String
        /// Users of the ACL file that are on without a password.
        var passwordlessUsers: [String]
        var observerPassword: String
    }

    /// A user the test adds to the written file, only to watch what the others did (PUBSUB NUMSUB, TTL): it changes
    /// nothing about the shipped users.
    static let observer = "test-observer"

    var initArgv: [String]
    /// Init container variable -> key of Secret euphrosyne-redis.
    var passwordVariables: [String: String]
    var serverArguments: [String]
    var aclFile: String
    var readinessCommand: [String]
    var reconcilerUser: String

    static let base = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/base")

    /// The user the readiness probe logs in as (`--user X` in its command), and the password it sends.
    var probeUser: String? { Self.value(after: "--user", in: readinessCommand) }
    var probePassword: String { Self.value(after: "--pass", in: readinessCommand) ?? "" }

    static func value(after flag: String, in command: [String]) -> String? {
        let words = command.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\"" || $0 == "(" || $0 == ")" }) }
            .map(String.init)
        guard let index = words.firstIndex(of: flag), index + 1 < words.count else { return nil }
        return words[index + 1]
    }

    static func load() throws -> ShippedRedis {
        let redis = try deployment(named: "redis", in: "redis.yaml")
        let pod = try dictionary(try dictionary(redis["spec"], "spec")["template"], "template")["spec"]
        let podSpec = try dictionary(pod, "pod spec")
        let initContainer = try container(named: "write-acl", in: podSpec["initContainers"])
        let server = try container(named: "redis", in: podSpec["containers"])

        let serverArguments = strings(server["command"]).dropFirst() + strings(server["args"])
        guard strings(server["command"]).first == "redis-server",
              let aclIndex = serverArguments.firstIndex(of: "--aclfile"), aclIndex + 1 < serverArguments.endIndex else {
            throw ManifestError(description: "redis-server has no --aclfile: \(serverArguments)")
        }
        var variables: [String: String] = [:]
        for entry in (initContainer["env"] as? [Any]) ?? [] {
            guard let entry = entry as? [String: Any], let name = entry["name"] as? String,
                  let reference = (entry["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: Any],
                  reference["name"] as? String == "euphrosyne-redis", let key = reference["key"] as? String else { continue }
            variables[name] = key
        }
        let probe = try dictionary(server["readinessProbe"], "readinessProbe")
        let reconciler = try deployment(named: "euphrosyne", in: "reconciler.yaml")
        let reconcilerPod = try dictionary(try dictionary(try dictionary(reconciler["spec"], "spec")["template"], "template")["spec"], "spec")
        let reconcilerContainer = try container(named: "euphrosyne", in: reconcilerPod["containers"])
        guard let user = ((reconcilerContainer["env"] as? [Any]) ?? []).compactMap({ $0 as? [String: Any] })
            .first(where: { $0["name"] as? String == "REDIS_USERNAME" })?["value"] as? String else {
            throw ManifestError(description: "reconciler.yaml sets no REDIS_USERNAME")
        }
        return ShippedRedis(
            initArgv: strings(initContainer["command"]) + strings(initContainer["args"]),
            passwordVariables: variables,
            serverArguments: Array(serverArguments),
            aclFile: serverArguments[aclIndex + 1],
            readinessCommand: strings((probe["exec"] as? [String: Any])?["command"]),
            reconcilerUser: user
        )
    }

    /// Writes the ACL file with the manifest's script and fresh passwords, starts redis-server with the manifest's
    /// arguments (the ACL file's path swapped for the temporary one), runs `body`, and removes everything after.
    func withServer(_ body: @Sendable (RedisServerProcess, Written) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shipped-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let aclPath = directory.appendingPathComponent("users.acl").path

        // Passwords as `openssl rand -hex 32` makes them.
        func password() -> String { (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }
        let reconcilerPassword = password()
        let recipePassword = password()
        var environment = ["PATH": "/usr/bin:/bin"]
        for (variable, key) in passwordVariables {
            switch key {
            case "reconciler-password": environment[variable] = reconcilerPassword
            case "recipe-password": environment[variable] = recipePassword
            default: throw ManifestError(description: "write-acl reads an unknown key \(key) of Secret euphrosyne-redis")
            }
        }
        #expect(Set(passwordVariables.values) == ["reconciler-password", "recipe-password"])

        // The init container's argv, as the kubelet runs it, writing to our file instead of the volume.
        guard initArgv.contains(aclFile), let shell = initArgv.first else {
            throw ManifestError(description: "write-acl does not write \(aclFile): \(initArgv)")
        }
        let argv = initArgv.dropFirst().map { $0 == aclFile ? aclPath : $0 }
        let stderr = directory.appendingPathComponent("write-acl.stderr").path
        let script = try await ChildProcess.spawn(executable: shell, arguments: Array(argv), environment: environment,
                                                  standardError: stderr)
        guard let status = await script.waitIgnoringCancellation(upTo: .seconds(30)) else {
            script.signalGroup(SIGKILL)
            _ = await script.waitIgnoringCancellation()
            throw TestTimeout(what: "write-acl to finish")
        }
        #expect(status == 0, "write-acl: \((try? String(contentsOfFile: stderr, encoding: .utf8)) ?? "")")

        // Only hashes are written, and only the owner may read the file.
        let acl = try String(contentsOfFile: aclPath, encoding: .utf8)
        for secret in [reconcilerPassword, recipePassword] {
            #expect(!acl.contains(secret), "a password is in the ACL file in plain text")
            let digest = SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(acl.contains("#\(digest)"))
        }
        let mode = try FileManager.default.attributesOfItem(atPath: aclPath)[.posixPermissions] as? Int
        #expect(mode == 0o600, "mode \(String(mode ?? 0, radix: 8))")
        let users = acl.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.first == "user" }
        #expect(Set(users.map { $0[1] }) == ["default", "probe", reconcilerUser, "euphrosyne-recipe"], "\(acl)")
        let observerPassword = password()
        let written = Written(
            reconcilerPassword: reconcilerPassword, recipePassword: recipePassword,
            passwordlessUsers: users.filter { $0.contains("nopass") && $0.contains("on") }.map { $0[1] },
            observerPassword: observerPassword
        )
        let observer = "user \(Self.observer) on >\(observerPassword) resetkeys ~* resetchannels -@all +pubsub|numsub +ttl\n"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: aclPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(observer.utf8))
        try handle.close()

        let arguments = serverArguments.map { $0 == aclFile ? aclPath : $0 }
        try await withRedisServer(arguments: arguments) { server in try await body(server, written) }
    }

    // MARK: YAML

    static func deployment(named name: String, in file: String) throws -> [String: Any] {
        let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
        for document in try Yams.load_all(yaml: text) {
            if let object = document as? [String: Any], object["kind"] as? String == "Deployment",
               (object["metadata"] as? [String: Any])?["name"] as? String == name {
                return object
            }
        }
        throw ManifestError(description: "no Deployment \(name) in deploy/base/\(file)")
    }

    static func dictionary(_ value: Any?, _ what: String) throws -> [String: Any] {
        guard let value = value as? [String: Any] else { throw ManifestError(description: "\(what) is not a mapping") }
        return value
    }

    static func container(named name: String, in list: Any?) throws -> [String: Any] {
        guard let found = ((list as? [Any]) ?? []).compactMap({ $0 as? [String: Any] }).first(where: { $0["name"] as? String == name }) else {
            throw ManifestError(description: "no container \(name)")
        }
        return found
    }

    static func strings(_ value: Any?) -> [String] {
        ((value as? [Any]) ?? []).map { "\($0)" }
    }
}
