import AsyncHTTPClient
import EuphrosyneCore
import Foundation
import NIOCore
import RecipeKit

extension BuiltinRecipes {
    /// `prometheus-query` (debugging): what Prometheus says about each firing alert's series from a while before
    /// it started until now — current value, min/max, trend, when the rule's threshold was crossed — and which
    /// other alerts fire for the same `job`/`instance`. See ``PrometheusQueryRecipe`` for the settings and
    /// docs/recipes.md for the whole contract.
    @Sendable public static func prometheusQuery(_ context: RecipeContext) async throws -> RecipeOutcome {
        try await PrometheusQueryRecipe.run(context)
    }
}

/// The work of `prometheus-query`.
///
/// Settings (from the recipe's environment):
/// - `PROMETHEUS_URL` (required): the API's base URL, e.g. `http://prometheus-operated.monitoring:9090`. Never
///   taken from the alert: a webhook sender must not be able to point the recipe (and its credentials) elsewhere.
/// - `PROMETHEUS_EXTERNAL_URL`: the base of the graph links people open; `PROMETHEUS_URL` when unset.
/// - `PROMETHEUS_QUERIES`: extra queries, `name=expression` entries separated by `;` or newlines (`;;` is a `;`),
///   with `$label`/`${label}` placeholders filled from each alert's labels (see
///   ``PrometheusQueryParts/fill(_:labels:)``).
/// - `PROMETHEUS_WINDOW`: seconds before the earliest `startsAt` the window opens (default 900); it ends now.
/// - `PROMETHEUS_TIMEOUT`: seconds per request (default 30; connecting gets at most 5).
/// - `PROMETHEUS_SUGGEST`: actions to suggest, comma-separated (default none).
/// - `PROMETHEUS_BEARER_TOKEN`, else `PROMETHEUS_USER` and `PROMETHEUS_PASSWORD` (basic auth).
enum PrometheusQueryRecipe {
    /// At most this many alerts of a notification are analysed (the rest are counted).
    static let maxAlerts = 5
    /// At most this many series are described per query and alert.
    static let maxSeries = 3
    /// At most this many other firing alerts are named per job/instance.
    static let maxOtherAlerts = 10

    struct Settings: Sendable {
        var url: String
        var linkBase: String
        var lead: TimeInterval
        var timeout: TimeInterval
        var queries: [PrometheusQueryParts.ConfiguredQuery]
        var suggested: [String]
        var authorization: String?

        init(_ environment: RecipeEnvironment) throws(RecipeError) {
            guard let url = environment.value("PROMETHEUS_URL") else {
                throw .failed("PROMETHEUS_URL is not set: give the base URL of the Prometheus API, e.g. http://prometheus:9090")
            }
            let base = try Self.baseURL(url, setting: "PROMETHEUS_URL")
            self.url = base
            if let external = environment.value("PROMETHEUS_EXTERNAL_URL") {
                linkBase = try Self.baseURL(external, setting: "PROMETHEUS_EXTERNAL_URL")
            } else {
                linkBase = base
            }
            lead = try Self.seconds(environment.value("PROMETHEUS_WINDOW"), setting: "PROMETHEUS_WINDOW", default: 900)
            timeout = try Self.seconds(environment.value("PROMETHEUS_TIMEOUT"), setting: "PROMETHEUS_TIMEOUT", default: 30)
            guard timeout > 0 else { throw .failed("PROMETHEUS_TIMEOUT must be more than 0 seconds") }
            if let text = environment.value("PROMETHEUS_QUERIES") {
                do {
                    queries = try PrometheusQueryParts.configuredQueries(text)
                } catch {
                    throw .failed("\(error)")
                }
            } else {
                queries = []
            }
            suggested = (environment.value("PROMETHEUS_SUGGEST") ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            authorization = PrometheusAPI.authorization(
                bearerToken: environment.value("PROMETHEUS_BEARER_TOKEN"), user: environment.value("PROMETHEUS_USER"),
                password: environment.value("PROMETHEUS_PASSWORD")
            )
        }

        private static func baseURL(_ text: String, setting: String) throws(RecipeError) -> String {
            var base = text.trimmingCharacters(in: .whitespaces)
            while base.hasSuffix("/") { base.removeLast() }
            guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  url.host != nil, url.query == nil
            else {
                throw .failed("\(setting) \"\(text)\" is not an http(s) URL such as http://prometheus:9090")
            }
            return base
        }

        private static func seconds(_ text: String?, setting: String, default value: TimeInterval) throws(RecipeError)
            -> TimeInterval
        {
            guard let text else { return value }
            guard let seconds = TimeInterval(text.trimmingCharacters(in: .whitespaces)), seconds.isFinite,
                  seconds >= 0
            else {
                throw .failed("\(setting) \"\(text)\" is not a number of seconds")
            }
            return seconds
        }
    }

