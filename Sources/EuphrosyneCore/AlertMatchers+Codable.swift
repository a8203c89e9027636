extension AlertMatchers: Codable {
    /// Encoded as the list of matchers in their canonical text, so a stored recipe reads back to the same list.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(matchers.map(\.description))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let texts = try container.decode([String].self)
        do {
            try self.init(parsing: texts)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }
}
