import EuphrosyneCore
import EuphrosyneTestSupport
import Foundation
import Hummingbird
import Synchronization
import Testing

@testable import RecipeKit

@Suite struct RecipeArgumentsTests {
    @Test func parsesTheOriginalArgv() throws {
        let parsed = try RecipeArguments.parse([
            "--data-file-path", "/app/data.json", "--aggregator-address", "http://aggregator:8000",
            "--redis-address", "redis:6379",
        ])
        #expect(parsed == RecipeArguments(dataFilePath: "/app/data.json", aggregatorAddress: "http://aggregator:8000",
                                          redisAddress: "redis:6379"))
        #expect(try RecipeArguments.parse(["--redis-address=r:1", "--data-file-path=/d"])
            == RecipeArguments(dataFilePath: "/d", redisAddress: "r:1"))
    }

    @Test(arguments: [
        (["--data-file-path", "/d", "--verbose"], "unexpected argument \"--verbose\""),
        (["--data-file-path", "/d", "--callback=x"], "unknown flag \"--callback\""),
        (["--data-file-path"], "--data-file-path needs a value"),
        (["--redis-address", "r:1"], "--data-file-path is required"),
        (["--data-file-path", "/a", "--data-file-path", "/b"], "--data-file-path given twice"),
        (["extra"], "unexpected argument \"extra\""),
    ])
    func refusesAnythingOutsideTheContract(arguments: [String], message: String) {
        #expect(throws: RecipeError.usage(message)) { try RecipeArguments.parse(arguments) }
    }
}

@Suite struct RecipeInputTests {
    static func file(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recipekit-\(UUID().uuidString).json").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func loadsTheIncidentAndItsAlert() throws {
        let path = try Self.file(#"{"uuid":"u-1","version":"4","commonLabels":{"alertname":"X"},"alerts":[{"labels":{"alertname":"X","pod":"p"},"status":"firing"}]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let input = try RecipeInput.load(path: path)
        #expect(input.incident == "u-1")
        #expect(input.alert.source == .alertmanager)
        #expect(input.alert.alerts.first?.labels["pod"] == "p")
        #expect(input.alert.raw["uuid"] == nil)
    }

    @Test func anActionSeesItsDataAndTheNestedAlert() throws {
        let path = try Self.file(#"{"uuid":"u-1","summary":"api down","alert":{"hello":"world"}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let input = try RecipeInput.load(path: path)
        #expect(input.string("summary") == "api down")
        #expect(input.alert.raw == ["hello": .string("world")])
    }

    @Test func explainsAMissingOrBrokenDataFile() throws {
        #expect(throws: RecipeError.self) { try RecipeInput.load(path: "/nonexistent/data.json") }
        let broken = try Self.file("{not json")
        let noUUID = try Self.file(#"{"a":1}"#)
        defer {
            try? FileManager.default.removeItem(atPath: broken)
            try? FileManager.default.removeItem(atPath: noUUID)
        }
        do {
            _ = try RecipeInput.load(path: broken)
            Issue.record("a broken data file must be refused")
        } catch {
            #expect(error.kind == .dataFile)
            #expect(error.message.contains("is not valid"))
        }
        #expect(throws: RecipeError.dataFile("the data file \(noUUID) has no \"uuid\" string")) {
            try RecipeInput.load(path: noUUID)
        }
    }
}

/// Keeps reported results instead of sending them.
final class RecordingReporter: ResultReporter {
    private let results = Mutex<[RecipeResult]>([])
    var reported: [RecipeResult] { results.withLock { $0 } }
    func report(_ result: RecipeResult) async throws(RecipeError) { results.withLock { $0.append(result) } }
}

@Suite struct RecipeRunnerTests {
    static func run(
        arguments: [String], environment: [String: String] = [:], reporter: RecordingReporter,
        work: @escaping RecipeRunner.Work
    ) async -> Int32 {
        await RecipeRunner.run(name: "probe", arguments: arguments, environment: environment,
                               reporter: { _, _ in reporter }, work: work)
    }

    @Test func reportsTheOutcomeInTheWireSchemaAndExitsZero() async throws {
        let path = try RecipeInputTests.file(#"{"uuid":"u-1"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reporter = RecordingReporter()
        let status = await Self.run(arguments: ["--data-file-path", path], environment: ["EUPHROSYNE_RECIPE": "dummy"],
                                    reporter: reporter) { context in
            #expect(context.input.incident == "u-1")
            return .successful("looked", actions: ["jira"], links: ["https://x"])
        }
        #expect(status == 0)
        #expect(reporter.reported == [RecipeResult(
            incident: "u-1", name: "dummy", status: .successful,
            results: .init(actions: ["jira"], analysis: "looked", json: "", links: ["https://x"]))])
    }