    /// One expression to run for one alert.
    struct PlannedQuery: Sendable, Hashable {
        enum Origin: Sendable, Hashable {
            /// The alert's rule, from its `generatorURL`.
            case rule(String)
            /// A `PROMETHEUS_QUERIES` entry.
            case configured(String)
        }

        var origin: Origin
        /// What is sent to Prometheus.
        var expression: String
        /// The rule's threshold, when its comparison was split off.
        var threshold: PrometheusQueryParts.Threshold?

        var title: String {
            switch origin {
            case .rule(let rule):
                if threshold != nil { return "The alert's rule `\(rule)` (queried as `\(expression)`)" }
                return "The alert's rule `\(rule)`"
            case .configured(let name):
                return "Query \(name) `\(expression)`"
            }
        }
    }

    /// What to run for one alert, and what could not be run.
    struct AlertPlan: Sendable {
        var alert: Alert
        var queries: [PlannedQuery]
        /// Configured queries not run, with the labels the alert lacks.
        var skipped: [(query: String, missing: [String])]

        var skippedSentences: [String] {
            skipped.map { "Query \($0.query) was not run: the alert has no label \(Self.list($0.missing))." }
        }

        static func list(_ labels: [String]) -> String {
            labels.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }

    /// The queries for each alert: its rule's expression (with the threshold split off when it has a simple one)
    /// and every configured query whose placeholders its labels fill.
    static func plan(_ alerts: [Alert], queries: [PrometheusQueryParts.ConfiguredQuery]) -> [AlertPlan] {
        alerts.map { alert in
            var planned: [PlannedQuery] = []
            var skipped: [(query: String, missing: [String])] = []
            if let rule = alert.generatorURL.flatMap(PrometheusQueryParts.expression(fromGeneratorURL:)) {
                if let split = PrometheusQueryParts.splitComparison(rule) {
                    planned.append(PlannedQuery(origin: .rule(rule), expression: split.value, threshold: split.threshold))
                } else {
                    planned.append(PlannedQuery(origin: .rule(rule), expression: rule, threshold: nil))
                }
            }
            for query in queries {
                switch PrometheusQueryParts.fill(query.template, labels: alert.labels) {
                case .success(let expression):
                    planned.append(PlannedQuery(origin: .configured(query.name), expression: expression, threshold: nil))
                case .failure(let missing):
                    skipped.append((query.name, missing.names))
                }
            }
            return AlertPlan(alert: alert, queries: planned, skipped: skipped)
        }
    }

