/// Why a recipe could not do its job. RecipeKit reports it as a failed result where it can, prints it and
/// exits non-zero.
public struct RecipeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The argv does not follow the contract.
        case usage
        /// The data file is missing or is not the JSON object the reconciler writes.
        case dataFile
        /// The result could not be reported.
        case reporting
        /// The recipe's own work failed.
        case failed
        /// The recipe ran past its deadline.
        case deadline
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func usage(_ message: String) -> RecipeError { RecipeError(.usage, message) }
    public static func dataFile(_ message: String) -> RecipeError { RecipeError(.dataFile, message) }
    public static func reporting(_ message: String) -> RecipeError { RecipeError(.reporting, message) }
    public static func failed(_ message: String) -> RecipeError { RecipeError(.failed, message) }

    public var description: String { message }
}