    @Test func aThrowingRecipeReportsAFailureAndExitsOne() async throws {
        let path = try RecipeInputTests.file(#"{"uuid":"u-1"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reporter = RecordingReporter()
        let status = await Self.run(arguments: ["--data-file-path", path], reporter: reporter) { _ in
            throw RecipeError.failed("aggregator answered 503")
        }
        #expect(status == 1)
        #expect(reporter.reported.map(\.status) == [.failed])
        #expect(reporter.reported.first?.results.analysis == "aggregator answered 503")
        #expect(reporter.reported.first?.name == "probe")
    }

    @Test func aBadArgvExitsTwoWithoutReporting() async {
        let reporter = RecordingReporter()
        let status = await Self.run(arguments: ["--nope"], reporter: reporter) { _ in .successful("x") }
        #expect(status == 2)
        #expect(reporter.reported.isEmpty)
    }

    @Test func aMissingDataFileIsReportedWhenTheIncidentIsKnown() async {
        let reporter = RecordingReporter()
        let status = await Self.run(arguments: ["--data-file-path", "/nonexistent/data.json"],
                                    environment: ["EUPHROSYNE_INCIDENT": "u-9"], reporter: reporter) { _ in
            Issue.record("the work must not run without input")
            return .successful("x")
        }
        #expect(status == 1)
        #expect(reporter.reported.first?.incident == "u-9")
        #expect(reporter.reported.first?.status == .failed)
        #expect(reporter.reported.first?.results.analysis.contains("/nonexistent/data.json") == true)
    }

    @Test func aRecipeGivesUpBeforeItsDeadline() async throws {
        let path = try RecipeInputTests.file(#"{"uuid":"u-1"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reporter = RecordingReporter()
        let deadline = String(Int(Date().timeIntervalSince1970) + 2)
        let status = await Self.run(arguments: ["--data-file-path", path], environment: ["EUPHROSYNE_DEADLINE": deadline],
                                    reporter: reporter) { _ in
            try await Task.sleep(for: .seconds(60))
            return .successful("too late")
        }
        #expect(status == 1)
        #expect(reporter.reported.first?.results.analysis == "gave up: the run's deadline is about to pass")
    }
}

@Suite struct HTTPCallbackReporterTests {
    /// A callback endpoint answering the queued statuses, recording bodies.
    final class Callback: Sendable {
        let state = Mutex<(bodies: [Data], answers: [Int])>(([], []))
        var router: Router<BasicRequestContext> {
            let router = Router(context: BasicRequestContext.self)
            router.post("/results/u/secret") { [self] request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let status = state.withLock { state -> Int in
                    state.bodies.append(Data(body.readableBytesView))
                    return state.answers.isEmpty ? 202 : state.answers.removeFirst()
                }
                return Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"duplicate result from dummy"}}"#)))
            }
            return router
        }
    }

    static let result = RecipeResult(incident: "u", name: "dummy", status: .successful,
                                     results: .init(actions: ["jira"], analysis: "ok"))

    @Test func postsTheResultAndRetriesServerErrors() async throws {
        let callback = Callback()
        callback.state.withLock { $0.answers = [503] }
        try await RunningServer.with([callback.router]) { ports in
            try await HTTPCallbackReporter(url: "http://127.0.0.1:\(ports[0])/results/u/secret").report(Self.result)
        }
        let bodies = callback.state.withLock { $0.bodies }
        #expect(bodies.count == 2)
        #expect(try RecipeResult.decode(bodies[1]) == Self.result)
    }

    @Test func aRefusalIsFinalAndExplained() async throws {
        let callback = Callback()
        callback.state.withLock { $0.answers = [409] }
        try await RunningServer.with([callback.router]) { ports in
            do {
                try await HTTPCallbackReporter(url: "http://127.0.0.1:\(ports[0])/results/u/secret").report(Self.result)
                Issue.record("a 409 must fail the report")
            } catch let error as RecipeError {
                #expect(error.kind == .reporting)
                #expect(error.message.contains("409") && error.message.contains("duplicate result from dummy"))
            }
        }
        #expect(callback.state.withLock { $0.bodies.count } == 1)
    }
}

/// With `EUPHROSYNE_RESULT_KEY` in its environment, a recipe signs what it reports, over either way of reporting.
@Suite struct SignedReportingTests {
    static let key = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f"

    @Test func theKeyIsReadFromTheEnvironment() {
        #expect(RecipeEnvironment(["EUPHROSYNE_RESULT_KEY": Self.key]).resultKey == Self.key)
        #expect(RecipeEnvironment(["EUPHROSYNE_RESULT_KEY": ""]).resultKey == nil)
        #expect(RecipeEnvironment([:]).resultKey == nil)
    }

    @Test func aResultPostedToTheCallbackIsSigned() async throws {
        let path = try RecipeInputTests.file(#"{"uuid":"u"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let callback = HTTPCallbackReporterTests.Callback()
        let status = try await RunningServer.with([callback.router]) { ports in
            await RecipeRunner.run(
                name: "dummy", arguments: ["--data-file-path", path],
                environment: ["EUPHROSYNE_RESULT_URL": "http://127.0.0.1:\(ports[0])/results/u/secret",
                              "EUPHROSYNE_RESULT_KEY": Self.key]
            ) { _ in .successful("looked", actions: ["jira"]) }
        }
        #expect(status == 0)
        let bodies = callback.state.withLock { $0.bodies }
        #expect(bodies.count == 1)
        let sent = try RecipeResult.decode(try #require(bodies.first))
        #expect(sent.signature?.hasPrefix("sha256=") == true)
        #expect(ResultSignature.verify(sent, key: Self.key))
        #expect(sent.results.analysis == "looked")
    }

    @Test func withoutAKeyTheResultIsUnsignedAsBefore() async throws {
        let path = try RecipeInputTests.file(#"{"uuid":"u-1"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reporter = RecordingReporter()
        _ = await RecipeRunner.run(name: "probe", arguments: ["--data-file-path", path], environment: [:],
                                   reporter: { _, _ in reporter }) { _ in .successful("x") }
        #expect(reporter.reported.map(\.signature) == [nil])
        // Even a failure to load the data file is signed when there is a key.
        let signedFailure = RecordingReporter()
        _ = await RecipeRunner.run(name: "probe", arguments: ["--data-file-path", "/nonexistent/data.json"],
                                   environment: ["EUPHROSYNE_INCIDENT": "u-9", "EUPHROSYNE_RESULT_KEY": Self.key],
                                   reporter: { _, _ in signedFailure }) { _ in .successful("x") }
        #expect(signedFailure.reported.count == 1)
        #expect(signedFailure.reported.allSatisfy { ResultSignature.verify($0, key: Self.key) })
    }
}
