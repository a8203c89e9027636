import Foundation

extension IncidentTable {
    /// What the table decided for an alert notification.
    public enum Intake: Sendable, Hashable {
        /// A new incident: carry out the effects (watch if it has runs, then claim), then report the claim's outcome with
        /// `claimed(_:)` or `claimRefused(_:)`.
        case opening(Incident, [Effect])
        /// The notification joined its group's open incident; `started` names the recipes it started for alerts new
        /// to the incident.
        case joined(Incident, started: [String], [Effect])
        /// The notification resolved its group's open incident.
        case resolved(Incident, [Effect])
        /// Nothing to do (a resolved notification for a group with no open incident); the text says why.
        case ignored(String)
        /// The group's incident is being opened: wait until that opening is decided, then ask again.
        case waitForOpening(UUID)
        case refused(IntakeRefusal)
    }

    /// Why a notification was refused; the sender retries after `retryAfterSeconds` where there is one.
    public enum IntakeRefusal: Sendable, Hashable {
        case shuttingDown
        /// Another replica leads; the sender retries (and its load balancer picks the leader).
        case standingBy
        case rateLimited(alertName: String, retryAfterSeconds: Int)
        case tooManyOpenIncidents(limit: Int, retryAfterSeconds: Int)
    }

    /// How long a sender refused for too many open incidents is asked to wait.
    public static let tooManyOpenRetryAfterSeconds = 30

    /// Takes an alert notification (`alert`, decoded once by the caller; `identity` is its group's key).
    ///
    /// - A notification of a group with an open incident (same `identity`) refreshes it, or resolves it; alerts new
    ///   to it start the recipes that ask for that (`runForNewAlerts`, among `catalog`'s).
    /// - One of a group whose incident is being opened waits for that opening (`waitForOpening`).
    /// - A resolved notification of a group with no open incident is ignored.
    /// - Any other opens a new incident (its id and secret from `newIncident`, called only then) with `catalog`'s
    ///   matching debugging recipes, unless the table is draining, the alert name used up its hourly quota, or
    ///   `maxOpenIncidents` are open.
    public mutating func receive(
        alert: AlertNotification, identity: String, catalog: RecipeCatalog,
        at now: Date, newIncident: () -> (id: UUID, secret: String)
    ) -> Intake {
        guard isAccepting else { return .refused(.shuttingDown) }
        guard !isStandingBy else { return .refused(.standingBy) }
        let resolves = alert.aggregateStatus == .resolved
        if let existing = openByIdentity[identity] {
            if openings[existing] != nil { return .waitForOpening(existing) }
            if let intake = notify(existing, alert: alert, resolves: resolves, catalog: catalog, at: now) {
                return intake
            }
        }
        if resolves {
            return .ignored("the notification is resolved and its group has no open incident")
        }
        if var limit = rateLimit {
            let name = alert.alertName ?? ""
            let retryAfter = limit.admit(alertName: name, at: now)
            rateLimit = limit
            if let retryAfter {
                return .refused(.rateLimited(alertName: name, retryAfterSeconds: retryAfter))
            }
        }
        guard live.count < settings.maxOpenIncidents else {
            return .refused(.tooManyOpenIncidents(limit: settings.maxOpenIncidents,
                                                  retryAfterSeconds: Self.tooManyOpenRetryAfterSeconds))
        }
        let (id, secret) = newIncident()
        var incident = Incident(id: id, payload: alert.raw, callbackSecret: secret,
                                approvalWindowSeconds: settings.approvalWindowSeconds, identity: identity,
                                notification: alert, at: now)
        let outcome = incident.handle(.open(recipes: catalog.debuggingRecipes(for: alert),
                                            defaultTimeoutSeconds: settings.defaultRecipeTimeoutSeconds, at: now))
        incident.revision += 1
        live[id] = incident
        openByIdentity[identity] = id
        var held: [IncidentAction] = []
        if case .applied(let actions) = outcome { held = actions }
        openings[id] = Opening(heldActions: held)
        // Only an incident with runs has results to wait for; one with nothing to run closes once claimed.
        return .opening(incident, incident.runs.isEmpty ? [.claim(incident)] : [.watch(id), .claim(incident)])
    }

    /// The new incident holds its group: its held actions (launches, or the analysis and release of an incident
    /// with nothing to run) go ahead.
    public mutating func claimed(_ id: UUID) -> (incident: Incident?, effects: [Effect]) {
        guard let opening = openings.removeValue(forKey: id), let incident = live[id] else { return (nil, []) }
        return (incident, translate(opening.heldActions, of: incident))
    }

    /// The new incident does not hold its group (another process's incident does, or the claim could not be
    /// saved): it leaves the table as if it never was, and stops being watched.
    public mutating func claimRefused(_ id: UUID) -> [Effect] {
        guard openings.removeValue(forKey: id) != nil, let incident = live.removeValue(forKey: id) else { return [] }
        endDeduplication(of: incident)
        return [.abandoned(incident.id)]
    }

    /// Hands a notification to its group's open incident. Nil when the incident no longer takes notifications
    /// (it closed meanwhile): a new incident opens instead.
    private mutating func notify(
        _ id: UUID, alert: AlertNotification, resolves: Bool, catalog: RecipeCatalog, at now: Date
    ) -> Intake? {
        let event: IncidentEvent = resolves
            ? .resolved(alert, at: now)
            // The incident picks the enabled ones with `runForNewAlerts` itself, and only when an alert is new.
            : .notifiedAgain(alert, recipesForNewAlerts: catalog.debugging,
                             defaultTimeoutSeconds: settings.defaultRecipeTimeoutSeconds, at: now)
        let (outcome, incident, effects) = apply(event, to: id)
        guard case .applied = outcome, let incident else { return nil }
        if resolves { return .resolved(incident, effects) }
        let started = effects.compactMap { effect -> String? in
            if case .launch(_, _, let recipe) = effect { return recipe.name }
            return nil
        }
        return .joined(incident, started: started, effects)
    }
}
