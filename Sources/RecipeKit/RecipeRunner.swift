import EuphrosyneCore
import Foundation

/// Runs one recipe: parses the argv, loads the data file, runs the recipe's work before its deadline, reports
/// the result and picks the exit status.
///
/// A Swift recipe's `main` is one call: `exit(await RecipeRunner.run(name: "dummy") { input in … })`.
/// Anything that goes wrong is reported as a failed result where an incident is known, printed to stderr, and
/// ends in a non-zero exit status. When the reconciler gave a result key (`EUPHROSYNE_RESULT_KEY`), every result is
/// signed with it (`ResultSignature`) before it goes out, whichever reporter sends it.
public enum RecipeRunner {
    public typealias Work = @Sendable (RecipeContext) async throws -> RecipeOutcome

    /// Exit statuses: 0 a successful or unknown result was reported, 1 a failed one was, 2 the argv was wrong,
    /// 3 no result could be reported.
    public static func run(
        name: String,
        arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        reporter makeReporter: ((RecipeArguments, RecipeEnvironment) -> (any ResultReporter)?)? = nil,
        work: @escaping Work
    ) async -> Int32 {
        let settings = RecipeEnvironment(environment)
        let recipeName = settings.recipe ?? name
        let parsed: RecipeArguments
        do {
            parsed = try RecipeArguments.parse(arguments)
        } catch {
            printError("\(recipeName): \(error.message)\n\(RecipeArguments.usage)")
            return 2
        }
        let reporter: (any ResultReporter)?
        do throws(RecipeError) {
            if let makeReporter {
                reporter = makeReporter(parsed, settings)
            } else {
                reporter = try defaultReporter(parsed, settings, variables: environment)
            }
        } catch {
            printError("\(recipeName): \(error.message)")
            return 2
        }

        func report(_ outcome: RecipeOutcome, incident: String) async -> Int32 {
            var result = RecipeResult(
                incident: incident, name: recipeName, status: outcome.status,
                results: .init(actions: outcome.actions, analysis: outcome.analysis, json: outcome.json,
                               links: outcome.links)
            )
            if let key = settings.resultKey { result = ResultSignature.signed(result, key: key) }
            guard let reporter else {
                printError("\(recipeName): nowhere to report the result: --redis-address is empty and EUPHROSYNE_RESULT_URL is not set")
                return 3
            }
            do {
                try await reporter.report(result)
            } catch {
                printError("\(recipeName): \(error.message)")
                return 3
            }
            if outcome.status == .failed {
                printError("\(recipeName): failed: \(outcome.analysis)")
                return 1
            }
            return 0
        }

        let input: RecipeInput
        do {
            input = try RecipeInput.load(path: parsed.dataFilePath)
        } catch {
            printError("\(recipeName): \(error.message)")
            // Report the failure if the reconciler told us the incident, so the incident does not wait for us.
            if let incident = settings.incident {
                let status = await report(.failed(error.message), incident: incident)
                return status == 3 ? 3 : 1
            }
            return 1
        }

        let context = RecipeContext(name: recipeName, arguments: parsed, environment: settings, input: input)
        let outcome: RecipeOutcome
        do {
            outcome = try await withDeadline(settings.deadline) { try await work(context) }
        } catch let error as RecipeError {
            outcome = .failed(error.message)
        } catch {
            outcome = .failed("\(error)")
        }
        return await report(outcome, incident: input.incident)
    }

    /// Redis when the argv names one (the original contract), else the HTTP callback of local mode.
    static func defaultReporter(
        _ arguments: RecipeArguments, _ environment: RecipeEnvironment, variables: [String: String]
    ) throws(RecipeError) -> (any ResultReporter)? {
        if !arguments.redisAddress.isEmpty {
            return try RedisReporter(address: arguments.redisAddress, environment: variables)
        }
        if let url = environment.resultURL { return HTTPCallbackReporter(url: url) }
        return nil
    }

    /// Runs `work`, giving up a second before `deadline` so there is time left to report.
    static func withDeadline(
        _ deadline: Date?, _ work: @escaping @Sendable () async throws -> RecipeOutcome
    ) async throws -> RecipeOutcome {
        guard let deadline else { return try await work() }
        let budget = deadline.timeIntervalSinceNow - 1
        guard budget > 0 else { throw RecipeError(.deadline, "no time left before the run's deadline") }
        return try await withThrowingTaskGroup(of: RecipeOutcome.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: .seconds(budget))
                throw RecipeError(.deadline, "gave up: the run's deadline is about to pass")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// Everything a recipe's work gets: its name, argv, environment and input.
public struct RecipeContext: Sendable {
    public var name: String
    public var arguments: RecipeArguments
    public var environment: RecipeEnvironment
    public var input: RecipeInput

    /// For `RecipeRunner`, and for tests that call a recipe's work directly.
    public init(name: String, arguments: RecipeArguments, environment: RecipeEnvironment, input: RecipeInput) {
        self.name = name
        self.arguments = arguments
        self.environment = environment
        self.input = input
    }
}