    static func run(_ context: RecipeContext) async throws -> RecipeOutcome {
        let settings = try Settings(context.environment)
        let notification = context.input.alert
        var alerts = notification.firingAlerts
        if alerts.isEmpty { alerts = notification.alerts }
        if alerts.isEmpty {
            // A generic alert: only configured queries without placeholders (or with the common labels) can run.
            alerts = [Alert(labels: notification.commonLabels)]
        }
        let unanalysed = max(0, alerts.count - maxAlerts)
        let plans = plan(Array(alerts.prefix(maxAlerts)), queries: settings.queries)

        guard plans.contains(where: { !$0.queries.isEmpty }) else {
            var reason = "nothing to query for \(notification.alertName ?? "the alert"): "
            reason += alerts.count == 1 ? "the alert has no generatorURL with a g0.expr"
                : "none of its alerts has a generatorURL with a g0.expr"
            if settings.queries.isEmpty {
                reason += ", and PROMETHEUS_QUERIES is not set"
            } else {
                var needs: [String] = []
                for plan in plans {
                    for skipped in plan.skipped {
                        let text = "\(skipped.query) needs \(AlertPlan.list(skipped.missing))"
                        if !needs.contains(text) { needs.append(text) }
                    }
                }
                reason += ", and no query of PROMETHEUS_QUERIES can be filled from its labels ("
                    + needs.joined(separator: "; ") + ")"
            }
            throw RecipeError.failed(reason)
        }

        let connect = min(5, settings.timeout)
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                timeout: .init(connect: .milliseconds(Int64(connect * 1000)),
                               read: .milliseconds(Int64(settings.timeout * 1000)))
            )
        )
        let api = PrometheusAPI(
            baseURL: settings.url, authorization: settings.authorization, client: client,
            timeout: .milliseconds(Int64(settings.timeout * 1000))
        )
        do {
            let outcome = try await analyse(plans, unanalysed: unanalysed, settings: settings, api: api, now: Date())
            try? await client.shutdown()
            return outcome
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    typealias RangeAnswer = Result<(series: [PrometheusQueryParts.Series], warnings: [String]), PrometheusAPI.Failure>

    static func analyse(
        _ plans: [AlertPlan], unanalysed: Int, settings: Settings, api: PrometheusAPI, now: Date
    ) async throws -> RecipeOutcome {
        let earliest = plans.compactMap(\.alert.startsAt).min() ?? now
        let window = PrometheusQueryParts.Window(from: earliest, lead: settings.lead, end: now)

        // Each distinct expression once, in order of appearance.
        var expressions: [String] = []
        for plan in plans {
            for query in plan.queries where !expressions.contains(query.expression) {
                expressions.append(query.expression)
            }
        }
        var answers: [String: RangeAnswer] = [:]
        for expression in expressions {
            do {
                answers[expression] = .success(try await api.queryRange(expression, window: window))
            } catch {
                // Nothing answers: every other call would fail the same way.
                if case .unreachable = error { throw RecipeError.failed(error.description) }
                answers[expression] = .failure(error)
            }
        }
        let failures = expressions.compactMap { expression -> String? in
            guard case .failure(let failure) = answers[expression] else { return nil }
            return "`\(expression)`: \(failure)"
        }
        if failures.count == expressions.count {
            throw RecipeError.failed(
                "Prometheus at \(settings.url) ran none of the queries. " + failures.joined(separator: " ")
            )
        }

        // Other firing alerts for the analysed alerts' job/instance.
        let otherAlerts: Result<[PrometheusAPI.ActiveAlert], PrometheusAPI.Failure>?
        if plans.contains(where: { $0.alert.labels["job"] != nil || $0.alert.labels["instance"] != nil }) {
            do {
                otherAlerts = .success(try await api.alerts())
            } catch {
                otherAlerts = .failure(error)
            }
        } else {
            otherAlerts = nil
        }

        var paragraphs: [String] = [
            "Prometheus at \(settings.url), from \(PrometheusQueryParts.time(window.start)) to now "
                + "(\(PrometheusQueryParts.time(window.end))), step \(window.step)s.",
        ]
        var described: Set<String> = []
        var otherKeysDone: Set<[String]> = []
        for plan in plans {
            var lines = [heading(plan.alert)]
            for query in plan.queries {
                lines.append(paragraph(query, answer: answers[query.expression], alert: plan.alert, window: window,
                                       alreadyDescribed: described.contains(query.expression)))
                if case .configured = query.origin { described.insert(query.expression) }
            }
            lines += plan.skippedSentences
            if let otherAlerts, let key = otherKey(plan.alert.labels), otherKeysDone.insert(key.map(\.value)).inserted {
                lines.append(otherAlertsSentence(otherAlerts, key: key, notification: plans.map(\.alert)))
            }
            paragraphs.append(lines.joined(separator: "\n"))
        }
        if unanalysed > 0 {
            paragraphs.append("\(unanalysed) more alert\(unanalysed == 1 ? " was" : "s were") not analysed.")
        }
        let links = expressions.filter {
            if case .success = answers[$0] { return true }
            return false
        }.map { PrometheusQueryParts.graphURL(base: settings.linkBase, expression: $0, window: window) }
        return .successful(paragraphs.joined(separator: "\n\n"), actions: settings.suggested, links: links)
    }

    /// `Alert PrometheusDown {instance="…", job="…"}, firing since …:`
    static func heading(_ alert: Alert) -> String {
        var labels = alert.labels
        let name = labels.removeValue(forKey: "alertname") ?? "Alert"
        var line = name
        if !labels.isEmpty { line += " " + PrometheusQueryParts.seriesName(labels) }
        if let status = alert.status { line += ", \(status.rawValue)" }
        if let startsAt = alert.startsAt { line += " since \(PrometheusQueryParts.time(startsAt))" }
        return line + ":"
    }

    /// The paragraph of one query for one alert.
    static func paragraph(
        _ query: PlannedQuery, answer: RangeAnswer?, alert: Alert, window: PrometheusQueryParts.Window,
        alreadyDescribed: Bool
    ) -> String {
        let title = query.title
        guard let answer else { return "\(title): not run." }
        switch answer {
        case .failure(let failure):
            return "\(title): \(failure)."
        case .success(let result):
            if alreadyDescribed { return "\(title): as above." }
            var text = "\(title): "
            var series = result.series.filter { series in series.samples.contains { !$0.value.isNaN } }
            if series.isEmpty {
                text += "no series matched `\(query.expression)` between \(PrometheusQueryParts.time(window.start)) "
                    + "and \(PrometheusQueryParts.time(window.end))."
            } else {
                if case .rule = query.origin {
                    let own = series.filter { $0.belongs(to: alert.labels) }
                    if own.isEmpty {
                        text += series.count == 1 ? "its one series is not this alert's: "
                            : "none of its \(series.count) series is this alert's; "
                    } else {
                        series = own
                    }
                }
                let sentences = series.prefix(maxSeries).map {
                    PrometheusQueryParts.describe($0, window: window, threshold: query.threshold)
                }
                text += sentences.joined(separator: ". ") + "."
                if series.count > maxSeries { text += " And \(series.count - maxSeries) more series." }
            }
            if !result.warnings.isEmpty { text += " Prometheus warned: " + result.warnings.joined(separator: "; ") + "." }
            return text
        }
    }

    /// The `job` and `instance` labels of an alert, those it has; nil when it has neither.
    static func otherKey(_ labels: [String: String]) -> [(name: String, value: String)]? {
        let key = ["job", "instance"].compactMap { name in labels[name].map { (name: name, value: $0) } }
        return key.isEmpty ? nil : key
    }

    /// The other alerts firing for the same job/instance: every firing alert of `GET /api/v1/alerts` with those
    /// labels, except the notification's own (an API alert whose labels all appear in one of them: Prometheus adds
    /// its external labels only to what it sends to Alertmanager).
    static func otherAlertsSentence(
        _ answer: Result<[PrometheusAPI.ActiveAlert], PrometheusAPI.Failure>, key: [(name: String, value: String)],
        notification: [Alert]
    ) -> String {
        let scope = key.map { "\($0.name)=\"\(PrometheusQueryParts.escapedForString($0.value))\"" }
            .joined(separator: ", ")
        switch answer {
        case .failure(let failure):
            return "Other firing alerts for \(scope) could not be listed: \(failure)."
        case .success(let alerts):
            let others = alerts.filter { alert in
                alert.state == "firing"
                    && key.allSatisfy { alert.labels[$0.name] == $0.value }
                    && !notification.contains { own in alert.labels.allSatisfy { own.labels[$0.key] == $0.value } }
            }.sorted {
                ($0.labels["alertname"] ?? "", PrometheusQueryParts.seriesName($0.labels))
                    < ($1.labels["alertname"] ?? "", PrometheusQueryParts.seriesName($1.labels))
            }
            guard !others.isEmpty else { return "No other alert fires for \(scope)." }
            var names = others.prefix(maxOtherAlerts).map { alert in
                var text = alert.labels["alertname"] ?? "unnamed alert"
                if let since = alert.activeAt { text += " (since \(PrometheusQueryParts.time(since)))" }
                if let summary = alert.annotations["summary"], !summary.isEmpty {
                    text += ": " + summary.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(120)
                }
                return text
            }
            if others.count > maxOtherAlerts { names.append("and \(others.count - maxOtherAlerts) more") }
            return "Other firing alerts for \(scope): " + names.joined(separator: "; ") + "."
        }
    }
}
