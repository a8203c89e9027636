import EuphrosyneCore
@testable import EuphrosyneRecipes
@testable import EuphrosyneTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RecipeKit
import Testing

/// `prometheus-query` against a real Prometheus (Debian's `prometheus`, started per test on a free loopback port,
/// scraping itself every second, with the rules of `PrometheusProcess.defaultRules`).
@Suite struct PrometheusQueryRecipeTests {
    @Test func theRuleOfTheGeneratorURLIsSummarisedWithTheOtherAlertsOfItsJobAndInstance() async throws {
        let prometheus = try await PrometheusProcess.start()
        do {
            try await prometheus.waitForResult(of: #"ALERTS{alertname="PrometheusScraped", alertstate="firing"}"#)
            try await prometheus.waitForResult(of: #"ALERTS{alertname="PrometheusUp", alertstate="firing"}"#)
            // A few scrapes, so `up` has a trend.
            try await prometheus.waitForResult(of: "count_over_time(up[1m]) >= 3")
            let alert = PrometheusTestAlert(
                labels: [
                    "alertname": "PrometheusUp", "instance": prometheus.instance, "job": "prometheus",
                    "severity": "info",
                ],
                startsAt: prometheus.startedAt,
                generatorURL: prometheus.baseURL + "/graph?g0.expr=up+%3D%3D+1&g0.tab=1"
            )
            let outcome = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([alert], environment: [
                    "PROMETHEUS_URL": prometheus.baseURL, "PROMETHEUS_WINDOW": "30",
                ])
            )
            let analysis = outcome.analysis
            #expect(outcome.status == .successful, "\(analysis)")
            #expect(analysis.hasPrefix("Prometheus at \(prometheus.baseURL), from "))
            #expect(analysis.contains("The alert's rule `up == 1` (queried as `up`): "))
            #expect(analysis.contains("up{instance=\"\(prometheus.instance)\", job=\"prometheus\"} is 1 now"), "\(analysis)")
            #expect(analysis.contains("1 over the whole window; flat; == 1 since "), "\(analysis)")
            #expect(analysis.contains(
                "Other firing alerts for job=\"prometheus\", instance=\"\(prometheus.instance)\": PrometheusScraped (since "
            ), "\(analysis)")
            #expect(analysis.contains("\(prometheus.instance) was scraped"), "the summary annotation: \(analysis)")
            // Neither the alert itself nor one without this job and instance.
            #expect(!analysis.contains("PrometheusUp (since"), "\(analysis)")
            #expect(!analysis.contains("AlwaysFiring"), "\(analysis)")
            #expect(outcome.actions == [])
            #expect(outcome.links.count == 1)
            #expect(outcome.links.first?.hasPrefix(prometheus.baseURL + "/graph?g0.expr=up&g0.tab=0&g0.range_input=") == true)
        } catch {
            await prometheus.stop()
            throw error
        }
        await prometheus.stop()
    }

    @Test func aConfiguredQueryHasItsPlaceholdersFilledFromTheAlertsLabels() async throws {
        let prometheus = try await PrometheusProcess.start()
        do {
            try await prometheus.waitForResult(of: #"ALERTS{alertname="PrometheusScraped", alertstate="firing"}"#)
            try await prometheus.waitForResult(of: #"ALERTS{alertname="PrometheusUp", alertstate="firing"}"#)
            // No generatorURL: only the configured queries run.
            let alert = PrometheusTestAlert(
                labels: ["alertname": "JobSlow", "job": "prometheus"], startsAt: prometheus.startedAt
            )
            let outcome = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([alert], environment: [
                    "PROMETHEUS_URL": prometheus.baseURL + "/", "PROMETHEUS_WINDOW": "5",
                    "PROMETHEUS_EXTERNAL_URL": "https://prometheus.example.com",
                    "PROMETHEUS_QUERIES": """
                        seconds=euphrosyne_test_seconds{job="$job"};
                        pods=kube_pod_info{pod="$pod"}
                        gone=euphrosyne_no_such_metric{job="${job}"}
                        """,
                    "PROMETHEUS_SUGGEST": "jira, record",
                    // Prometheus ignores credentials; they must not get in the way.
                    "PROMETHEUS_BEARER_TOKEN": "not-checked",
                ])
            )
            let analysis = outcome.analysis
            #expect(outcome.status == .successful, "\(analysis)")
            #expect(analysis.contains(
                "Query seconds `euphrosyne_test_seconds{job=\"prometheus\"}`: euphrosyne_test_seconds{job=\"prometheus\"} is "
            ), "\(analysis)")
            #expect(analysis.contains("; rising (first third ≈ "), "\(analysis)")
            #expect(analysis.contains("Query pods was not run: the alert has no label \"pod\"."), "\(analysis)")
            #expect(analysis.contains(
                "Query gone `euphrosyne_no_such_metric{job=\"prometheus\"}`: no series matched `euphrosyne_no_such_metric{job=\"prometheus\"}` between "
            ), "\(analysis)")
            // The alert has a job and no instance: every other alert of the job is listed, AlwaysFiring (no job) not.
            #expect(analysis.contains(
                "Other firing alerts for job=\"prometheus\": PrometheusScraped (since "
            ), "\(analysis)")
            #expect(analysis.contains("; PrometheusUp (since "), "\(analysis)")
            #expect(!analysis.contains("AlwaysFiring"), "\(analysis)")
            #expect(outcome.actions == ["jira", "record"])
            // Both queries Prometheus answered have a graph, on the external URL.
            #expect(outcome.links.count == 2)
            #expect(outcome.links.allSatisfy { $0.hasPrefix("https://prometheus.example.com/graph?g0.expr=euphrosyne_") })
        } catch {
            await prometheus.stop()
            throw error
        }
        await prometheus.stop()
    }

    @Test func aBadExpressionFailsQuotingPrometheusAndAnEmptyResultIsSaid() async throws {
        let prometheus = try await PrometheusProcess.start()
        do {
            let alert = PrometheusTestAlert(
                labels: ["alertname": "Broken", "job": "prometheus"], startsAt: Date(),
                generatorURL: prometheus.baseURL + "/graph?g0.expr=rate%28up%5B1m%5D&g0.tab=1"
            )
            let error = await #expect(throws: RecipeError.self) {
                _ = try await BuiltinRecipes.prometheusQuery(
                    PrometheusTestAlert.context([alert], environment: ["PROMETHEUS_URL": prometheus.baseURL])
                )
            }
            #expect(error?.kind == .failed)
            let message = error?.message ?? ""
            #expect(message.hasPrefix("Prometheus at \(prometheus.baseURL) ran none of the queries. `rate(up[1m]`: "), "\(message)")
            #expect(message.contains("Prometheus answered 400, bad_data: "), "\(message)")
            #expect(message.contains("unclosed left bracket") || message.contains("unclosed left parenthesis"), "\(message)")

            // Nothing matches: still something to say, so a successful result that says it.
            let empty = PrometheusTestAlert(
                labels: ["alertname": "Gone"], startsAt: Date(),
                generatorURL: prometheus.baseURL + "/graph?g0.expr=euphrosyne_no_such_metric+%3E+0&g0.tab=1"
            )
            let outcome = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([empty], environment: ["PROMETHEUS_URL": prometheus.baseURL])
            )
            #expect(outcome.status == .successful)
            #expect(outcome.analysis.contains(
                "The alert's rule `euphrosyne_no_such_metric > 0` (queried as `euphrosyne_no_such_metric`): no series matched `euphrosyne_no_such_metric` between "
            ), "\(outcome.analysis)")
        } catch {
            await prometheus.stop()
            throw error
        }
        await prometheus.stop()
    }

    @Test func aPrometheusThatIsNotThereFailsNamingTheURLAndTheError() async throws {
        // A port nothing listens on: probed free, and never used.
        let url = "http://127.0.0.1:\(try RedisServerProcess.freePort())"
        let alert = PrometheusTestAlert(
            labels: ["alertname": "PrometheusUp", "job": "prometheus"], startsAt: Date(),
            generatorURL: "http://prometheus.example.com/graph?g0.expr=up+%3D%3D+1&g0.tab=1"
        )
        let started = ContinuousClock.now
        let error = await #expect(throws: RecipeError.self) {
            _ = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([alert], environment: ["PROMETHEUS_URL": url, "PROMETHEUS_TIMEOUT": "2"])
            )
        }
        #expect(error?.kind == .failed)
        let message = error?.message ?? ""
        #expect(message.hasPrefix("cannot reach Prometheus at \(url): "), "\(message)")
        #expect(message == "cannot reach Prometheus at \(url): connection refused (nothing listens there)")
        #expect(ContinuousClock.now - started < .seconds(10), "PROMETHEUS_TIMEOUT bounds the wait")
    }

    @Test func anAlertWithNothingToQueryFailsSayingSo() async throws {
        let alert = PrometheusTestAlert(labels: ["alertname": "Manual", "job": "prometheus"], startsAt: Date())
        let error = await #expect(throws: RecipeError.self) {
            _ = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([alert], environment: ["PROMETHEUS_URL": "http://127.0.0.1:9"])
            )
        }
        #expect(error?.message == "nothing to query for Manual: the alert has no generatorURL with a g0.expr, and PROMETHEUS_QUERIES is not set")

        let needsPod = await #expect(throws: RecipeError.self) {
            _ = try await BuiltinRecipes.prometheusQuery(
                PrometheusTestAlert.context([alert], environment: [
                    "PROMETHEUS_URL": "http://127.0.0.1:9", "PROMETHEUS_QUERIES": "restarts=kube_pod_restarts{pod=\"$pod\"}",
                ])
            )
        }
        #expect(needsPod?.message == "nothing to query for Manual: the alert has no generatorURL with a g0.expr, and no query of PROMETHEUS_QUERIES can be filled from its labels (restarts needs \"pod\")")
    }

    @Test func settingsAreCheckedBeforeAnythingRuns() async throws {
        let alert = PrometheusTestAlert(labels: ["alertname": "A"], startsAt: Date(), generatorURL: "http://p/graph?g0.expr=up")
        for (environment, expected) in [
            ([String: String](), "PROMETHEUS_URL is not set"),
            (["PROMETHEUS_URL": "prometheus:9090"], "PROMETHEUS_URL \"prometheus:9090\" is not an http(s) URL"),
            (["PROMETHEUS_URL": "http://p:9090", "PROMETHEUS_WINDOW": "15m"], "PROMETHEUS_WINDOW \"15m\" is not a number of seconds"),
            (["PROMETHEUS_URL": "http://p:9090", "PROMETHEUS_QUERIES": "up"], "PROMETHEUS_QUERIES entry \"up\" has no \"=\""),
        ] {
            let error = await #expect(throws: RecipeError.self) {
                _ = try await BuiltinRecipes.prometheusQuery(PrometheusTestAlert.context([alert], environment: environment))
            }
            #expect(error?.message.hasPrefix(expected) == true, "\(error?.message ?? "")")
        }
    }
}

