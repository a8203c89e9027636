import EuphrosyneCore
import EuphrosyneRecipes
import EuphrosyneTestSupport
import Foundation
import RecipeKit
import Synchronization
import Testing

/// The `webex-room` action against the fake Webex API (FakeWebex), served per test on a loopback port the OS picks.
@Suite struct WebexRoomRecipeTests {
    static let token = "fake-bot-token"

    static func environment(port: Int, _ extra: [String: String] = [:]) -> [String: String] {
        ["WEBEX_API_URL": FakeWebex.baseURL(port: port), "WEBEX_TOKEN": token].merging(extra) { $1 }
    }

    /// A recipe that never waits on the wall clock: its pauses go to `clock`, which records them and returns.
    static func recipe(_ clock: RecordingClock = RecordingClock(), attempts: Int = 4) -> WebexRoomRecipe {
        WebexRoomRecipe(attempts: attempts, initialBackoff: .milliseconds(500), requestTimeout: .seconds(10), clock: clock)
    }

    static func run(
        _ environment: [String: String], _ input: RecipeInput, recipe: WebexRoomRecipe = recipe()
    ) async throws -> RecipeOutcome {
        try await ActionInputs.outcome(recipe.run, ActionInputs.context("webex-room", environment: environment, input: input))
    }

    /// A fake that knows the people the tests add.
    static func fake(token: String = token) -> FakeWebex {
        let webex = FakeWebex(botToken: token)
        for (email, name) in [("alice@example.com", "Alice Doe"), ("bob@example.com", "Bob Roe"),
                              ("carol@example.com", "Carol Poe"), ("dave@example.com", "Dave Moe")] {
            webex.addPerson(email: email, displayName: name)
        }
        return webex
    }

    static func marker(_ input: RecipeInput) -> String { "[euphrosyne \(input.incident.prefix(8))]" }

