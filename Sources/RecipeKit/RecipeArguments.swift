/// The argv every recipe receives, exactly as the original system passed it:
/// `--data-file-path PATH --aggregator-address ADDR --redis-address HOST:PORT`.
///
/// Parsed strictly, like the original SDK: an unknown flag or a missing value is an error, so a typo in a
/// registry's entrypoint shows up at once instead of being ignored.
public struct RecipeArguments: Sendable, Hashable {
    public var dataFilePath: String
    public var aggregatorAddress: String
    public var redisAddress: String

    public init(dataFilePath: String, aggregatorAddress: String = "", redisAddress: String = "") {
        self.dataFilePath = dataFilePath
        self.aggregatorAddress = aggregatorAddress
        self.redisAddress = redisAddress
    }

    /// Parses the flags (without the program name). Each flag takes `--flag value` or `--flag=value`.
    public static func parse(_ arguments: [String]) throws(RecipeError) -> RecipeArguments {
        var values: [String: String] = [:]
        let known = ["--data-file-path", "--aggregator-address", "--redis-address"]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let flag: String
            let value: String
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
                index += 1
            } else {
                flag = argument
                guard known.contains(flag) else { throw .usage("unexpected argument \"\(argument)\"") }
                guard index + 1 < arguments.count else { throw .usage("\(flag) needs a value") }
                value = arguments[index + 1]
                index += 2
            }
            guard known.contains(flag) else { throw .usage("unknown flag \"\(flag)\"") }
            guard values[flag] == nil else { throw .usage("\(flag) given twice") }
            values[flag] = value
        }
        guard let path = values["--data-file-path"], !path.isEmpty else {
            throw .usage("--data-file-path is required")
        }
        return RecipeArguments(
            dataFilePath: path, aggregatorAddress: values["--aggregator-address"] ?? "",
            redisAddress: values["--redis-address"] ?? ""
        )
    }

    public static let usage =
        "usage: RECIPE --data-file-path PATH [--aggregator-address ADDR] [--redis-address HOST:PORT]"
}
