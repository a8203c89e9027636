/// One validated entry of the recipe catalog: what to run, and how.
///
/// Produced by `RecipeCatalog.load`; the runner starts `arguments` (as a process or as a
/// Kubernetes Job's command, in `image`) with `env` added and kills it after `timeoutSeconds`.
public struct Recipe: Sendable, Hashable, Codable {
    /// A DNS-1123 label, so it can be used in Job and Pod names.
    public var name: String
    public var kind: RecipeKind
    /// Disabled recipes stay in the catalog (so they can be listed) but are not run.
    public var enabled: Bool
    /// The container image for Kubernetes Jobs; nil when unset or empty.
    public var image: String?
    /// The entrypoint exactly as configured.
    public var entrypoint: String
    /// `entrypoint` split into argv by `Entrypoint.split(_:)`.
    public var arguments: [String]
    public var description: String
    /// Extension field `timeout`; nil means the runner's default.
    public var timeoutSeconds: Int?
    /// Extension field `env`: extra environment variables for the recipe.
    public var env: [String: String]
    /// Extension field `match`: which alerts a debugging recipe runs for, in Alertmanager's matcher syntax.
    /// Empty (the default, and the original behaviour) means every alert.
    public var match: AlertMatchers = AlertMatchers()
    /// Extension field `runForNewAlerts`: when an alert joins the group of an open incident, run this debugging
    /// recipe again for the new alerts. Off by default: a later notification of the group then starts nothing.
    public var runsForNewAlerts: Bool = false
    /// Extension field `resources` (cluster mode): the Job container's requests and limits. Nil: none, as in the
    /// original.
    public var resources: RecipeResources?
    /// Extension field `serviceAccountName` (cluster mode): the service account the Job's pod runs as. Nil: the
    /// namespace's default, as in the original.
    public var serviceAccountName: String?
    /// Extension field `inputs` (action recipes): the names of the data fields an approver fills in, e.g.
    /// `[summary]` for jira. The built-in Webex notifier shows one text box per input on the analysis card and
    /// passes what was typed as the action's data. Empty: the action takes no data from the card.
    public var inputs: [String] = []
    /// Extension field `secretEnv`: variables whose values come from Secrets (cluster mode: `secretKeyRef`; local
    /// mode: the reconciler's variable of the same name). Nil when the recipe does not declare it: it then gets the
    /// Jira variables of the original system (Secret `euphrosyne-keys`). A recipe that declares it, even empty, gets
    /// only what it names.
    public var secretEnv: [String: SecretKeyReference]?
    /// Extension field `runAsUser` (cluster mode): the uid the Job's pod runs as, for images that need a specific
    /// one. Nil: the launcher's non-root default. Never 0 (the catalog refuses root).
    public var runAsUser: Int?

    public init(
        name: String,
        kind: RecipeKind,
        enabled: Bool,
        image: String? = nil,
        entrypoint: String,
        arguments: [String],
        description: String = "",
        timeoutSeconds: Int? = nil,
        env: [String: String] = [:],
        match: AlertMatchers = AlertMatchers(),
        runsForNewAlerts: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.enabled = enabled
        self.image = image
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.description = description
        self.timeoutSeconds = timeoutSeconds
        self.env = env
        self.match = match
        self.runsForNewAlerts = runsForNewAlerts
    }

    /// Builds a recipe whose `arguments` are split from `entrypoint`.
    public init(
        name: String,
        kind: RecipeKind,
        enabled: Bool,
        image: String? = nil,
        entrypoint: String,
        description: String = "",
        timeoutSeconds: Int? = nil,
        env: [String: String] = [:],
        match: AlertMatchers = AlertMatchers()
    ) throws(EntrypointError) {
        self.init(
            name: name, kind: kind, enabled: enabled, image: image, entrypoint: entrypoint,
            arguments: try Entrypoint.split(entrypoint), description: description,
            timeoutSeconds: timeoutSeconds, env: env, match: match)
    }

    /// Whether `name` is a DNS-1123 label: at most 63 lowercase letters, digits and '-',
    /// starting and ending with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard let first = bytes.first, let last = bytes.last,
              isAlphanumeric(first), isAlphanumeric(last)
        else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }
}

extension Recipe {
    /// Whether this recipe applies to the notification: its matchers fit the labels of at least one of its alerts.
    /// A notification without alerts (a generic JSON payload) has no labels, so only matchers that accept missing
    /// labels fit it.
    public func applies(to alert: AlertNotification) -> Bool {
        guard !match.matchers.isEmpty else { return true }
        let labelSets = alert.alerts.isEmpty ? [alert.commonLabels] : alert.alerts.map(\.labels)
        return labelSets.contains { match.matches($0) }
    }
}
