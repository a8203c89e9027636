@testable import EuphrosyneRedis
import EuphrosyneTestSupport
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// RedisClient against a real redis-server: commands, pipelining, timeouts, reconnects, shutdown.
@Suite struct RedisClientTests {
    @Test(arguments: [RedisConfiguration.ProtocolPreference.resp3IfAvailable, .resp2])
    func commandRoundTrips(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            var configuration = RedisTestSupport.configuration(server, preference)
            configuration.clientName = "round-trips"
            let client = RedisClient(configuration: configuration, logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client]) { () async throws in
                #expect(try await client.execute(PING()) == "PONG")
                #expect(try await client.execute(PING("hi")) == "hi")
                let connection = try await client.connection()
                #expect(connection.protocolVersion == (preference == .resp2 ? 2 : 3))

                #expect(try await client.execute(SET("k", value: "v")) == RedisOK())
                #expect(try await client.execute(GET("k"))?.text == "v")
                #expect(try await client.execute(GET("missing")) == nil)
                #expect(try await client.execute(SET("k", value: "w", condition: .ifNotExists)) == nil)
                #expect(try await client.execute(SET("k", value: "w", condition: .ifExists)) == RedisOK())
                #expect(try await client.execute(SET("ttl", value: "x", expiration: .seconds(100))) == RedisOK())
                let ttl = try await client.execute(TTL("ttl"))
                #expect((1...100).contains(ttl))
                #expect(try await client.execute(EXPIRE("k", seconds: 50)))
                #expect(try await client.execute(EXISTS("k", "ttl", "missing")) == 2)
                #expect(try await client.execute(DEL("k", "ttl", "missing")) == 2)

                #expect(try await client.execute(RPUSH("list", "a", "b", "c")) == 3)
                #expect(try await client.execute(LRANGE("list", start: 0, stop: -1)).map(\.text) == ["a", "b", "c"])
                #expect(try await client.execute(LLEN("list")) == 3)

                #expect(try await client.execute(HSET("hash", ["f1": "v1"])) == 1)
                #expect(try await client.execute(HSET("hash", fields: [(field: "f2", value: ByteBuffer(string: "v2"))])) == 1)
                #expect(try await client.execute(HGET("hash", field: "f1"))?.text == "v1")
                #expect(try await client.execute(HGETALL("hash")).mapValues(\.text) == ["f1": "v1", "f2": "v2"])

                #expect(try await client.execute(SADD("set", "a", "b", "c")) == 3)
                #expect(try await client.execute(SREM("set", "b")) == 1)
                #expect(Set(try await client.execute(SMEMBERS("set"))) == ["a", "c"])

                #expect(try await client.execute(ZADD("z", members: [(1, "one"), (2, "two"), (3, "three")])) == 3)
                #expect(try await client.execute(ZREVRANGE("z", start: 0, stop: -1)) == ["three", "two", "one"])
                #expect(try await client.execute(ZCARD("z")) == 3)
                #expect(try await client.execute(ZREMRANGEBYSCORE("z", min: .negativeInfinity, max: .exclusive(2))) == 1)
                #expect(try await client.execute(ZREM("z", "two")) == 1)
                #expect(try await client.execute(ZREVRANGE("z", start: 0, stop: -1)) == ["three"])

                let evaluated = try await client.execute(EVAL("return {KEYS[1], ARGV[1], 7}", keys: ["key"], arguments: ["arg"]))
                guard case .array(let parts) = evaluated.value else {
                    Issue.record("EVAL did not return an array: \(evaluated)")
                    return
                }
                #expect(Array(parts).map(\.value) == [.bulkString(ByteBuffer(string: "key")), .bulkString(ByteBuffer(string: "arg")), .number(7)])

                #expect(try await client.execute(PUBLISH("nobody", message: "x")) == 0)
                #expect(try await client.execute(CLIENT.LIST()).contains("name=round-trips"))

                let wrongType = await #expect(throws: RedisError.self) { try await client.execute(GET("list")) }
                #expect(wrongType?.code == .serverError)
                #expect(wrongType?.serverErrorPrefix == "WRONGTYPE")
                #expect(wrongType?.message == "WRONGTYPE Operation against a key holding the wrong kind of value")
                let unknown = await #expect(throws: RedisError.self) { try await client.execute(RedisRawCommand("NOSUCHCOMMAND")) }
                #expect(unknown?.message.hasPrefix("ERR unknown command") == true)
                // The connection is still fine after error replies.
                #expect(try await client.execute(PING()) == "PONG")
            }
        }
    }

    @Test func largeValuesRoundTrip() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client]) { () async throws in
                var value = ByteBuffer()
                value.writeRepeatingByte(UInt8(ascii: "q"), count: 5 * 1024 * 1024)
                #expect(try await client.execute(SET("big", value: value)) == RedisOK())
                #expect(try await client.execute(GET("big")) == value)
            }
        }
    }

    @Test func thousandConcurrentCommandsArePipelinedAndMatched() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client]) { () async throws in
                _ = try await client.execute(PING())
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<1000 {
                        group.addTask { () async throws in
                            #expect(try await client.execute(SET("key:\(index)", value: "value:\(index)")) == RedisOK())
                            #expect(try await client.execute(GET("key:\(index)"))?.text == "value:\(index)")
                            #expect(try await client.execute(PING("echo-\(index)")) == "echo-\(index)")
                        }
                    }
                    try await group.waitForAll()
                }
                let elapsed = ContinuousClock.now - start
                print("[measure] 1000 concurrent tasks × 3 commands on one connection: \(elapsed)")
                let clients = try await client.execute(CLIENT.LIST()).split(separator: "\n")
                #expect(clients.count == 1)
            }
        }
    }

    @Test func commandTimeout() async throws {
        try await withRedisServer(arguments: ["--enable-debug-command", "yes"]) { server in
            var configuration = RedisTestSupport.configuration(server)
            configuration.commandTimeout = .milliseconds(200)
            let client = RedisClient(configuration: configuration, logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client]) { () async throws in
                // 200 ms is tight on a busy box: wait for the connection rather than expect it within one timeout.
                try await RedisTestSupport.eventually("the client to connect") { try await client.execute(PING()) == "PONG" }
                let start = ContinuousClock.now
                // The server sleeps 5 s; an answer well before that can only be the 200 ms timeout (the bound leaves a
                // loaded machine seconds of room).
                let error = await #expect(throws: RedisError.self) { try await client.execute(RedisRawCommand("DEBUG", "SLEEP", "5")) }
                let elapsed = ContinuousClock.now - start
                #expect(error?.code == .timeout)
                #expect(elapsed < .seconds(4), "timed out after \(elapsed)")
            }
        }
    }

    @Test func notConnectedAfterTheCommandTimeout() async throws {
        var configuration = RedisConfiguration(port: 1)
        configuration.commandTimeout = .milliseconds(150)
        // Never run: execute must not wait forever.
        let client = RedisClient(configuration: configuration, logger: RedisTestSupport.logger)
        let error = await #expect(throws: RedisError.self) { try await client.execute(PING()) }
        #expect(error?.code == .notConnected)
        #expect(!client.isConnected)
    }

    @Test func selectsTheConfiguredDatabase() async throws {
        try await withRedisServer { server in
            var three = RedisTestSupport.configuration(server)
            three.database = 3
            let inThree = RedisClient(configuration: three, logger: RedisTestSupport.logger)
            let inZero = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([inThree, inZero]) { () async throws in
                #expect(try await inThree.execute(SET("where", value: "three")) == RedisOK())
                #expect(try await inZero.execute(GET("where")) == nil)
                #expect(try await inThree.execute(GET("where"))?.text == "three")
            }
            var outOfRange = RedisTestSupport.configuration(server)
            outOfRange.database = 99
            let error = await #expect(throws: RedisError.self) {
                try await RedisConnection.connect(configuration: outOfRange, logger: RedisTestSupport.logger)
            }
            #expect(error?.code == .serverError)
            #expect(error?.message == "ERR DB index is out of range")
        }
    }

    @Test func reconnectsAfterTheServerRestarts() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client]) { () async throws in
                #expect(try await client.execute(SET("before", value: "1")) == RedisOK())
                #expect(client.isConnected)
                await server.kill()
                try await RedisTestSupport.eventually("the client to notice the loss") { !client.isConnected }
                try await server.restart()
                let start = ContinuousClock.now
                try await RedisTestSupport.eventually("commands to work again") { try await client.execute(PING()) == "PONG" }
                print("[measure] reconnect after restart: \(ContinuousClock.now - start)")
                #expect(client.reconnects >= 1)
                #expect(try await client.execute(SET("after", value: "2")) == RedisOK())
            }
        }
    }

    @Test func inFlightCommandsFailWhenTheConnectionDrops() async throws {
        try await withRedisServer(arguments: ["--enable-debug-command", "yes"]) { server in
            let connection = try await RedisConnection.connect(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let sleeping = Task { try await connection.execute(RedisRawCommand("DEBUG", "SLEEP", "5")) }
            // Whether the kill lands before or after the command reaches the server, the caller sees connectionClosed.
            await server.kill()
            let error = await #expect(throws: RedisError.self) { try await sleeping.value }
            #expect(error?.code == .connectionClosed)
        }
    }

    @Test func gracefulShutdownStopsRun() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let group = ServiceGroup(services: [client, subscriber], logger: RedisTestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                #expect(try await client.execute(PING()) == "PONG")
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(!client.isConnected)
            #expect(!subscriber.isConnected)
            let error = await #expect(throws: RedisError.self) { try await client.execute(PING()) }
            #expect(error?.code == .notConnected)
        }
    }
}