    static func uuid(ofRoom id: String) -> String? {
        var base64 = id.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).flatMap { String(data: $0, encoding: .utf8) }?
            .split(separator: "/").last.map(String.init)
    }

    @Test func createsTheSpaceAddsTheMembersAndPostsTheAnalysis() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let input = ActionInputs.input(
                data: ["members": .array([.string("alice@example.com"), .string("Bob@example.com")]),
                       "ticket": .string("CHG-1")],
                analysis: "dummy: the api pod restarts every 30 s.\n\nLast log line: OOMKilled"
            )
            let outcome = try await Self.run(Self.environment(port: ports[0]), input)
            #expect(outcome.status == .successful, "\(outcome.analysis)")

            let room = try #require(webex.rooms.first)
            #expect(webex.rooms.count == 1)
            #expect(room.title == "PodCrashLooping: api pod restarting \(Self.marker(input))")
            let space = try #require(Self.uuid(ofRoom: room.id))
            let link = "webexteams://im?space=\(space)"
            #expect(outcome.links == [link, "https://web.webex.com/spaces/\(space)"])
            #expect(outcome.analysis.hasPrefix("Created the Webex space \"\(room.title)\" (\(link))"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("Added alice@example.com, Bob@example.com."), "\(outcome.analysis)")
            #expect(Set(webex.members(roomID: room.id)) == ["euphrosyne@webex.bot", "alice@example.com", "bob@example.com"])

            let json = try JSONValue.parseObject(Data(outcome.json.utf8))
            #expect(json["roomId"]?.stringValue == room.id)
            #expect(json["url"]?.stringValue == link)
            #expect(json["created"] == .bool(true))
            #expect(json["added"] == .array([.string("alice@example.com"), .string("Bob@example.com")]))

            let messages = webex.messages(roomID: room.id)
            #expect(messages.count == 1)
            let markdown = try #require(messages.first?.markdown)
            for expected in [input.incident, "PodCrashLooping (firing): api pod restarting", "`namespace=shop`",
                             "[Open in Alertmanager](http://alertmanager.example:9093)",
                             "http://prometheus.example/graph?g0.expr=up", "`ticket`: CHG-1",
                             "dummy: the api pod restarts every 30 s.", "Last log line: OOMKilled"] {
                #expect(markdown.contains(expected), "the message should mention \(expected): \(markdown)")
            }
            // Listed first, then created, added people, and posted: no update of anything else.
            #expect(webex.requestLog.map { "\($0.method) \($0.path)" } == [
                "GET /v1/rooms", "POST /v1/rooms", "POST /v1/memberships", "POST /v1/memberships", "POST /v1/messages",
            ])
        }
    }

    @Test func aSecondRunReusesTheSpaceAddsOnlyTheNewMembersAndPostsAnUpdate() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let environment = Self.environment(port: ports[0])
            let input = ActionInputs.input(data: ["members": .string("alice@example.com, bob@example.com")])
            let first = try await Self.run(environment, input)
            #expect(first.status == .successful, "\(first.analysis)")

            let again = ActionInputs.input(
                data: ["members": .string("bob@example.com,carol@example.com")], analysis: "second look: still crashing",
                incident: input.incident
            )
            let second = try await Self.run(environment, again)
            #expect(second.status == .successful, "\(second.analysis)")
            #expect(webex.rooms.count == 1)
            let room = try #require(webex.rooms.first)
            #expect(second.links == first.links)
            #expect(second.analysis.hasPrefix("Reused the Webex space \"\(room.title)\""), "\(second.analysis)")
            #expect(second.analysis.contains("found by its marker \(Self.marker(input))"))
            #expect(second.analysis.contains("Added carol@example.com."), "\(second.analysis)")
            #expect(second.analysis.contains("Already a member: bob@example.com."), "\(second.analysis)")
            #expect(second.json.contains(#""reused":true"#))
            #expect(Set(webex.members(roomID: room.id))
                == ["euphrosyne@webex.bot", "alice@example.com", "bob@example.com", "carol@example.com"])
            // Bob was not asked for again: only Carol's membership was posted in the second run.
            let posts = webex.requestLog.filter { $0.method == "POST" && $0.path == "/v1/memberships" }
            #expect(posts.map(\.status) == [200, 200, 200])

            let messages = webex.messages(roomID: room.id)
            #expect(messages.count == 2)
            let update = try #require(messages.last?.markdown)
            #expect(update.hasPrefix("### Update: "), "\(update)")
            #expect(update.contains("second look: still crashing"))
        }
    }

    @Test func theSpaceIsFoundOnALaterPageOfTheList() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let input = ActionInputs.input()
            let mine = webex.seedRoom(title: "Older incident \(Self.marker(input))", members: ["alice@example.com"])
            for index in 0..<150 { webex.seedRoom(title: "Another space \(index)") }
            let outcome = try await Self.run(
                Self.environment(port: ports[0], ["WEBEX_ROOM_MEMBERS": "alice@example.com"]), input
            )
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis.hasPrefix("Reused the Webex space \"Older incident"), "\(outcome.analysis)")
            #expect(webex.rooms.count == 151)
            #expect(webex.messages(roomID: mine).count == 1)
            #expect(webex.requestLog.filter { $0.path == "/v1/rooms" }.map(\.method) == ["GET", "GET"])
            #expect(!webex.requestLog.contains { $0.path == "/v1/memberships" && $0.method == "POST" })
        }
    }

    @Test func membersFromTheApprovalDataWinOverTheSetting() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let environment = Self.environment(port: ports[0], ["WEBEX_ROOM_MEMBERS": "alice@example.com, bob@example.com"])
            let outcome = try await Self.run(environment, ActionInputs.input(data: ["members": .array([.string("dave@example.com")])]))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let room = try #require(webex.rooms.first)
            #expect(Set(webex.members(roomID: room.id)) == ["euphrosyne@webex.bot", "dave@example.com"])

            // Without members in the data, the setting applies.
            let other = try await Self.run(environment, ActionInputs.input())
            #expect(other.status == .successful, "\(other.analysis)")
            let second = try #require(webex.rooms.last)
            #expect(Set(webex.members(roomID: second.id)) == ["euphrosyne@webex.bot", "alice@example.com", "bob@example.com"])
        }
    }

    @Test func aDryRunChangesNothingAndSaysWhatItWouldDo() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let input = ActionInputs.input(data: ["dryRun": .bool(true), "members": .string("alice@example.com")])
            let outcome = try await Self.run(Self.environment(port: ports[0]), input)
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let title = "PodCrashLooping: api pod restarting \(Self.marker(input))"
            #expect(outcome.analysis.hasPrefix("Dry run: nothing was changed in Webex. Would create the space \"\(title)\", add alice@example.com"),
                    "\(outcome.analysis)")
            #expect(outcome.json.contains(#""dryRun":true"#))
            #expect(webex.rooms.isEmpty)
            #expect(webex.messages.isEmpty)
            #expect(webex.requestLog.allSatisfy { $0.method == "GET" })

            // With DRY_RUN=1 and a space already there, it says it would reuse it and whom it would add.
            let room = webex.seedRoom(title: title, members: ["alice@example.com"])
            let again = try await Self.run(
                Self.environment(port: ports[0], ["DRY_RUN": "1"]),
                ActionInputs.input(data: ["members": .string("alice@example.com,bob@example.com")], incident: input.incident)
            )
            #expect(again.status == .successful, "\(again.analysis)")
            #expect(again.analysis.contains("Would reuse the space \"\(title)\""), "\(again.analysis)")
            #expect(again.analysis.contains(#"add bob@example.com from the approval data's "members" (alice@example.com already is a member)"#),
                    "\(again.analysis)")
            #expect(again.json.contains(#""wouldAdd":["bob@example.com"]"#))
            #expect(webex.rooms.count == 1)
            #expect(webex.members(roomID: room).count == 2)
            #expect(webex.messages.isEmpty)
            #expect(webex.requestLog.allSatisfy { $0.method == "GET" })
        }
    }

    @Test func throttlingIsWaitedOutAsWebexAsks() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let clock = RecordingClock()
            webex.failNext(1, status: 429, retryAfterSeconds: 7, pathPrefix: "/v1/rooms", method: "POST")
            webex.failNext(2, status: 503, pathPrefix: "/v1/messages")
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input(), recipe: Self.recipe(clock))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(webex.rooms.count == 1)
            #expect(webex.messages.count == 1)
            #expect(webex.requestLog.filter { $0.path == "/v1/rooms" && $0.method == "POST" }.map(\.status) == [429, 200])
            #expect(webex.requestLog.filter { $0.path == "/v1/messages" }.map(\.status) == [503, 503, 200])
            // Retry-After (7 s) rather than the first back-off (0.5 s); then 0.5 s and 1 s for the 503s.
            #expect(clock.pauses == [.seconds(7), .milliseconds(500), .seconds(1)])
        }
    }

    @Test func anUnknownOutcomeOfCreatingTheSpaceIsNeverRepeated() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            webex.failNext(1, status: 502, pathPrefix: "/v1/rooms", method: "POST")
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input())
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Webex answered 502"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("it was not created again"), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("Approving again is safe"), "\(outcome.analysis)")
            #expect(webex.requestLog.filter { $0.path == "/v1/rooms" }.map(\.method) == ["GET", "POST", "GET"])
            #expect(webex.rooms.isEmpty)
        }
    }

    @Test func aSpaceCreatedDespiteAnErrorIsFoundAndUsed() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            // Webex creates the space, but its answer is lost (a 504 from a gateway).
            webex.failNext(1, status: 504, pathPrefix: "/v1/rooms", method: "POST", afterDoing: true)
            let outcome = try await Self.run(
                Self.environment(port: ports[0]), ActionInputs.input(data: ["members": .string("alice@example.com")])
            )
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis.contains("the space was found by its marker"), "\(outcome.analysis)")
            #expect(webex.rooms.count == 1)
            let room = try #require(webex.rooms.first)
            #expect(webex.requestLog.filter { $0.path == "/v1/rooms" }.map { "\($0.method) \($0.status)" }
                == ["GET 200", "POST 504", "GET 200"])
            #expect(Set(webex.members(roomID: room.id)) == ["euphrosyne@webex.bot", "alice@example.com"])
            #expect(webex.messages(roomID: room.id).count == 1)
        }
    }

    @Test func unreachableWebexFailsWithTheReason() async throws {
        let port = try await ActionInputs.closedPort()
        let outcome = try await Self.run(Self.environment(port: port), ActionInputs.input(), recipe: Self.recipe(attempts: 2))
        #expect(outcome.status == .failed)
        #expect(outcome.analysis.contains("Webex at http://127.0.0.1:\(port) is unreachable"), "\(outcome.analysis)")
        #expect(outcome.analysis.contains("while listing the bot's spaces; gave up after 2 attempts"), "\(outcome.analysis)")
        #expect(!outcome.analysis.contains(Self.token))
    }

    @Test func aRefusedTokenIsNamedNeverShown() async throws {
        let webex = Self.fake(token: "the-real-bot-token")
        try await RunningServer.with([webex.router]) { ports in
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input())
            #expect(outcome.status == .failed)
            #expect(outcome.analysis.contains("Webex refused the bot token (401) while listing the bot's spaces"),
                    "\(outcome.analysis)")
            #expect(outcome.analysis.contains("WEBEX_TOKEN"))
            #expect(!outcome.analysis.contains(Self.token))
            #expect(webex.requestLog.count == 1)
        }
    }

    @Test func aMemberWebexRefusesIsReportedWhileTheRestIsDone() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let input = ActionInputs.input(data: [
                "members": .array([.string("alice@example.com"), .string("nobody@example.com"), .string("not-an-email"),
                                   .string("bob@example.com")]),
            ])
            let outcome = try await Self.run(Self.environment(port: ports[0]), input)
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(outcome.analysis.contains("Added alice@example.com, bob@example.com."), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("nobody@example.com (404: Person not found."), "\(outcome.analysis)")
            #expect(outcome.analysis.contains("not-an-email (not an email address)"), "\(outcome.analysis)")
            let room = try #require(webex.rooms.first)
            #expect(Set(webex.members(roomID: room.id)) == ["euphrosyne@webex.bot", "alice@example.com", "bob@example.com"])
            #expect(webex.messages(roomID: room.id).count == 1)
            let json = try JSONValue.parseObject(Data(outcome.json.utf8))
            #expect(json["refused"]?.arrayValue?.count == 2)
        }
    }

    @Test func aMissingTokenOrAnUnsafeAddressIsAClearError() async throws {
        let none = try await Self.run(["WEBEX_ROOM_MEMBERS": "alice@example.com"], ActionInputs.input())
        #expect(none.status == .failed)
        #expect(none.analysis.contains("WEBEX_TOKEN is not set (nor WEBEX_TOKEN_FILE)"), "\(none.analysis)")

        let missingFile = try await Self.run(["WEBEX_TOKEN_FILE": "/nonexistent/webex-token"], ActionInputs.input())
        #expect(missingFile.analysis.contains("cannot read WEBEX_TOKEN_FILE /nonexistent/webex-token"), "\(missingFile.analysis)")

        let clear = try await Self.run(
            ["WEBEX_TOKEN": Self.token, "WEBEX_API_URL": "http://webex.example.com/v1"], ActionInputs.input()
        )
        #expect(clear.status == .failed)
        #expect(clear.analysis.contains("WEBEX_API_URL must be an https URL"), "\(clear.analysis)")
        #expect(!clear.analysis.contains(Self.token))
    }

    @Test func theTokenMayComeFromAFile() async throws {
        let webex = Self.fake()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("webex-token-\(UUID().uuidString)")
        try Data("\(Self.token)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await RunningServer.with([webex.router]) { ports in
            var environment = Self.environment(port: ports[0], ["WEBEX_TOKEN_FILE": file.path])
            environment["WEBEX_TOKEN"] = nil
            let outcome = try await Self.run(environment, ActionInputs.input())
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            #expect(webex.rooms.count == 1)
        }
    }

    @Test func aLongAnalysisIsSplitIntoMessagesWebexAccepts() async throws {
        let webex = Self.fake()
        try await RunningServer.with([webex.router]) { ports in
            let paragraph = String(repeating: "Ω the api pod restarted again. ", count: 100)
            let analysis = Array(repeating: paragraph, count: 4).joined(separator: "\n\n")
            let outcome = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input(analysis: analysis))
            #expect(outcome.status == .successful, "\(outcome.analysis)")
            let messages = webex.messages
            #expect(messages.count > 1)
            #expect(messages.allSatisfy { ($0.markdown?.utf8.count ?? 0) <= FakeWebex.maximumMessageBytes })
            #expect(messages.first?.markdown?.hasSuffix("_(part 1 of \(messages.count))_") == true)
            #expect(outcome.analysis.contains("in \(messages.count) messages"), "\(outcome.analysis)")

            // Beyond four messages, the last says the rest was cut.
            let huge = Array(repeating: paragraph, count: 40).joined(separator: "\n\n")
            _ = try await Self.run(Self.environment(port: ports[0]), ActionInputs.input(analysis: huge))
            let room = try #require(webex.rooms.last)
            let parts = webex.messages(roomID: room.id)
            #expect(parts.count == 4)
            #expect(parts.last?.markdown?.contains("truncated: the rest did not fit") == true)
        }
    }
}

/// A clock whose pauses return at once, recording how long each was asked to be: back-off and `Retry-After` are
/// checked without waiting for them.
final class RecordingClock: Clock, Sendable {
    struct Instant: InstantProtocol, Sendable {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let recorded = Mutex<[Duration]>([])

    var pauses: [Duration] { recorded.withLock { $0 } }
    /// Time never moves: a pause's length is its deadline.
    var now: Instant { Instant(offset: .zero) }
    var minimumResolution: Duration { .zero }

    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        recorded.withLock { $0.append(deadline.offset) }
        try Task.checkCancellation()
    }
}
