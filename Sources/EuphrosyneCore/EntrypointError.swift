/// Why a recipe's entrypoint string could not be split into arguments.
///
/// Thrown by `Entrypoint.split(_:)`; `RecipeCatalog` turns it into a `CatalogProblem`.
public struct EntrypointError: Error, CustomStringConvertible, Sendable, Hashable {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
