import Yams

/// The registry of debugging and action recipes Euphrosyne can run.
///
/// Loaded from the ConfigMap `orpheus-operator-recipes` inherited from the original Go system
/// (two data keys, `debugging` and `actions`, each a YAML string mapping recipe names to their
/// configuration), from a local file of the same shape, or from the ConfigMap's data as read
/// from the Kubernetes API. The engine asks it which debugging recipes to run for a new
/// incident and looks up actions by name.
///
/// Loading never fails as a whole: every invalid recipe is reported as a `CatalogProblem` and
/// skipped, and the valid ones are loaded.
public struct RecipeCatalog: Sendable, Hashable {
    /// Valid debugging recipes, enabled or not, sorted by name.
    public var debugging: [Recipe]
    /// Valid action recipes, enabled or not, sorted by name.
    public var actions: [Recipe]

    public init(debugging: [Recipe], actions: [Recipe]) {
        self.debugging = debugging.sorted { $0.name < $1.name }
        self.actions = actions.sorted { $0.name < $1.name }
    }

    /// The debugging recipes to run for a new incident.
    public var enabledDebugging: [Recipe] {
        debugging.filter(\.enabled)
    }

    public var enabledActions: [Recipe] {
        actions.filter(\.enabled)
    }

    /// The action recipe called `name`, enabled or not; callers decide what disabled means.
    public func action(named name: String) -> Recipe? {
        actions.first { $0.name == name }
    }

    /// The debugging recipe called `name`, enabled or not.
    /// The enabled debugging recipes whose `match` fits the notification, sorted by name.
    public func debuggingRecipes(for alert: AlertNotification) -> [Recipe] {
        enabledDebugging.filter { $0.applies(to: alert) }
    }

    public func debugging(named name: String) -> Recipe? {
        debugging.first { $0.name == name }
    }

    /// The name of the ConfigMap the original system used, preferred in multi-document files.
    public static let configMapName = "orpheus-operator-recipes"

    // MARK: - Loading

    /// Loads from a YAML file: a ConfigMap manifest (possibly one document of several), or a
    /// plain mapping with `debugging` and/or `actions` keys whose values are YAML strings or
    /// nested mappings.
    public static func load(yaml: String) -> (catalog: RecipeCatalog, problems: [CatalogProblem]) {
        let documents: [Node]
        do {
            var sequence = try Yams.compose_all(yaml: yaml)
            var collected: [Node] = []
            while let document = sequence.next() {
                collected.append(document)
            }
            if let error = sequence.error {
                return failure("the recipe file is not valid YAML: \(firstLine(of: error))")
            }
            documents = collected
        } catch {
            return failure("the recipe file is not valid YAML: \(firstLine(of: error))")
        }

        let mappings = documents.compactMap(\.mapping)
        let configMaps = mappings.filter { $0["kind"]?.yamlString == "ConfigMap" }
        let sections: Node.Mapping
        if let named = configMaps.first(where: { $0["metadata"]?["name"]?.yamlString == configMapName }) {
            guard let data = named["data"]?.mapping, hasSection(data) else {
                return failure("ConfigMap \(configMapName) has neither a debugging nor an actions data key")
            }
            sections = data
        } else if let data = configMaps.lazy.compactMap({ $0["data"]?.mapping }).first(where: hasSection) {
            sections = data
        } else if let plain = mappings.first(where: hasSection) {
            sections = plain
        } else {
            return failure(
                "the recipe file has neither a debugging nor an actions key "
                    + "(expected a ConfigMap \(configMapName) or a mapping with those keys)")
        }

        var loader = Loader()
        for kind in [RecipeKind.debugging, .action] {
            if let node = sections[kind.dataKey] {
                loader.loadSection(node, kind: kind)
            }
        }
        return loader.result
    }

