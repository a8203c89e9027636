@testable import EuphrosyneRedis
import EuphrosyneTestSupport
import NIOCore
import Testing

/// RedisSubscriber against a real redis-server, over RESP3 pushes and RESP2 subscribe mode.
@Suite struct RedisSubscriberTests {
    static let protocols: [RedisConfiguration.ProtocolPreference] = [.resp3IfAvailable, .resp2]

    private static func numberOfSubscribers(_ client: RedisClient, _ channel: String) async throws -> Int {
        let reply = try await client.execute(RedisRawCommand("PUBSUB", "NUMSUB", channel))
        let counts = try [String: Int](fromRESP: reply)
        return counts[channel] ?? -1
    }

    private static func subscribeCalls(_ client: RedisClient) async throws -> Int {
        let info = try String(fromRESP: await client.execute(RedisRawCommand("INFO", "commandstats")))
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_subscribe:") }),
              let calls = line.split(separator: ",").first?.split(separator: "=").last
        else { return 0 }
        return Int(calls) ?? -1
    }

    @Test(arguments: protocols)
    func messagesArriveInOrderOnTheRightSubscription(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server, preference), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let results = try await subscriber.subscribe(to: "results")
                let other = try await subscriber.subscribe(to: "other")
                #expect(subscriber.activeChannels == 2)
                for index in 0..<100 {
                    #expect(try await client.execute(PUBLISH("results", message: "r\(index)")) == 1)
                    if index % 10 == 0 { _ = try await client.execute(PUBLISH("other", message: "o\(index)")) }
                }
                let events = try await RedisTestSupport.events(results, count: 101)
                #expect(events.first == .subscribed)
                #expect(events.dropFirst() == ArraySlice((0..<100).map { RedisSubscriptionEvent.message(ByteBuffer(string: "r\($0)")) }))
                let otherEvents = try await RedisTestSupport.events(other, count: 11)
                #expect(otherEvents.dropFirst() == ArraySlice(stride(from: 0, to: 100, by: 10).map { RedisSubscriptionEvent.message(ByteBuffer(string: "o\($0)")) }))
            }
        }
    }

    @Test(arguments: protocols)
    func oneSubscribePerChannelAndUnsubscribeWithTheLast(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server, preference), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let first = try await subscriber.subscribe(to: "shared")
                let second = try await subscriber.subscribe(to: "shared")
                #expect(try await RedisTestSupport.events(second, count: 1) == [.subscribed])
                #expect(subscriber.subscribeCommandsSent == 1)
                #expect(try await Self.subscribeCalls(client) == 1)
                #expect(try await Self.numberOfSubscribers(client, "shared") == 1)

                #expect(try await client.execute(PUBLISH("shared", message: "both")) == 1)
                #expect(try await RedisTestSupport.events(first, count: 2) == [.subscribed, .message(ByteBuffer(string: "both"))])
                #expect(try await RedisTestSupport.events(second, count: 1) == [.message(ByteBuffer(string: "both"))])

                first.cancel()
                #expect(try await Self.numberOfSubscribers(client, "shared") == 1)
                #expect(try await client.execute(PUBLISH("shared", message: "second only")) == 1)
                #expect(try await RedisTestSupport.events(second, count: 1) == [.message(ByteBuffer(string: "second only"))])

                second.cancel()
                try await RedisTestSupport.eventually("UNSUBSCRIBE after the last subscription") {
                    try await Self.numberOfSubscribers(client, "shared") == 0
                }
                try await RedisTestSupport.eventually("the channel to be forgotten") { subscriber.activeChannels == 0 }
                #expect(try await RedisTestSupport.events(first, count: 1) == [])
            }
        }
    }

    @Test func cancellingTheIteratingTaskUnsubscribes() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                let subscription = try await subscriber.subscribe(to: "task-bound")
                let consumer = Task {
                    var count = 0
                    for await event in subscription where event != .subscribed { count += 1 }
                    return count
                }
                try await RedisTestSupport.eventually("the channel to be subscribed") {
                    try await Self.numberOfSubscribers(client, "task-bound") == 1
                }
                consumer.cancel()
                #expect(await consumer.value == 0)
                try await RedisTestSupport.eventually("UNSUBSCRIBE after cancellation") {
                    try await Self.numberOfSubscribers(client, "task-bound") == 0
                }
            }
        }
    }

    @Test(arguments: protocols)
    func subscribingWhileUnsubscribingResubscribes(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server, preference), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                for round in 0..<20 {
                    let old = try await subscriber.subscribe(to: "flapping")
                    old.cancel()
                    // The UNSUBSCRIBE is in flight now; this subscription must end up active all the same.
                    let fresh = try await subscriber.subscribe(to: "flapping")
                    #expect(try await RedisTestSupport.events(fresh, count: 1) == [.subscribed])
                    #expect(try await client.execute(PUBLISH("flapping", message: "round \(round)")) == 1)
                    #expect(try await RedisTestSupport.events(fresh, count: 1) == [.message(ByteBuffer(string: "round \(round)"))])
                    fresh.cancel()
                }
                try await RedisTestSupport.eventually("everything unsubscribed") {
                    try await Self.numberOfSubscribers(client, "flapping") == 0
                }
            }
        }
    }

    @Test(arguments: protocols)
    func thousandChannelsOverOneConnection(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            var configuration = RedisTestSupport.configuration(server, preference)
            configuration.clientName = "the-subscriber"
            let subscriber = RedisSubscriber(configuration: configuration, logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let start = ContinuousClock.now
                let subscriptions = try await withThrowingTaskGroup(of: RedisSubscription.self) { group in
                    for index in 0..<1000 {
                        group.addTask { try await subscriber.subscribe(to: "ch:\(index)") }
                    }
                    var all: [RedisSubscription] = []
                    for try await subscription in group { all.append(subscription) }
                    return all
                }
                let concurrent = ContinuousClock.now - start
                let batchStart = ContinuousClock.now
                let batch = try await subscriber.subscribe(to: (0..<1000).map { "batch:\($0)" })
                let batched = ContinuousClock.now - batchStart
                print("[measure] \(preference): 1000 concurrent subscribe() calls \(concurrent); one 1000-channel subscribe \(batched)")
                #expect(subscriptions.count == 1000)
                #expect(batch.count == 1000)
                #expect(subscriber.activeChannels == 2000)
                let clients = try await client.execute(CLIENT.LIST()).split(separator: "\n").filter { $0.contains("name=the-subscriber") }
                #expect(clients.count == 1)
                #expect(clients.first?.contains(" sub=2000 ") == true)
                #expect(try await client.execute(PUBLISH("ch:777", message: "hit")) == 1)
                let target = try #require(subscriptions.first { $0.channel == "ch:777" })
                #expect(try await RedisTestSupport.events(target, count: 2) == [.subscribed, .message(ByteBuffer(string: "hit"))])
            }
        }
    }

    @Test(arguments: protocols)
    func everyChannelIsResubscribedAfterARestart(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server, preference), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let subscriptions = try await subscriber.subscribe(to: ["a", "b", "c"])
                let doubled = try await subscriber.subscribe(to: "a")
                for subscription in subscriptions + [doubled] {
                    #expect(try await RedisTestSupport.events(subscription, count: 1) == [.subscribed])
                }
                await server.kill()
                try await RedisTestSupport.eventually("the subscriber to notice the loss") { !subscriber.isConnected }
                try await server.restart()
                for subscription in subscriptions + [doubled] {
                    #expect(try await RedisTestSupport.events(subscription, count: 1) == [.subscribed], "\(subscription.channel)")
                }
                #expect(subscriber.reconnects >= 1)
                #expect(subscriber.activeChannels == 3)
                try await RedisTestSupport.eventually("the client to reconnect too") { try await client.execute(PING()) == "PONG" }
                #expect(try await Self.numberOfSubscribers(client, "a") == 1)
                for channel in ["a", "b", "c"] {
                    #expect(try await client.execute(PUBLISH(channel, message: "after \(channel)")) == 1)
                }
                for subscription in subscriptions {
                    #expect(try await RedisTestSupport.events(subscription, count: 1) == [.message(ByteBuffer(string: "after \(subscription.channel)"))])
                }
                #expect(try await RedisTestSupport.events(doubled, count: 1) == [.message(ByteBuffer(string: "after a"))])
            }
        }
    }

    @Test func subscriptionsMadeWhileDisconnectedComeUpLater() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            // Not running yet: subscribe returns at once and the channel comes up with the connection.
            let early = try await subscriber.subscribe(to: "early")
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                #expect(try await RedisTestSupport.events(early, count: 1) == [.subscribed])
                #expect(try await client.execute(PUBLISH("early", message: "m")) == 1)
                #expect(try await RedisTestSupport.events(early, count: 1) == [.message(ByteBuffer(string: "m"))])
            }
            #expect(try await RedisTestSupport.events(early, count: 1) == [], "shutdown ends every subscription")
        }
    }

    @Test func redisCLIPublishArrives() async throws {
        try await withRedisServer { server in
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let subscription = try await subscriber.subscribe(to: "recipes:results")
                let output = try await RedisTestSupport.run("redis-cli", ["-h", "127.0.0.1", "-p", String(server.port), "PUBLISH", "recipes:results", "{\"ok\":true}"])
                #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
                #expect(try await RedisTestSupport.events(subscription, count: 2) == [.subscribed, .message(ByteBuffer(string: "{\"ok\":true}"))])
            }
        }
    }

    @Test func overflowDropsTheNewestAndSaysSo() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(configuration: RedisTestSupport.configuration(server), bufferCapacity: 2, logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let subscription = try await subscriber.subscribe(to: "firehose")
                #expect(try await RedisTestSupport.events(subscription, count: 1) == [.subscribed])
                for index in 0..<10 { _ = try await client.execute(PUBLISH("firehose", message: "m\(index)")) }
                try await RedisTestSupport.eventually("8 drops to be counted") { subscriber.droppedMessages == 8 }
                #expect(try await RedisTestSupport.events(subscription, count: 3) == [
                    .message(ByteBuffer(string: "m0")), .message(ByteBuffer(string: "m1")), .dropped(count: 8),
                ])
                _ = try await client.execute(PUBLISH("firehose", message: "later"))
                #expect(try await RedisTestSupport.events(subscription, count: 1) == [.message(ByteBuffer(string: "later"))])
            }
        }
    }

    @Test func refusedChannelThrowsTheServerError() async throws {
        try await withRedisServer { server in
            let admin = try await RedisConnection.connect(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            // Redis 7 users get no channel access by default (resetchannels).
            _ = try await admin.execute(RedisRawCommand("ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all"))
            await admin.close()
            var configuration = RedisTestSupport.configuration(server)
            configuration.username = "bob"
            configuration.password = "pw"
            let subscriber = RedisSubscriber(configuration: configuration, logger: RedisTestSupport.logger)
            try await RedisTestSupport.withRunning([subscriber]) { () async throws in
                try await RedisTestSupport.eventually("the subscriber to connect") { subscriber.isConnected }
                let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe(to: "forbidden") }
                #expect(error?.code == .serverError)
                #expect(error?.serverErrorPrefix == "NOPERM")
                #expect(subscriber.activeChannels == 0)
                #expect(subscriber.isConnected)
            }
        }
    }

    @Test func resp2KeepAlivePingDoesNotDisturbMessages() async throws {
        try await withRedisServer { server in
            let client = RedisClient(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            let subscriber = RedisSubscriber(
                configuration: RedisTestSupport.configuration(server, .resp2), keepAliveInterval: .milliseconds(20), logger: RedisTestSupport.logger
            )
            try await RedisTestSupport.withRunning([client, subscriber]) { () async throws in
                let subscription = try await subscriber.subscribe(to: "pinged")
                #expect(try await RedisTestSupport.events(subscription, count: 1) == [.subscribed])
                for index in 0..<20 {
                    _ = try await client.execute(PUBLISH("pinged", message: "\(index)"))
                    #expect(try await RedisTestSupport.events(subscription, count: 1) == [.message(ByteBuffer(string: "\(index)"))])
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(subscriber.isConnected)
                #expect(subscriber.reconnects == 0)
            }
        }
    }
}
