import Testing
@testable import EuphrosyneCore

@Suite struct RecipeCatalogTests {
    private static let nameRule = "name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"

    /// Loads a plain file with one debugging recipe whose config lines are `body`.
    private func loadDebugging(_ body: String, name: String = "probe") -> (catalog: RecipeCatalog, problems: [CatalogProblem]) {
        let indented = body.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "    " + $0 }.joined(separator: "\n")
        return RecipeCatalog.load(yaml: "debugging:\n  \(name):\n\(indented)\n")
    }

    // MARK: - Sources

    @Test func originalConfigMapLoadsUnchanged() throws {
        let (catalog, problems) = RecipeCatalog.load(yaml: try CoreFixtures.text("orpheus-operator-recipes", "yaml"))
        #expect(problems == [])
        #expect(catalog.debugging.map(\.name) == ["dummy", "http-errors"])
        #expect(catalog.actions.map(\.name) == ["jira"])
        #expect(catalog.enabledDebugging.map(\.name) == ["dummy", "http-errors"])

        let httpErrors = try #require(catalog.debugging(named: "http-errors"))
        #expect(httpErrors == Recipe(
            name: "http-errors", kind: .debugging, enabled: true, image: "example/recipes:1.0",
            entrypoint: "http-errors", arguments: ["http-errors"],
            description: "Looks for HTTP error patterns", timeoutSeconds: nil, env: [:]))

        let jira = try #require(catalog.action(named: "jira"))
        #expect(jira.kind == .action)
        #expect(jira.arguments == ["jira"])
        #expect(jira.description == "Opens a Jira issue")
        #expect(catalog.action(named: "http-errors") == nil)
        #expect(catalog.debugging(named: "jira") == nil)
    }

    @Test func configMapDataFromKubernetesAPI() throws {
        let (catalog, problems) = RecipeCatalog.load(data: [
            "debugging": "http-errors:\n  enabled: true\n  entrypoint: \"http-errors --window 5m\"\n",
            "actions": "jira:\n  enabled: false\n  entrypoint: jira\n",
        ])
        #expect(problems == [])
        #expect(catalog.debugging.first?.arguments == ["http-errors", "--window", "5m"])
        #expect(catalog.action(named: "jira")?.enabled == false)
        #expect(catalog.enabledActions.isEmpty)
    }

    @Test func configMapDataWithOneKeyOrNone() {
        let onlyActions = RecipeCatalog.load(data: ["actions": "jira:\n  enabled: true\n  entrypoint: jira\n"])
        #expect(onlyActions.problems == [])
        #expect(onlyActions.catalog.debugging.isEmpty)
        #expect(onlyActions.catalog.actions.count == 1)

        let none = RecipeCatalog.load(data: ["other": "x"])
        #expect(none.catalog == RecipeCatalog(debugging: [], actions: []))
        #expect(none.problems.count == 1)
        #expect(none.problems.first?.recipe == nil)
    }

    @Test func plainFileWithYAMLStrings() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging: |
              logs:
                enabled: true
                entrypoint: "logs --tail 100"
            """)
        #expect(problems == [])
        #expect(catalog.debugging.map(\.arguments) == [["logs", "--tail", "100"]])
        #expect(catalog.actions.isEmpty)
    }

    @Test func plainFileWithNestedMappings() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging:
              zeta:
                enabled: true
                entrypoint: zeta
              alpha:
                enabled: true
                entrypoint: alpha
                image: example/alpha:2
            actions:
              restart-pod:
                enabled: true
                entrypoint: "restart --grace 30s"
                description: Restarts the pod
            """)
        #expect(problems == [])
        #expect(catalog.debugging.map(\.name) == ["alpha", "zeta"])
        #expect(catalog.debugging.first?.image == "example/alpha:2")
        #expect(catalog.debugging.last?.image == nil)
        #expect(catalog.action(named: "restart-pod")?.arguments == ["restart", "--grace", "30s"])
    }

    @Test func multiDocumentStreamPicksTheNamedConfigMap() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            apiVersion: v1
            kind: Service
            metadata:
              name: euphrosyne
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: something-else
            data:
              debugging: |
                wrong:
                  enabled: true
                  entrypoint: wrong
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: orpheus-operator-recipes
            data:
              debugging: |
                right:
                  enabled: true
                  entrypoint: right
            """)
        #expect(problems == [])
        #expect(catalog.debugging.map(\.name) == ["right"])
    }

    @Test func multiDocumentStreamFallsBackToFirstConfigMapWithRecipes() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            kind: ConfigMap
            metadata:
              name: unrelated
            data:
              settings: "x"
            ---
            kind: ConfigMap
            metadata:
              name: my-recipes
            data:
              actions: |
                jira:
                  enabled: true
                  entrypoint: jira
            """)
        #expect(problems == [])
        #expect(catalog.actions.map(\.name) == ["jira"])
    }

    @Test func namedConfigMapWithoutSectionsIsAProblem() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            kind: ConfigMap
            metadata:
              name: orpheus-operator-recipes
            data: {}
            """)
        #expect(catalog.debugging.isEmpty && catalog.actions.isEmpty)
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("orpheus-operator-recipes") == true)
    }

    @Test func emptySectionsMeanNoRecipes() {
        let (catalog, problems) = RecipeCatalog.load(yaml: "debugging: \"\"\nactions:\n")
        #expect(problems == [])
        #expect(catalog == RecipeCatalog(debugging: [], actions: []))
    }

    @Test(arguments: ["", "just a string", "- a\n- b", "other: 1", "{unclosed: [", "a: b\na: c"])
    func unusableFileIsOneProblem(yaml: String) {
        let (catalog, problems) = RecipeCatalog.load(yaml: yaml)
        #expect(catalog == RecipeCatalog(debugging: [], actions: []))
        #expect(problems.count == 1)
        #expect(problems.first?.recipe == nil)
        #expect(problems.first?.kind == nil)
    }

    @Test func invalidYAMLInsideASectionIsReportedForThatSection() {
        let (catalog, problems) = RecipeCatalog.load(data: [
            "debugging": "a: [unclosed",
            "actions": "jira:\n  enabled: true\n  entrypoint: jira\n",
        ])
        #expect(catalog.actions.count == 1)
        #expect(problems.count == 1)
        #expect(problems.first?.kind == .debugging)
        #expect(problems.first?.description.hasPrefix("debugging recipes: debugging is not valid YAML") == true)
    }

    @Test func sectionOfWrongShape() {
        let (_, problems) = RecipeCatalog.load(yaml: "debugging:\n  - a\n  - b\nactions: 3\n")
        #expect(problems.map(\.kind) == [.debugging, .action])
        #expect(problems.allSatisfy { $0.recipe == nil })
    }

    @Test func sameNameInBothSectionsIsFine() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging:
              restart: {enabled: true, entrypoint: "restart --dry-run"}
            actions:
              restart: {enabled: true, entrypoint: restart}
            """)
        #expect(problems == [])
        #expect(catalog.debugging(named: "restart")?.arguments == ["restart", "--dry-run"])
        #expect(catalog.action(named: "restart")?.arguments == ["restart"])
    }

    @Test func duplicateRecipeNamesDoNotCrash() {
        let (catalog, problems) = RecipeCatalog.load(data: [
            "debugging": "a:\n  entrypoint: one\na:\n  entrypoint: two\n",
        ])
        // Yams rejects duplicate keys; that surfaces as a section-level problem.
        #expect(catalog.debugging.count <= 1)
        #expect(problems.count == 1)
        #expect(problems.first?.kind == .debugging)
        #expect(problems.first?.message.contains("duplicated key(s): 'a'") == true)
        #expect(problems.first?.message.contains("\n") == false)
    }

    // MARK: - Names

    @Test(arguments: [
        "Bad_Name", "UPPER", "under_score", "-leading", "trailing-", "has.dot", "has space",
        String(repeating: "a", count: 64), "ünïcode",
    ])
    func invalidNamesAreRejected(name: String) {
        let (catalog, problems) = RecipeCatalog.load(data: [
            "debugging": "\"\(name)\":\n  enabled: true\n  entrypoint: x\nok:\n  enabled: true\n  entrypoint: x\n",
        ])
        #expect(catalog.debugging.map(\.name) == ["ok"])
        #expect(problems == [CatalogProblem(kind: .debugging, recipe: name, message: Self.nameRule)])
    }

    @Test func problemDescriptionNamesTheRecipe() {
        let problem = CatalogProblem(kind: .debugging, recipe: "Bad_Name", message: Self.nameRule)
        #expect(problem.description == "debugging recipe \"Bad_Name\": \(Self.nameRule)")
        #expect(CatalogProblem(kind: .action, message: "m").description == "action recipes: m")
        #expect(CatalogProblem(message: "whole file").description == "whole file")
    }

    @Test(arguments: ["a", "0", "a-b", "1-2-3", "x9", String(repeating: "a", count: 63)])
    func validNames(name: String) {
        #expect(Recipe.isValidName(name))
    }

    // MARK: - Fields

    @Test func disabledRecipeIsKeptButNotEnabled() {
        let (catalog, problems) = loadDebugging("enabled: false\nentrypoint: probe")
        #expect(problems == [])
        #expect(catalog.debugging.map(\.name) == ["probe"])
        #expect(catalog.enabledDebugging.isEmpty)
    }

    @Test func missingEnabledMeansDisabled() {
        let (catalog, problems) = loadDebugging("entrypoint: probe")
        #expect(problems == [])
        #expect(catalog.debugging(named: "probe")?.enabled == false)
        #expect(catalog.debugging(named: "probe")?.description == "")
    }

    @Test func yamlOneOneBooleansAreWhatYamsResolves() {
        let (catalog, problems) = loadDebugging("enabled: yes\nentrypoint: probe")
        #expect(problems == [])
        #expect(catalog.debugging(named: "probe")?.enabled == true)
    }

    @Test func missingEntrypoint() {
        let (catalog, problems) = loadDebugging("enabled: true\ndescription: no entrypoint")
        #expect(catalog.debugging.isEmpty)
        #expect(problems == [CatalogProblem(kind: .debugging, recipe: "probe", message: "field \"entrypoint\" is required")])
    }

    @Test(arguments: [
        ("entrypoint: \"run 'unclosed\"", "unterminated single quote"),
        ("entrypoint: \"run \\\\\"", "trailing backslash"),
        ("entrypoint: \"   \"", "empty entrypoint"),
        ("entrypoint: \"\"", "empty entrypoint"),
    ])
    func badEntrypointQuoting(line: String, reason: String) throws {
        let (catalog, problems) = loadDebugging("enabled: true\n" + line)
        #expect(catalog.debugging.isEmpty)
        let problem = try #require(problems.first)
        #expect(problems.count == 1)
        #expect(problem.recipe == "probe")
        #expect(problem.message == "field \"entrypoint\" cannot be split into arguments: \(reason)")
    }

    @Test func entrypointWithQuotesSplits() {
        // YAML single quotes, so the shell quoting inside reaches the splitter untouched.
        let (catalog, problems) = loadDebugging(#"entrypoint: 'grep -E ''HTTP/1\.1" 5[0-9]{2}'' --since="5 min"'"#)
        #expect(problems == [])
        #expect(catalog.debugging.first?.arguments == ["grep", "-E", #"HTTP/1\.1" 5[0-9]{2}"#, "--since=5 min"])
    }

    @Test(arguments: [
        ("enabled: \"yes\"", "enabled"),
        ("enabled: \"true\"", "enabled"),
        ("enabled: 1", "enabled"),
        ("entrypoint: 42", "entrypoint"),
        ("entrypoint: [a, b]", "entrypoint"),
        ("image: 1.0", "image"),
        ("image: {name: x}", "image"),
        ("description: true", "description"),
        ("env: [a]", "env"),
        ("env: \"A=1\"", "env"),
        ("env: {A: [1]}", "env.A"),
        ("env: {A: null}", "env.A"),
        ("timeout: -5", "timeout"),
        ("timeout: 0", "timeout"),
        ("timeout: \"soon\"", "timeout"),
        ("timeout: 1.5", "timeout"),
        ("timeout: \"90\"", "timeout"),
        ("timeout: \"-5m\"", "timeout"),
        ("timeout: [1]", "timeout"),
    ])
    func wrongTypesSkipTheRecipe(line: String, field: String) throws {
        var body = "enabled: true\nentrypoint: probe\n"
        // Replace rather than add when the line overrides a required field.
        let key = String(line.prefix { $0 != ":" })
        body = body.split(separator: "\n").filter { !$0.hasPrefix(key + ":") }.joined(separator: "\n")
        let (catalog, problems) = loadDebugging(body + "\n" + line)
        #expect(catalog.debugging.isEmpty)
        let problem = try #require(problems.first)
        #expect(problems.count == 1)
        #expect(problem.kind == .debugging)
        #expect(problem.recipe == "probe")
        #expect(problem.message.hasPrefix("field \"\(field)\""), "\(problem.message)")
    }

    @Test(arguments: [
        ("timeout: 90", 90),
        ("timeout: \"90s\"", 90),
        ("timeout: 90s", 90),
        ("timeout: 5m", 300),
        ("timeout: 1h30m", 5400),
        ("timeout: 1.5h", 5400),
        ("timeout: 2m30s", 150),
        ("timeout: 1500ms", 2),
        ("timeout: 1h0m0s", 3600),
    ])
    func timeoutForms(line: String, seconds: Int) {
        let (catalog, problems) = loadDebugging("enabled: true\nentrypoint: probe\n" + line)
        #expect(problems == [])
        #expect(catalog.debugging.first?.timeoutSeconds == seconds)
    }

    @Test func envValuesAreStringified() {
        let (catalog, problems) = loadDebugging("""
            enabled: true
            entrypoint: probe
            env:
              NAMESPACE: shop
              PORT: 8080
              RATIO: 0.5
              VERBOSE: true
              QUOTED: "007"
            """)
        #expect(problems == [])
        #expect(catalog.debugging.first?.env == [
            "NAMESPACE": "shop", "PORT": "8080", "RATIO": "0.5", "VERBOSE": "true", "QUOTED": "007",
        ])
    }

    @Test func unknownFieldsAreIgnored() {
        let (catalog, problems) = loadDebugging("""
            enabled: true
            entrypoint: probe
            matchers:
              - alertname=~"Pod.*"
            owner: {team: sre}
            """)
        #expect(problems == [])
        #expect(catalog.debugging.map(\.name) == ["probe"])
    }

    @Test func resourcesAndServiceAccountAreClusterExtensions() {
        let (catalog, problems) = loadDebugging("""
            enabled: true
            entrypoint: probe
            serviceAccountName: pod-reader
            resources:
              requests: {cpu: 100m, memory: 64Mi}
              limits: {memory: 128Mi, cpu: 1}
            """)
        #expect(problems == [])
        let recipe = catalog.debugging.first
        #expect(recipe?.serviceAccountName == "pod-reader")
        #expect(recipe?.resources == RecipeResources(requests: ["cpu": "100m", "memory": "64Mi"],
                                                     limits: ["memory": "128Mi", "cpu": "1"]))
        // Absent, they keep the original behaviour: nothing set.
        let plain = loadDebugging("enabled: true\nentrypoint: probe").catalog.debugging.first
        #expect(plain?.resources == nil && plain?.serviceAccountName == nil)
    }

    @Test func secretEnvAndRunAsUserAreClusterExtensions() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            actions:
              jira:
                enabled: true
                image: example/recipes:1.0
                entrypoint: jira
                runAsUser: 1000
                env: {JIRA_PROJECT: OPS}
                secretEnv:
                  JIRA_TOKEN: {secret: jira-credentials, key: token}
                  JIRA_URL: {secret: jira-credentials, key: url, optional: true}
                  _private.key_ok: ~
              quiet:
                enabled: true
                entrypoint: quiet
                secretEnv: {}
            """)
        // `_private.key_ok` is not a variable name: the whole recipe is skipped, the other loads.
        #expect(problems.map(\.recipe) == ["jira"])
        #expect(catalog.action(named: "jira") == nil)
        #expect(catalog.action(named: "quiet")?.secretEnv == [:], "declared empty: no Jira variables")

        let (fixed, none) = RecipeCatalog.load(yaml: """
            actions:
              jira:
                enabled: true
                entrypoint: jira
                runAsUser: 1000
                env: {JIRA_PROJECT: OPS}
                secretEnv:
                  JIRA_TOKEN: {secret: jira-credentials, key: token}
                  JIRA_URL: {secret: jira-credentials, key: url, optional: true}
                  _Cert_2: {secret: certs.example.com, key: tls.crt, optional: false}
            """)
        #expect(none == [])
        let jira = fixed.action(named: "jira")
        #expect(jira?.runAsUser == 1000)
        #expect(jira?.secretEnv == [
            "JIRA_TOKEN": SecretKeyReference(secret: "jira-credentials", key: "token", optional: false),
            "JIRA_URL": SecretKeyReference(secret: "jira-credentials", key: "url", optional: true),
            "_Cert_2": SecretKeyReference(secret: "certs.example.com", key: "tls.crt"),
        ])
        // Absent, the original behaviour: no secretEnv (so the Jira variables), the launcher's default uid.
        let plain = loadDebugging("enabled: true\nentrypoint: probe\nsecretEnv: ~").catalog.debugging.first
        #expect(plain?.secretEnv == nil && plain?.runAsUser == nil)
    }

    @Test(arguments: [
        ("resources: {cpu: 100m}", "field \"resources\" takes only \"requests\" and \"limits\", got \"cpu\""),
        ("resources: 2", "field \"resources\" must be a mapping with \"requests\" and/or \"limits\", got number 2"),
        ("resources: {limits: {memory: lots}}", "field \"resources.limits\" must map resource names to quantities like \"100m\" or \"128Mi\", got string \"lots\" for memory"),
        ("serviceAccountName: Pod_Reader", "field \"serviceAccountName\" must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'), got \"Pod_Reader\""),
        ("runAsUser: 0", "field \"runAsUser\" is 0: root is not allowed; give the non-root uid the image needs"),
        ("runAsUser: -5", "field \"runAsUser\" must be between 1 and 2147483647, got -5"),
        ("runAsUser: 2147483648", "field \"runAsUser\" must be between 1 and 2147483647, got 2147483648"),
        ("runAsUser: \"1000\"", "field \"runAsUser\" must be a whole number (a uid), got string \"1000\""),
        ("runAsUser: nobody", "field \"runAsUser\" must be a whole number (a uid), got string \"nobody\""),
        ("secretEnv: [TOKEN]", "field \"secretEnv\" must be a mapping of variable names to {secret, key, optional}, got a list"),
        ("secretEnv: {123: {secret: s, key: k}}", "field \"secretEnv\" must have variable names as keys, got number 123"),
        ("secretEnv: {9LIVES: {secret: s, key: k}}", "field \"secretEnv.9LIVES\": \"9LIVES\" is not a valid variable name (letters, digits and '_', not starting with a digit)"),
        ("secretEnv: {MY-TOKEN: {secret: s, key: k}}", "field \"secretEnv.MY-TOKEN\": \"MY-TOKEN\" is not a valid variable name (letters, digits and '_', not starting with a digit)"),
        ("secretEnv: {EUPHROSYNE_RESULT_KEY: {secret: s, key: k}}", "field \"secretEnv.EUPHROSYNE_RESULT_KEY\": EUPHROSYNE_RESULT_KEY is set by Euphrosyne itself (EUPHROSYNE_*, REDIS_USERNAME, REDIS_PASSWORD)"),
        ("secretEnv: {REDIS_PASSWORD: {secret: s, key: k}}", "field \"secretEnv.REDIS_PASSWORD\": REDIS_PASSWORD is set by Euphrosyne itself (EUPHROSYNE_*, REDIS_USERNAME, REDIS_PASSWORD)"),
        ("secretEnv: {REDIS_USERNAME: {secret: s, key: k}}", "field \"secretEnv.REDIS_USERNAME\": REDIS_USERNAME is set by Euphrosyne itself (EUPHROSYNE_*, REDIS_USERNAME, REDIS_PASSWORD)"),
        ("env: {TOKEN: x}\nsecretEnv: {TOKEN: {secret: s, key: k}}", "field \"secretEnv.TOKEN\": TOKEN is also set in \"env\"; give it one source"),
        ("secretEnv: {TOKEN: s/k}", "field \"secretEnv.TOKEN\" must be a mapping {secret, key, optional}, got string \"s/k\""),
        ("secretEnv: {TOKEN: {key: k}}", "field \"secretEnv.TOKEN.secret\" is required"),
        ("secretEnv: {TOKEN: {secret: s}}", "field \"secretEnv.TOKEN.key\" is required"),
        ("secretEnv: {TOKEN: {secret: Jira_Keys, key: k}}", "field \"secretEnv.TOKEN.secret\" must be a Secret name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'), got string \"Jira_Keys\""),
        ("secretEnv: {TOKEN: {secret: 12, key: k}}", "field \"secretEnv.TOKEN.secret\" must be a Secret name (a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'), got number 12"),
        ("secretEnv: {TOKEN: {secret: s, key: \"a/b\"}}", "field \"secretEnv.TOKEN.key\" must be a Secret key (letters, digits, '-', '_' and '.'), got string \"a/b\""),
        ("secretEnv: {TOKEN: {secret: s, key: \"\"}}", "field \"secretEnv.TOKEN.key\" must be a Secret key (letters, digits, '-', '_' and '.'), got string \"\""),
        ("secretEnv: {TOKEN: {secret: s, key: k, optional: maybe}}", "field \"secretEnv.TOKEN.optional\" must be a boolean (true or false), got string \"maybe\""),
        ("secretEnv: {TOKEN: {secret: s, key: k, optinal: true}}", "field \"secretEnv.TOKEN\" takes only secret, key and optional, got \"optinal\""),
    ])
    func badClusterExtensionsAreReportedWithTheRecipe(field: String, message: String) {
        let (catalog, problems) = loadDebugging("enabled: true\nentrypoint: probe\n" + field)
        #expect(catalog.debugging.isEmpty)
        #expect(problems.map(\.message) == [message])
        #expect(problems.map(\.recipe) == ["probe"])
    }

    @Test func nullFieldsCountAsMissing() {
        let (catalog, problems) = loadDebugging("enabled: ~\nentrypoint: probe\nimage: null\ndescription:\ntimeout: ~")
        #expect(problems == [])
        let recipe = catalog.debugging.first
        #expect(recipe?.enabled == false)
        #expect(recipe?.image == nil)
        #expect(recipe?.timeoutSeconds == nil)
    }

    @Test func anchorsAliasesAndMergeKeys() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging:
              base: &base {enabled: true, entrypoint: base, image: "example/recipes:1.0"}
              alias: *base
              merged:
                <<: *base
                entrypoint: "merged --fast"
            """)
        #expect(problems == [])
        #expect(catalog.debugging(named: "alias")?.arguments == ["base"])
        let merged = catalog.debugging(named: "merged")
        #expect(merged?.enabled == true)
        #expect(merged?.image == "example/recipes:1.0")
        #expect(merged?.arguments == ["merged", "--fast"])
    }

    @Test func configThatIsNotAMapping() {
        let (catalog, problems) = RecipeCatalog.load(yaml: "debugging:\n  a: just-a-string\n  b:\n  c: [1]\n")
        #expect(catalog.debugging.isEmpty)
        #expect(problems.map(\.recipe) == ["a", "b", "c"])
        #expect(problems.allSatisfy { $0.message.hasPrefix("configuration must be a mapping") })
    }

    @Test func everyProblemIsReported() {
        let (catalog, problems) = RecipeCatalog.load(yaml: """
            debugging:
              Bad_Name:
                enabled: "yes"
                entrypoint: 42
              good:
                enabled: true
                entrypoint: good
              no-entry:
                enabled: true
            actions:
              jira:
                enabled: true
                entrypoint: "jira 'unclosed"
                timeout: soon
              slack:
                entrypoint: slack
            """)
        #expect(catalog.debugging.map(\.name) == ["good"])
        #expect(catalog.actions.map(\.name) == ["slack"])
        #expect(catalog.action(named: "slack")?.enabled == false)
        let described = Set(problems.map { "\($0.kind?.rawValue ?? "-")/\($0.recipe ?? "-")/\($0.message.prefix(18))" })
        #expect(described == [
            "debugging/Bad_Name/name must be a DNS",
            "debugging/Bad_Name/field \"enabled\" mu",
            "debugging/Bad_Name/field \"entrypoint\"",
            "debugging/no-entry/field \"entrypoint\"",
            "action/jira/field \"entrypoint\"",
            "action/jira/field \"timeout\" mu",
        ])
        #expect(problems.count == 6)
    }

    @Test func recipeInitSplitsEntrypoint() throws {
        let recipe = try Recipe(name: "x", kind: .action, enabled: true, entrypoint: "run 'a b'")
        #expect(recipe.arguments == ["run", "a b"])
        #expect(throws: EntrypointError.self) {
            try Recipe(name: "x", kind: .action, enabled: true, entrypoint: "  ")
        }
    }

    @Test func catalogInitSortsByName() throws {
        let b = try Recipe(name: "b", kind: .debugging, enabled: true, entrypoint: "b")
        let a = try Recipe(name: "a", kind: .debugging, enabled: false, entrypoint: "a")
        let catalog = RecipeCatalog(debugging: [b, a], actions: [])
        #expect(catalog.debugging.map(\.name) == ["a", "b"])
        #expect(catalog.enabledDebugging == [b])
    }
}