/// The pure parts, as values: no server.
@Suite struct PrometheusQueryPartsTests {
    typealias Parts = PrometheusQueryParts

    @Test func theExpressionComesFromG0ExprOfTheGeneratorURL() {
        #expect(Parts.expression(fromGeneratorURL: "http://prom:9090/graph?g0.expr=up+%3D%3D+1&g0.tab=1") == "up == 1")
        #expect(Parts.expression(fromGeneratorURL:
            "https://p.example.com/prom/graph?g0.tab=1&g0.expr=rate%28http_requests_total%7Bjob%3D%22api%22%2Ccode%3D~%225..%22%7D%5B5m%5D%29+%3E+0.5"
        ) == #"rate(http_requests_total{job="api",code=~"5.."}[5m]) > 0.5"#)
        // A literal + is %2B; + is a space.
        #expect(Parts.expression(fromGeneratorURL: "http://p/graph?g0.expr=a+%2B+b") == "a + b")
        #expect(Parts.expression(fromGeneratorURL: "http://p/graph?g1.expr=b&g0.tab=0#g0.expr=nope") == "b")
        #expect(Parts.expression(fromGeneratorURL: "http://p/graph?g1.expr=b&g0.expr=a") == "a")
        #expect(Parts.expression(fromGeneratorURL: "http://p/graph?g0.expr=&g0.tab=1") == nil)
        #expect(Parts.expression(fromGeneratorURL: "http://p/graph") == nil)
        #expect(Parts.expression(fromGeneratorURL: "https://grafana.example.com/alerting/grafana/abc/view?orgId=1") == nil)
    }

    @Test func configuredQueriesAreNamedAndSeparatedBySemicolonsOrNewlines() throws {
        let queries = try Parts.configuredQueries("""
            cpu = rate(cpu{job="$job"}[5m]) ; mem=mem{instance="$instance"}
            re=up{job=~"a;;b"};;

            """)
        #expect(queries == [
            .init(name: "cpu", template: #"rate(cpu{job="$job"}[5m])"#),
            .init(name: "mem", template: #"mem{instance="$instance"}"#),
            .init(name: "re", template: #"up{job=~"a;b"};"#),
        ])
        #expect(try Parts.configuredQueries(" ; \n") == [])
        #expect(throws: Parts.ConfigurationError("PROMETHEUS_QUERIES entry \"up\" has no \"=\": write name=expression")) {
            try Parts.configuredQueries("a=up;up")
        }
        #expect(throws: Parts.ConfigurationError("PROMETHEUS_QUERIES names \"a\" twice")) {
            try Parts.configuredQueries("a=up;a=down")
        }
        #expect(throws: Parts.ConfigurationError("PROMETHEUS_QUERIES entry \"a\" has an empty expression")) {
            try Parts.configuredQueries("a= ")
        }
        #expect(throws: Parts.ConfigurationError.self) { try Parts.configuredQueries("=up") }
        #expect(throws: Parts.ConfigurationError.self) { try Parts.configuredQueries("my query=up") }
    }

    @Test func placeholdersAreFilledFromLabelsAndEscapedForAString() {
        let labels = ["job": "api", "pod": #"we"ird\pod"#, "instance": "10.0.0.1:9100"]
        #expect(Parts.fill(#"up{job="$job", instance="${instance}"}"#, labels: labels) == .success(#"up{job="api", instance="10.0.0.1:9100"}"#))
        #expect(Parts.fill(#"x{pod="$pod"}"#, labels: labels) == .success(#"x{pod="we\"ird\\pod"}"#))
        #expect(Parts.fill(#"x{job=~"${job}_.*|api$", cost="$$5"} * $ 2"#, labels: labels)
            == .success(#"x{job=~"api_.*|api$", cost="$5"} * $ 2"#))
        #expect(Parts.fill("$pod_name + $zone + $pod_name + ${a b}", labels: labels)
            == .failure(.init(names: ["pod_name", "zone"])))
    }

    @Test func theRulesThresholdIsSplitOffASimpleComparison() {
        func split(_ expression: String) -> String? {
            Parts.splitComparison(expression).map { "\($0.value) | \($0.threshold)" }
        }
        #expect(split("up == 1") == "up | == 1")
        #expect(split(#"rate(x{a=~"b>c", d!="e"}[5m]) > 0.5"#) == #"rate(x{a=~"b>c", d!="e"}[5m]) | > 0.5"#)
        #expect(split("sum by (job) (x) >= 1e3") == "sum by (job) (x) | >= 1000")
        #expect(split("x != bool 2") == "x | != 2")
        #expect(split("0.9 < node_load1") == "node_load1 | > 0.9")
        #expect(split("x <= -1 # a comment > 2") == "x | <= -1")
        #expect(split("(a > 1)") == nil)
        #expect(split("a > b") == nil)
        #expect(split("a > 1 and on(job) b") == nil)
        #expect(split("a > 1 unless b") == nil)
        #expect(split("a > 1 > 2") == nil)
        #expect(split("absent(up{job=\"x\"})") == nil)
        #expect(split("1 > 2") == nil)
        let threshold = Parts.Threshold(comparison: ">=", value: 2)
        #expect(threshold.holds(2) && threshold.holds(3) && !threshold.holds(1))
    }

    @Test func theStepKeepsARangeQueryToAtMost200Points() {
        #expect(Parts.step(forRange: 0) == 1)
        #expect(Parts.step(forRange: 199) == 1)
        #expect(Parts.step(forRange: 200) == 2)
        #expect(Parts.step(forRange: 900) == 5)
        #expect(Parts.step(forRange: 86_400) == 435)
        for range in stride(from: 0.0, through: 100_000, by: 37) {
            let step = Parts.step(forRange: range)
            #expect(Int(range) / step + 1 <= 200, "range \(range) step \(step)")
        }
        // The window ends now on a whole second and starts on its step grid, covering the lead before the start.
        let now = Date(timeIntervalSince1970: 1_800_000_000.7)
        let window = Parts.Window(from: Date(timeIntervalSince1970: 1_800_000_000 - 60), lead: 900, end: now)
        #expect(window.end == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(window.step == 5)
        #expect(window.start == Date(timeIntervalSince1970: 1_800_000_000 - 960))
        // An alert that starts in the future still gets a window up to now.
        let future = Parts.Window(from: now.addingTimeInterval(100), lead: 10, end: now)
        #expect(future.start == future.end && future.step == 1)
    }

    @Test func theTrendComparesTheFirstAndLastThirds() {
        #expect(Parts.trend([1, 2, 3, 4, 5, 6, 7, 8, 9])?.trend == .rising)
        #expect(Parts.trend([1, 2, 3, 4, 5, 6, 7, 8, 9])?.first == 2)
        #expect(Parts.trend([1, 2, 3, 4, 5, 6, 7, 8, 9])?.last == 8)
        #expect(Parts.trend([9, 8, 7, 6, 5, 4, 3])?.trend == .falling)
        #expect(Parts.trend([0, 1])?.trend == .rising)
        #expect(Parts.trend([3, 3, 3])?.trend == .flat)
        // Noise around a level is flat; so is a small change on a large value.
        #expect(Parts.trend([5, 5.1, 4.9, 5, 5.05, 4.95, 5.02, 4.98, 5])?.trend == .flat)
        #expect(Parts.trend([1_000, 1_001, 1_002, 1_003, 1_004, 1_005])?.trend == .flat)
        #expect(Parts.trend([.nan, 1, .nan, 5, .infinity])?.trend == .rising)
        #expect(Parts.trend([1]) == nil)
        #expect(Parts.trend([]) == nil)
    }

    @Test func aSeriesIsDescribedByItsValueRangeTrendAndCrossing() {
        let window = Parts.Window(
            start: Date(timeIntervalSince1970: 1_800_000_000), end: Date(timeIntervalSince1970: 1_800_000_040), step: 10
        )
        func series(_ values: [Double?]) -> Parts.Series {
            Parts.Series(labels: ["__name__": "load", "instance": "a"], samples: values.enumerated().compactMap { index, value in
                value.map { Parts.Sample(time: 1_800_000_000 + Double(index) * 10, value: $0) }
            })
        }
        let threshold = Parts.Threshold(comparison: ">", value: 0.5)
        #expect(Parts.describe(series([0.1, 0.2, 0.3, 0.9, 1.25]), window: window, threshold: threshold)
            == "load{instance=\"a\"} is 1.25 now; min 0.1, max 1.25 over the window; rising (first third ≈ 0.1, last third ≈ 1.25); crossed > 0.5 at 2027-01-15T08:00:30Z")
        #expect(Parts.describe(series([1, 1, 1, 1, 1]), window: window, threshold: threshold)
            == "load{instance=\"a\"} is 1 now; 1 over the whole window; flat; > 0.5 throughout the window")
        #expect(Parts.describe(series([1, 1, 0, 0, 0]), window: window, threshold: threshold)
            .hasSuffix("; no longer > 0.5 since 2027-01-15T08:00:20Z"))
        #expect(Parts.describe(series([0, 0, 0, 0, 0]), window: window, threshold: threshold)
            .hasSuffix("; never > 0.5 in the window"))
        #expect(Parts.describe(series([nil, nil, 3, 4, nil]), window: window, threshold: nil)
            == "load{instance=\"a\"} was last 4 at 2027-01-15T08:00:30Z, no value since; min 3, max 4 over the window; rising (first third ≈ 3, last third ≈ 4); first seen at 2027-01-15T08:00:20Z")
        #expect(Parts.describe(series([nil, nil, 1, 1, 1]), window: window, threshold: threshold)
            .hasSuffix("; crossed > 0.5 at 2027-01-15T08:00:20Z"))
        // An equality is not crossed: it holds since a time.
        #expect(Parts.describe(series([0, 1, 1, 1, 1]), window: window, threshold: .init(comparison: "==", value: 1))
            .hasSuffix("; == 1 since 2027-01-15T08:00:10Z"))
    }

    @Test func valuesNamesAndLinksAreWrittenForPeople() {
        #expect(Parts.formatted(1) == "1")
        #expect(Parts.formatted(-42) == "-42")
        #expect(Parts.formatted(0.123456) == "0.1235")
        #expect(Parts.formatted(1.23456e-7) == "1.235e-7")
        #expect(Parts.formatted(1.5e20) == "1.5e20")
        #expect(Parts.formatted(.infinity) == "+Inf")
        #expect(Parts.seriesName(["__name__": "up", "job": "a\"b", "instance": "x"]) == #"up{instance="x", job="a\"b"}"#)
        #expect(Parts.seriesName([:]) == "{}")
        #expect(Parts.duration(3_725) == "1h2m5s")
        let window = Parts.Window(
            start: Date(timeIntervalSince1970: 1_800_000_000 - 960), end: Date(timeIntervalSince1970: 1_800_000_000), step: 5
        )
        #expect(Parts.graphURL(base: "http://p:9090", expression: #"rate(x{a="b"}[5m]) > 1"#, window: window)
            == "http://p:9090/graph?g0.expr=rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%20%3E%201&g0.tab=0&g0.range_input=16m&g0.end_input=2027-01-15%2008%3A00%3A00")
        #expect(PrometheusAPI.authorization(bearerToken: "t", user: "u", password: "p") == "Bearer t")
        #expect(PrometheusAPI.authorization(bearerToken: nil, user: "u", password: "p") == "Basic dTpw")
        #expect(PrometheusAPI.authorization(bearerToken: nil, user: nil, password: "p") == nil)
    }

    @Test func answersAreParsedAndErrorsQuoted() throws {
        let matrix = try PrometheusAPI.parseAnswer(status: 200, body: Data("""
            {"status":"success","warnings":["careful"],"data":{"resultType":"matrix","result":[
              {"metric":{"__name__":"up","job":"a"},"values":[[1800000000,"1"],[1800000005.5,"NaN"],[1800000010,"+Inf"]]}]}}
            """.utf8))
        #expect(matrix.warnings == ["careful"])
        let series = try PrometheusAPI.series(of: matrix.data)
        #expect(series.count == 1)
        #expect(series[0].labels == ["__name__": "up", "job": "a"])
        #expect(series[0].samples.map(\.time) == [1_800_000_000, 1_800_000_005.5, 1_800_000_010])
        #expect(series[0].samples[2].value == .infinity)
        #expect(series[0].samples[1].value.isNaN)

        let vector = try PrometheusAPI.parseAnswer(status: 200, body: Data("""
            {"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1800000000.1,"2.5"]}]}}
            """.utf8))
        #expect(try PrometheusAPI.series(of: vector.data) == [.init(labels: [:], samples: [.init(time: 1_800_000_000.1, value: 2.5)])])
        let scalar = try PrometheusAPI.parseAnswer(status: 200, body: Data(#"{"status":"success","data":{"resultType":"scalar","result":[1800000000,"3"]}}"#.utf8))
        #expect(try PrometheusAPI.series(of: scalar.data).first?.samples.first?.value == 3)

        #expect(throws: PrometheusAPI.Failure.answered(status: 400, errorType: "bad_data", error: "parse error: unexpected end of input")) {
            try PrometheusAPI.parseAnswer(status: 400, body: Data(#"{"status":"error","errorType":"bad_data","error":"parse error: unexpected end of input"}"#.utf8))
        }
        #expect(throws: PrometheusAPI.Failure.answered(status: 502, errorType: nil, error: "<html> <body>Bad Gateway</body> </html>")) {
            try PrometheusAPI.parseAnswer(status: 502, body: Data("<html>\n<body>Bad Gateway</body>\n</html>".utf8))
        }
        #expect(throws: PrometheusAPI.Failure.answered(status: 503, errorType: nil, error: "(empty body)")) {
            try PrometheusAPI.parseAnswer(status: 503, body: Data())
        }
        #expect(throws: PrometheusAPI.Failure.answered(status: 200, errorType: nil, error: "not a Prometheus API answer: ok")) {
            try PrometheusAPI.parseAnswer(status: 200, body: Data("ok".utf8))
        }
        #expect(PrometheusAPI.Failure.answered(status: 422, errorType: "execution", error: "boom").description
            == "Prometheus answered 422, execution: boom")
    }
}

