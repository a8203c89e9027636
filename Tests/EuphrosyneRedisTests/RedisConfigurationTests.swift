import EuphrosyneTestSupport
import EuphrosyneRedis
import Testing

/// Address parsing, defaults, back-off bounds, and the password never showing.
@Suite struct RedisConfigurationTests {
    @Test func defaults() {
        let configuration = RedisConfiguration()
        #expect(configuration.database == 0)
        #expect(configuration.protocolPreference == .resp3IfAvailable)
        #expect(configuration.connectTimeout == .seconds(5))
        #expect(configuration.commandTimeout == .seconds(5))
        #expect(configuration.reconnectBackoff.initial == .milliseconds(100))
        #expect(configuration.reconnectBackoff.maximum == .seconds(5))
    }

    @Test func hostAndPort() throws {
        let plain = try RedisConfiguration(address: "redis.internal:6380")
        #expect(plain.host == "redis.internal")
        #expect(plain.port == 6380)
        #expect(try RedisConfiguration(address: "localhost").port == 6379)
        let v6 = try RedisConfiguration(address: "[::1]:7000")
        #expect(v6.host == "::1")
        #expect(v6.port == 7000)
    }

    @Test func redisURL() throws {
        let full = try RedisConfiguration(address: "redis://alice:p%40ss@10.0.0.5:6390/4")
        #expect(full.username == "alice")
        #expect(full.password == "p@ss")
        #expect(full.host == "10.0.0.5")
        #expect(full.port == 6390)
        #expect(full.database == 4)
        let passwordOnly = try RedisConfiguration(address: "redis://:secret@[::1]")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.host == "::1")
        #expect(passwordOnly.port == 6379)
        #expect(try RedisConfiguration(address: "redis://h/").database == 0)
    }

    @Test(arguments: ["", "host:", "host:0", "host:70000", "host:http", "::1:6379", "[::1", "[::1]6379",
                      "rediss://host:6379", "redis://host:6379/x", "redis://host:6379/-1", "redis://u:%zz@h", ":6379"])
    func badAddressesAreRejected(_ address: String) {
        #expect(throws: RedisError(.invalidConfiguration)) { try RedisConfiguration(address: address) }
    }

    @Test func passwordNeverInDescription() throws {
        let configuration = try RedisConfiguration(address: "redis://alice:topsecret@h:1/2")
        #expect(!configuration.description.contains("topsecret"))
        #expect(!String(describing: configuration).contains("topsecret"))
        #expect(!String(reflecting: configuration).contains("topsecret"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("topsecret"))
        do {
            _ = try RedisConfiguration(address: "redis://u:topsecret@h:99999")
        } catch {
            #expect(!error.message.contains("topsecret"))
        }
    }

    @Test func backoffStaysWithinFullJitterBounds() {
        let backoff = RedisReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(5))
        for attempt in 1...40 {
            let ceiling = min(Duration.milliseconds(100) * (1 << min(attempt - 1, 30)), .seconds(5))
            for _ in 0..<20 {
                let delay = backoff.delay(forAttempt: attempt)
                #expect(delay >= .zero && delay <= ceiling)
            }
        }
    }
}
