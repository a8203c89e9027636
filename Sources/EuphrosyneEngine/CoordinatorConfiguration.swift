import EuphrosyneCore
import Foundation

/// Settings of the coordinator that do not depend on the mode.
public struct CoordinatorConfiguration: Sendable {
    /// Timeout of a recipe without its own `timeout` (`--recipe-timeout`).
    public var defaultRecipeTimeoutSeconds: Int
    /// How long an analysed incident accepts approvals before it expires.
    public var approvalWindowSeconds: Int
    /// Passed to every recipe as `--aggregator-address`.
    public var aggregatorAddress: String
    /// Passed to every recipe as `--redis-address`.
    public var redisAddress: String
    /// On graceful shutdown, how long running recipes and pending notifications get to finish before they are
    /// stopped.
    public var drainTimeout: Duration
    /// With results arriving by themselves (Redis), how long a run that exited without a durable copy of its
    /// result may still deliver one over pub/sub before it counts as having exited without one.
    public var resultGraceAfterExit: Duration
    /// Recipe runs in flight at once across all incidents (`--max-runs`); further runs queue, first come first
    /// served, and their timeout starts when they start.
    public var maxRunsInFlight: Int
    /// Notifications being taken in at once (`--intake-queue`); beyond that `/webhook` answers 503 with
    /// `Retry-After`, and Alertmanager retries.
    public var intakeQueueCapacity: Int
    /// At most this many new incidents per alert name in any hour (`--max-incidents-per-alertname`); nil: no limit.
    public var incidentsPerAlertNamePerHour: Int?
    /// Incidents open at once (`--max-open-incidents`): a notification of a new group beyond it is refused
    /// (`.tooManyOpenIncidents`, 503), while notifications of open incidents still join them.
    public var maxOpenIncidents: Int
    /// Whether a resolved incident still accepts approvals of its suggested actions (`--approve-resolved`).
    public var approvesResolvedIncidents: Bool
    /// Whether any registered, enabled action may be approved, not only those the analysis suggested
    /// (`--approve-any-action`).
    public var approvesUnsuggestedActions: Bool
    /// Whether a result from a source anyone with access may publish to (Redis) must carry a valid signature
    /// (`--require-signed-results`). Off by default so recipes of the original SDK, which do not sign, keep working;
    /// a signature that is present is verified either way, and the HTTP callback never needs one.
    public var requireSignedResults: Bool

    /// What the incident table decides by.
    public var tableSettings: IncidentTable.Settings {
        IncidentTable.Settings(
            defaultRecipeTimeoutSeconds: defaultRecipeTimeoutSeconds, approvalWindowSeconds: approvalWindowSeconds,
            maxOpenIncidents: maxOpenIncidents, incidentsPerAlertNamePerHour: incidentsPerAlertNamePerHour,
            approvalPolicy: approvalPolicy
        )
    }

    /// The approval rules these settings make.
    public var approvalPolicy: ApprovalPolicy {
        ApprovalPolicy(allowsUnsuggestedActions: approvesUnsuggestedActions,
                       allowsResolvedIncidents: approvesResolvedIncidents)
    }

    public init(
        defaultRecipeTimeoutSeconds: Int = 300, approvalWindowSeconds: Int = 86_400, aggregatorAddress: String = "",
        redisAddress: String = "", drainTimeout: Duration = .seconds(25),
        resultGraceAfterExit: Duration = .seconds(1), maxRunsInFlight: Int = 32, intakeQueueCapacity: Int = 512,
        incidentsPerAlertNamePerHour: Int? = nil, maxOpenIncidents: Int = 1_000, approvesResolvedIncidents: Bool = false,
        approvesUnsuggestedActions: Bool = false, requireSignedResults: Bool = false
    ) {
        self.maxOpenIncidents = maxOpenIncidents
        self.requireSignedResults = requireSignedResults
        self.approvesUnsuggestedActions = approvesUnsuggestedActions
        self.maxRunsInFlight = maxRunsInFlight
        self.intakeQueueCapacity = intakeQueueCapacity
        self.incidentsPerAlertNamePerHour = incidentsPerAlertNamePerHour
        self.approvesResolvedIncidents = approvesResolvedIncidents
        self.resultGraceAfterExit = resultGraceAfterExit
        self.defaultRecipeTimeoutSeconds = defaultRecipeTimeoutSeconds
        self.approvalWindowSeconds = approvalWindowSeconds
        self.aggregatorAddress = aggregatorAddress
        self.redisAddress = redisAddress
        self.drainTimeout = drainTimeout
    }
}