    /// Loads from the ConfigMap's `data` as returned by the Kubernetes API: the `debugging`
    /// and `actions` keys, each a YAML string.
    public static func load(data: [String: String]) -> (catalog: RecipeCatalog, problems: [CatalogProblem]) {
        guard data["debugging"] != nil || data["actions"] != nil else {
            return failure("ConfigMap data has neither a debugging nor an actions key")
        }
        var loader = Loader()
        for kind in [RecipeKind.debugging, .action] {
            if let text = data[kind.dataKey] {
                loader.loadSection(text: text, kind: kind)
            }
        }
        return loader.result
    }

    private static func hasSection(_ mapping: Node.Mapping) -> Bool {
        mapping["debugging"] != nil || mapping["actions"] != nil
    }

    private static func failure(_ message: String) -> (catalog: RecipeCatalog, problems: [CatalogProblem]) {
        (RecipeCatalog(debugging: [], actions: []), [CatalogProblem(message: message)])
    }
}

/// Yams errors carry a multi-line excerpt of the document; problems are one line each, and
/// the first line already names the position.
private func firstLine(of error: any Error) -> String {
    let text = String(describing: error)
    return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
}

/// Accumulates recipes and problems across both sections.
private struct Loader {
    var debugging: [Recipe] = []
    var actions: [Recipe] = []
    var problems: [CatalogProblem] = []

    var result: (catalog: RecipeCatalog, problems: [CatalogProblem]) {
        (RecipeCatalog(debugging: debugging, actions: actions), problems)
    }

    /// A section's value: a YAML string (the ConfigMap form), a mapping, or null for none.
    mutating func loadSection(_ node: Node, kind: RecipeKind) {
        switch node {
        case .scalar(let scalar) where node.tagName == .str:
            loadSection(text: scalar.string, kind: kind)
        case .scalar where node.isNull:
            break
        case .mapping(let mapping):
            loadRecipes(mapping, kind: kind)
        default:
            problems.append(CatalogProblem(
                kind: kind,
                message: "\(kind.dataKey) must be a mapping of recipe names to configurations or a YAML string holding one, got \(node.yamlKind)"))
        }
    }

    mutating func loadSection(text: String, kind: RecipeKind) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            problems.append(CatalogProblem(kind: kind, message: "\(kind.dataKey) is not valid YAML: \(firstLine(of: error))"))
            return
        }
        guard let node, !node.isNull else { return }  // an empty section is no recipes
        guard let mapping = node.mapping else {
            problems.append(CatalogProblem(
                kind: kind,
                message: "\(kind.dataKey) must be a mapping of recipe names to configurations, got \(node.yamlKind)"))
            return
        }
        loadRecipes(mapping, kind: kind)
    }

    mutating func loadRecipes(_ mapping: Node.Mapping, kind: RecipeKind) {
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                problems.append(CatalogProblem(kind: kind, message: "recipe names must be strings, got \(key.yamlKind)"))
                continue
            }
            let name = keyScalar.string
            var builder = RecipeBuilder(name: name, kind: kind)
            if let recipe = builder.build(value) {
                if kind == .debugging { debugging.append(recipe) } else { actions.append(recipe) }
            }
            problems += builder.problems
        }
    }
}

/// Validates one recipe's configuration, collecting every problem rather than the first.
struct RecipeBuilder {
    let name: String
    let kind: RecipeKind
    var problems: [CatalogProblem] = []

    init(name: String, kind: RecipeKind) {
        self.name = name
        self.kind = kind
    }

    mutating func problem(_ message: String) {
        problems.append(CatalogProblem(kind: kind, recipe: name, message: message))
    }