/// An alert of an Alertmanager v4 webhook, as the recipe's data file carries it.
struct PrometheusTestAlert {
    var labels: [String: String]
    var startsAt: Date
    var generatorURL: String = ""

    var json: [String: Any] {
        [
            "status": "firing", "labels": labels, "annotations": ["summary": "test alert"],
            "startsAt": RFC3339.formatWithMilliseconds(startsAt), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": generatorURL, "fingerprint": "0123456789abcdef",
        ]
    }

    /// The context a recipe gets for a notification of `alerts`, with `environment` as its environment.
    static func context(_ alerts: [PrometheusTestAlert], environment: [String: String]) -> RecipeContext {
        let common = alerts.dropFirst().reduce(alerts.first?.labels ?? [:]) { common, alert in
            common.filter { alert.labels[$0.key] == $0.value }
        }
        let webhook: [String: Any] = [
            "version": "4", "status": "firing", "receiver": "euphrosyne", "groupKey": "{}:{}",
            "groupLabels": [String: String](), "commonLabels": common, "commonAnnotations": [String: String](),
            "externalURL": "http://alertmanager:9093", "alerts": alerts.map(\.json), "truncatedAlerts": 0,
            "uuid": "00000000-0000-4000-8000-000000000001",
        ]
        let data = try! JSONSerialization.data(withJSONObject: webhook)
        let object = try! JSONValue.parseObject(data)
        return RecipeContext(
            name: "prometheus-query", arguments: RecipeArguments(dataFilePath: "unused"),
            environment: RecipeEnvironment(environment),
            input: RecipeInput(incident: "00000000-0000-4000-8000-000000000001", data: object)
        )
    }
}

/// The test helper itself: a taken port, a clean stop.
@Suite struct PrometheusProcessTests {
    @Test func aTakenPortIsRetriedOnAnotherAndStopRemovesEverything() async throws {
        let holder = try ListeningSocket()
        defer { holder.close() }
        var offered: [Int] = []
        let prometheus = try await PrometheusProcess.start(rules: nil, nextPort: {
            let port = offered.isEmpty ? holder.port : try RedisServerProcess.freePort()
            offered.append(port)
            return port
        })
        #expect(offered.count == 2)
        #expect(prometheus.port == offered.last)
        #expect(await prometheus.isRunning)
        #expect(FileManager.default.fileExists(atPath: prometheus.directory.path))
        await prometheus.stop()
        #expect(!(await prometheus.isRunning))
        #expect(!FileManager.default.fileExists(atPath: prometheus.directory.path))
    }
}

/// A loopback TCP socket that listens (and never accepts): a port another server cannot bind.
final class ListeningSocket: Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RecipeError.failed("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, listen(fd, 1) == 0 else {
            Glibc.close(fd)
            throw RecipeError.failed("cannot listen on a loopback port")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        Glibc.close(descriptor)
    }
}
