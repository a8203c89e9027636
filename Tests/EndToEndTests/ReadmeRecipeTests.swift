import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Testing

/// The shell recipes of docs/recipes.md's "Writing a recipe" section, run as they are printed there (the fixtures
/// are copies of its code blocks), so the documentation stays true.
@Suite struct ReadmeRecipeTests {
    static func install(_ fixture: String, in loop: LocalLoop) throws -> String {
        let source = try #require(Bundle.module.url(forResource: fixture, withExtension: "sh", subdirectory: "Fixtures"))
        return try loop.script(fixture, try String(contentsOf: source, encoding: .utf8)
            .replacingOccurrences(of: "#!/bin/sh\n", with: ""))
    }

    static func registry(_ entrypoint: String) -> String {
        LocalModeEndToEndTests.registry(debugging: """
            check-disk:
              enabled: true
              entrypoint: "\(entrypoint)"
            """)
    }

    @Test func theRedisCLIRecipeReportsOverRedis() async throws {
        let loop = try LocalLoop()
        defer { loop.remove() }
        let script = try Self.install("check-disk-redis", in: loop)
        try await withRedisServer { redis in
            try await loop.run(registry: Self.registry(script), redis: redis) { endpoints in
                let id = try await endpoints.alert(#"{"check":"disk"}"#)
                try await endpoints.waitForState(id, "analysed")
                let incident = try await endpoints.incident(id)
                #expect(incident["analysis"]?["text"]?.stringValue?.hasPrefix("check-disk: root filesystem at ") == true)
                #expect(incident["suggestedActions"] == .array([.string("record")]))
            }
        }
    }

    @Test func theCurlRecipeReportsOverTheCallback() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is needed for this recipe")
        let loop = try LocalLoop()
        defer { loop.remove() }
        let script = try Self.install("check-disk-callback", in: loop)
        try await loop.run(registry: Self.registry(script)) { endpoints in
            let id = try await endpoints.alert(#"{"check":"disk"}"#)
            try await endpoints.waitForState(id, "analysed")
            let incident = try await endpoints.incident(id)
            #expect(incident["analysis"]?["text"]?.stringValue?.hasPrefix("check-disk: root filesystem at ") == true)
        }
    }
}
