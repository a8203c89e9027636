import Foundation

/// The one result a recipe reports for an incident, in the wire schema of the original system.
///
/// Recipes publish it (over Redis or the HTTP callback); the engine decodes it and hands it to the incident
/// state machine. Decoding is lenient where the original SDK was: a missing `results` object or field means empty,
/// an unrecognised status means `unknown`.
public struct RecipeResult: Sendable, Hashable, Codable {
    /// How a recipe judged its own run.
    public enum Status: String, Sendable, Hashable, Codable {
        case successful
        case failed
        case unknown

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            self = Status(rawValue: text.lowercased()) ?? .unknown
        }
    }

    /// The `results` object: what the recipe found and what it suggests.
    public struct Details: Sendable, Hashable, Codable {
        public var actions: [String]
        public var analysis: String
        /// Free-form JSON, carried as a string as in the original schema.
        public var json: String
        public var links: [String]

        public init(actions: [String] = [], analysis: String = "", json: String = "", links: [String] = []) {
            self.actions = actions
            self.analysis = analysis
            self.json = json
            self.links = links
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            actions = try container.decodeIfPresent([String].self, forKey: .actions) ?? []
            analysis = try container.decodeIfPresent(String.self, forKey: .analysis) ?? ""
            links = try container.decodeIfPresent([String].self, forKey: .links) ?? []
            // The original SDK sent a string; a recipe that sends a JSON object or array directly is kept too.
            if let text = try? container.decodeIfPresent(String.self, forKey: .json) {
                json = text
            } else if let value = try? container.decodeIfPresent(JSONValue.self, forKey: .json) {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                json = String(decoding: try encoder.encode(value), as: UTF8.self)
            } else {
                json = ""
            }
        }
    }

    /// The incident UUID, as text: the wire carries it as a string.
    public var incident: String
    /// The recipe's name as registered.
    public var name: String
    public var status: Status
    public var results: Details
    /// `ResultSignature` of the result under its incident's key (`sha256=<hex>`), when the recipe signed it. Optional
    /// on the wire (the original SDK does not sign) and encoded only when set, so an unsigned result's bytes are
    /// exactly the original schema's.
    public var signature: String?

    public init(incident: String, name: String, status: Status, results: Details = Details(), signature: String? = nil) {
        self.incident = incident
        self.name = name
        self.status = status
        self.results = results
        self.signature = signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        incident = try container.decode(String.self, forKey: .incident)
        name = try container.decode(String.self, forKey: .name)
        status = try container.decodeIfPresent(Status.self, forKey: .status) ?? .unknown
        results = try container.decodeIfPresent(Details.self, forKey: .results) ?? Details()
        signature = try container.decodeIfPresent(String.self, forKey: .signature)
    }

    /// Decodes a result from its wire bytes, naming the field at fault when the JSON does not fit the schema.
    ///
    /// Parses with `JSONParser` rather than `JSONDecoder`: this runs for every result message on Redis.
    public static func decode(_ data: Data) throws(JSONInputError) -> RecipeResult {
        try RecipeResult(json: try JSONValue.parseObject(data))
    }

    /// Decodes a result from bytes in place (a network buffer).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(JSONInputError) -> RecipeResult {
        try RecipeResult(json: try JSONValue.parseObject(bytes))
    }

    /// A result from an already parsed JSON object, as lenient as the wire decoding.
    public init(json object: [String: JSONValue]) throws(JSONInputError) {
        func string(_ value: JSONValue?, _ path: String, required: Bool) throws(JSONInputError) -> String? {
            switch value {
            case .none, .some(.null):
                if required { throw JSONInputError(message: "is required", path: path) }
                return nil
            case .some(.string(let text)):
                return text
            case .some:
                throw JSONInputError(message: "must be a string", path: path)
            }
        }
        func strings(_ value: JSONValue?, _ path: String) throws(JSONInputError) -> [String] {
            switch value {
            case .none, .some(.null):
                return []
            case .some(.array(let elements)):
                var texts: [String] = []
                for (index, element) in elements.enumerated() {
                    guard case .string(let text) = element else {
                        throw JSONInputError(message: "must be a string", path: "\(path)[\(index)]")
                    }
                    texts.append(text)
                }
                return texts
            case .some:
                throw JSONInputError(message: "must be an array", path: path)
            }
        }

        incident = try string(object["incident"], "incident", required: true)!
        name = try string(object["name"], "name", required: true)!
        status = try string(object["status"], "status", required: false)
            .map { Status(rawValue: $0.lowercased()) ?? .unknown } ?? .unknown
        switch object["results"] {
        case .none, .some(.null):
            results = Details()
        case .some(.object(let details)):
            let json: String
            switch details["json"] {
            case .none, .some(.null): json = ""
            case .some(.string(let text)): json = text
            case .some(let other):
                // The original SDK sent a string; a recipe that sends JSON directly is kept too.
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                json = (try? encoder.encode(other)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
            results = Details(
                actions: try strings(details["actions"], "results.actions"),
                analysis: try string(details["analysis"], "results.analysis", required: false) ?? "",
                json: json,
                links: try strings(details["links"], "results.links")
            )
        case .some:
            throw JSONInputError(message: "must be an object", path: "results")
        }
        signature = try string(object["signature"], "signature", required: false)
    }

    /// The wire bytes, keys sorted so equal results encode equally.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and arrays cannot fail.
        return try! encoder.encode(self)
    }
}

extension RecipeResult {
    /// Bounds on a stored result: whatever a recipe (or anyone who can publish on its channel) sends, what an
    /// incident keeps of it is at most this. Past them the text is cut, marked with `truncationMarker`.
    public enum Bounds {
        /// `results.analysis`, in UTF-8 bytes.
        public static let analysisBytes = 8 << 10
        /// `results.json`, in UTF-8 bytes.
        public static let jsonBytes = 16 << 10
        /// Entries of `results.links`, each at most `linkBytes`.
        public static let links = 10
        public static let linkBytes = 1 << 10
        /// Entries of `results.actions`; names that cannot be a recipe name (a DNS label) are dropped.
        public static let actions = 10
    }

    public static let truncationMarker = "… (cut by the reconciler)"

    /// The result as an incident stores it: analysis and json cut to their bounds, at most `Bounds.links` links and
    /// `Bounds.actions` action names, and control characters other than newline and tab removed from the text (they
    /// have no place in a chat message, and each would take six bytes stored).
    public func bounded() -> RecipeResult {
        var result = self
        result.results.analysis = Self.cut(Self.printable(results.analysis), to: Bounds.analysisBytes)
        result.results.json = Self.cut(results.json, to: Bounds.jsonBytes)
        result.results.links = results.links.prefix(Bounds.links).map { Self.cut(Self.printable($0), to: Bounds.linkBytes) }
        result.results.actions = Array(results.actions.filter(Recipe.isValidName).prefix(Bounds.actions))
        result.name = Self.cut(name, to: 253)
        return result
    }

    /// Text without control characters other than newline and tab.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" })
        else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.filter {
            $0.properties.generalCategory != .control || $0 == "\n" || $0 == "\t"
        })
        return String(scalars)
    }

    /// `text` cut on a character boundary so that it and the marker fit in `limit` UTF-8 bytes.
    static func cut(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        let budget = limit - truncationMarker.utf8.count
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = character.utf8.count
            guard used + size <= budget else { break }
            used += size
            end = text.index(after: end)
        }
        return String(text[..<end]) + truncationMarker
    }
}