    mutating func build(_ node: Node) -> Recipe? {
        if !Recipe.isValidName(name) {
            problem("name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)")
        }
        guard let written = node.mapping else {
            problem("configuration must be a mapping, got \(node.yamlKind)")
            return nil
        }
        let config = Self.applyingMergeKeys(written)

        // Go semantics: a missing (or null) `enabled` is false, not an error.
        var enabled = false
        if let value = present(config, "enabled") {
            if let bool = value.yamlBool {
                enabled = bool
            } else {
                problem("field \"enabled\" must be a boolean (true or false), got \(value.yamlKind)")
            }
        }

        var arguments: [String] = []
        let entrypoint = requiredString(config, "entrypoint")
        if let entrypoint {
            do {
                arguments = try Entrypoint.split(entrypoint)
            } catch {
                problem("field \"entrypoint\" cannot be split into arguments: \(error.message)")
            }
        }

        let image = optionalString(config, "image")
        let description = optionalString(config, "description") ?? ""
        let timeout = timeoutSeconds(config)
        let env = environment(config)
        let match = matchers(config)
        let runsForNewAlerts = boolean(config, "runForNewAlerts") ?? false
        let resources = resources(config)
        let serviceAccountName = optionalString(config, "serviceAccountName").flatMap { $0.isEmpty ? nil : $0 }
        if let serviceAccountName, !RecipeResources.isDNSSubdomain(serviceAccountName) {
            problem("field \"serviceAccountName\" must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), got \"\(serviceAccountName)\"")
        }
        if runsForNewAlerts, kind == .action {
            problem("field \"runForNewAlerts\" applies to debugging recipes only")
        }
        let inputs = inputNames(config)
        if !inputs.isEmpty, kind == .debugging {
            problem("field \"inputs\" applies to action recipes only")
        }
        let secretEnv = secretEnvironment(config, plain: env)
        let runAsUser = userID(config)

        guard problems.isEmpty, let entrypoint else { return nil }
        var recipe = Recipe(
            name: name, kind: kind, enabled: enabled, image: image.flatMap { $0.isEmpty ? nil : $0 },
            entrypoint: entrypoint, arguments: arguments, description: description,
            timeoutSeconds: timeout, env: env, match: match, runsForNewAlerts: runsForNewAlerts)
        recipe.resources = resources
        recipe.serviceAccountName = serviceAccountName
        recipe.inputs = inputs
        recipe.secretEnv = secretEnv
        recipe.runAsUser = runAsUser
        return recipe
    }

    /// Resolves YAML merge keys (`<<: *defaults`), which Yams leaves in the node tree. Without
    /// this, a recipe sharing `enabled: true` through an anchor would silently load disabled.
    /// Keys written in the recipe win over merged ones, and earlier merged mappings over later.
    static func applyingMergeKeys(_ mapping: Node.Mapping) -> Node.Mapping {
        var pairs: [(Node, Node)] = []
        var merged: [Node.Mapping] = []
        for (key, value) in mapping {
            guard key.tagName == .merge else {
                pairs.append((key, value))
                continue
            }
            switch value {
            case .mapping(let source):
                merged.append(source)
            case .sequence(let sources):
                merged += sources.compactMap(\.mapping)
            default:
                pairs.append((key, value))
            }
        }
        guard !merged.isEmpty else { return mapping }
        for source in merged {
            for (key, value) in applyingMergeKeys(source) where !pairs.contains(where: { $0.0 == key }) {
                pairs.append((key, value))
            }
        }
        return Node.Mapping(pairs)
    }

    /// The field's value, treating an explicit null like absence (as Go's decoder does).
    func present(_ config: Node.Mapping, _ field: String) -> Node? {
        guard let value = config[field], !value.isNull else { return nil }
        return value
    }

    private mutating func boolean(_ config: Node.Mapping, _ field: String) -> Bool? {
        guard let value = present(config, field) else { return nil }
        guard let bool = value.yamlBool else {
            problem("field \"\(field)\" must be a boolean (true or false), got \(value.yamlKind)")
            return nil
        }
        return bool
    }

    private mutating func optionalString(_ config: Node.Mapping, _ field: String) -> String? {
        guard let value = present(config, field) else { return nil }
        guard let string = value.yamlString else {
            problem("field \"\(field)\" must be a string, got \(value.yamlKind)")
            return nil
        }
        return string
    }

