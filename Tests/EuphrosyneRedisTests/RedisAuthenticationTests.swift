@testable import EuphrosyneRedis
import EuphrosyneTestSupport
import Testing

/// The connection handshake against servers that demand credentials: requirepass, ACL users, RESP2 fallback.
@Suite struct RedisAuthenticationTests {
    @Test(arguments: [RedisConfiguration.ProtocolPreference.resp3IfAvailable, .resp2])
    func requirePass(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer(arguments: ["--requirepass", "s3cret"]) { server in
            var good = RedisTestSupport.configuration(server, preference)
            good.password = "s3cret"
            let connection = try await RedisConnection.connect(configuration: good, logger: RedisTestSupport.logger)
            #expect(try await connection.execute(PING()) == "PONG")
            await connection.close()

            var bad = good
            bad.password = "wrong"
            let refused = await #expect(throws: RedisError.self) {
                try await RedisConnection.connect(configuration: bad, logger: RedisTestSupport.logger)
            }
            #expect(refused?.code == .authenticationFailed)
            #expect(refused?.message == "WRONGPASS invalid username-password pair or user is disabled.")

            var anonymous = good
            anonymous.password = nil
            if preference == .resp2 {
                // RESP2 without credentials connects, and then every command is refused.
                let unauthenticated = try await RedisConnection.connect(configuration: anonymous, logger: RedisTestSupport.logger)
                let error = await #expect(throws: RedisError.self) { try await unauthenticated.execute(GET("k")) }
                #expect(error?.code == .serverError)
                #expect(error?.message == "NOAUTH Authentication required.")
                await unauthenticated.close()
            } else {
                let error = await #expect(throws: RedisError.self) {
                    try await RedisConnection.connect(configuration: anonymous, logger: RedisTestSupport.logger)
                }
                #expect(error?.code == .authenticationFailed)
                #expect(error?.serverErrorPrefix == "NOAUTH")
            }
        }
    }

    @Test(arguments: [RedisConfiguration.ProtocolPreference.resp3IfAvailable, .resp2])
    func aclUser(_ preference: RedisConfiguration.ProtocolPreference) async throws {
        try await withRedisServer { server in
            let admin = try await RedisConnection.connect(configuration: RedisTestSupport.configuration(server), logger: RedisTestSupport.logger)
            _ = try await admin.execute(RedisRawCommand("ACL", "SETUSER", "alice", "on", ">wonderland", "~*", "&*", "+@all"))
            await admin.close()

            var alice = RedisTestSupport.configuration(server, preference)
            alice.username = "alice"
            alice.password = "wonderland"
            alice.clientName = "alice-conn"
            let connection = try await RedisConnection.connect(configuration: alice, logger: RedisTestSupport.logger)
            #expect(try String(fromRESP: await connection.execute(RedisRawCommand("ACL", "WHOAMI"))) == "alice")
            #expect(try await connection.execute(RedisRawCommand("CLIENT", "GETNAME")).value == .bulkString(.init(string: "alice-conn")))
            await connection.close()

            alice.password = "looking-glass"
            let error = await #expect(throws: RedisError.self) {
                try await RedisConnection.connect(configuration: alice, logger: RedisTestSupport.logger)
            }
            #expect(error?.code == .authenticationFailed)
            #expect(error?.message == "WRONGPASS invalid username-password pair or user is disabled.")
            #expect(!"\(error!)".contains("looking-glass"))
        }
    }

    @Test func authWithoutAConfiguredPasswordIsRefused() async throws {
        try await withRedisServer { server in
            var configuration = RedisTestSupport.configuration(server, .resp2)
            configuration.password = "unneeded"
            let error = await #expect(throws: RedisError.self) {
                try await RedisConnection.connect(configuration: configuration, logger: RedisTestSupport.logger)
            }
            #expect(error?.code == .authenticationFailed)
            #expect(error?.message.hasPrefix("ERR AUTH <password> called without any password configured") == true)
        }
    }

    @Test func resp3IsRefusedThenRESP2IsUsed() async throws {
        // HELLO 4 is what an old server answering -NOPROTO looks like; the client must fall back. We check the
        // server's reply, then that a RESP2-only path works end to end with a name and credentials.
        try await withRedisServer(arguments: ["--requirepass", "pw"]) { server in
            var configuration = RedisTestSupport.configuration(server, .resp2)
            configuration.password = "pw"
            configuration.clientName = "fallback"
            let connection = try await RedisConnection.connect(configuration: configuration, logger: RedisTestSupport.logger)
            let hello4 = try await connection.send({ var encoder = RESPCommandEncoder(); HELLO(protocolVersion: 4).encode(into: &encoder); return encoder.buffer }())
            #expect(hello4.errorMessage?.hasPrefix("NOPROTO") == true)
            #expect(connection.protocolVersion == 2)
            #expect(try await connection.execute(CLIENT.LIST()).contains("name=fallback"))
            await connection.close()
        }
    }
}