    private mutating func requiredString(_ config: Node.Mapping, _ field: String) -> String? {
        guard present(config, field) != nil else {
            problem("field \"\(field)\" is required")
            return nil
        }
        return optionalString(config, field)
    }

    private mutating func timeoutSeconds(_ config: Node.Mapping) -> Int? {
        guard let value = present(config, "timeout") else { return nil }
        let expectation = "field \"timeout\" must be a positive whole number of seconds or a duration like \"90s\", \"5m\" or \"1h30m\""
        if let integer = value.yamlInt {
            guard integer > 0 else {
                problem("\(expectation), got \(integer)")
                return nil
            }
            return integer
        }
        if let text = value.yamlString {
            // Rounded up: a sub-second remainder must never shorten the limit to zero.
            guard let seconds = GoDuration.seconds(text), seconds > 0, seconds < Double(Int32.max) else {
                problem("\(expectation), got \"\(text)\"")
                return nil
            }
            return Int(seconds.rounded(.up))
        }
        problem("\(expectation), got \(value.yamlKind)")
        return nil
    }

    /// `match`: one string of comma-separated matchers (`alertname=~"HTTP.*", severity!="info"`) or a list of
    /// strings with one matcher each.
    private mutating func matchers(_ config: Node.Mapping) -> AlertMatchers {
        guard let value = present(config, "match") else { return AlertMatchers() }
        do {
            if let text = value.yamlString { return try AlertMatchers(parsing: text) }
            if let sequence = value.sequence {
                var texts: [String] = []
                for entry in sequence {
                    guard let text = entry.yamlString else {
                        problem("field \"match\" must be matcher strings, got \(entry.yamlKind) in the list")
                        return AlertMatchers()
                    }
                    texts.append(text)
                }
                return try AlertMatchers(parsing: texts)
            }
            problem("field \"match\" must be a string of matchers or a list of them, got \(value.yamlKind)")
        } catch {
            problem("field \"match\": \(error.message)")
        }
        return AlertMatchers()
    }

    private mutating func environment(_ config: Node.Mapping) -> [String: String] {
        guard let value = present(config, "env") else { return [:] }
        guard let mapping = value.mapping else {
            problem("field \"env\" must be a mapping of names to values, got \(value.yamlKind)")
            return [:]
        }
        var env: [String: String] = [:]
        for (key, entry) in mapping {
            guard case .scalar(let keyScalar) = key else {
                problem("field \"env\" must have string names, got \(key.yamlKind)")
                continue
            }
            // Numbers and booleans are kept as written ("8080", "true"), which is what a
            // process would see had the value been quoted.
            guard case .scalar(let scalar) = entry, !entry.isNull else {
                problem("field \"env.\(keyScalar.string)\" must be a string, number or boolean, got \(entry.yamlKind)")
                continue
            }
            env[keyScalar.string] = scalar.string
        }
        return env
    }
}

extension Node {
    /// The resolved tag (`Node.tag` resolves implicit tags; `Scalar.tag` does not).
    fileprivate var tagName: Tag.Name {
        Tag.Name(rawValue: tag.rawValue)
    }

    /// The text of a scalar that YAML resolves to a string (so `42` and `true` are not strings).
    var yamlString: String? {
        guard case .scalar(let scalar) = self, tagName == .str else { return nil }
        return scalar.string
    }

    var yamlBool: Bool? {
        guard case .scalar = self, tagName == .bool else { return nil }
        return bool
    }

    var yamlInt: Int? {
        guard case .scalar = self, tagName == .int else { return nil }
        return int
    }

    fileprivate var isNull: Bool {
        guard case .scalar = self else { return false }
        return tagName == .null
    }

    /// What kind of YAML value this is, for problem messages.
    var yamlKind: String {
        switch self {
        case .scalar(let scalar):
            switch tagName {
            case .str: return "string \"\(scalar.string)\""
            case .bool: return "boolean \(scalar.string)"
            case .int, .float: return "number \(scalar.string)"
            case .null: return "null"
            default: return "\(scalar.string)"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}
