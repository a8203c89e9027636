import EuphrosyneCore
import Testing

@Suite("Alertmanager label matchers")
struct AlertMatcherTests {
    // MARK: Operators against present, missing and empty labels

    struct Case: Sendable, CustomTestStringConvertible {
        var matcher: String
        var labels: [String: String]
        var matches: Bool
        var testDescription: String { "\(matcher) vs \(labels) → \(matches)" }
    }

    static let present: [String: String] = ["foo": "bar"]
    static let empty: [String: String] = ["foo": ""]
    static let missing: [String: String] = ["other": "bar"]

    @Test(arguments: [
        Case(matcher: #"foo="bar""#, labels: present, matches: true),
        Case(matcher: #"foo="baz""#, labels: present, matches: false),
        Case(matcher: #"foo="bar""#, labels: missing, matches: false),
        Case(matcher: #"foo="bar""#, labels: empty, matches: false),
        Case(matcher: #"foo="""#, labels: missing, matches: true),
        Case(matcher: #"foo="""#, labels: empty, matches: true),
        Case(matcher: #"foo="""#, labels: present, matches: false),
        Case(matcher: #"foo!="bar""#, labels: present, matches: false),
        Case(matcher: #"foo!="bar""#, labels: missing, matches: true),
        Case(matcher: #"foo!="bar""#, labels: empty, matches: true),
        Case(matcher: #"foo!="""#, labels: missing, matches: false),
        Case(matcher: #"foo!="""#, labels: empty, matches: false),
        Case(matcher: #"foo!="""#, labels: present, matches: true),
        Case(matcher: #"foo=~".*""#, labels: missing, matches: true),
        Case(matcher: #"foo=~".*""#, labels: empty, matches: true),
        Case(matcher: #"foo=~".*""#, labels: present, matches: true),
        Case(matcher: #"foo=~".+""#, labels: missing, matches: false),
        Case(matcher: #"foo=~".+""#, labels: empty, matches: false),
        Case(matcher: #"foo=~".+""#, labels: present, matches: true),
        Case(matcher: #"foo=~"ba.""#, labels: present, matches: true),
        Case(matcher: #"foo!~".+""#, labels: missing, matches: true),
        Case(matcher: #"foo!~".+""#, labels: present, matches: false),
        Case(matcher: #"foo!~"ba.""#, labels: present, matches: false),
        Case(matcher: #"foo!~"qu.""#, labels: present, matches: true),
        Case(matcher: #"foo!~"ba.""#, labels: missing, matches: true),
    ])
    func operatorSemantics(_ c: Case) throws {
        #expect(try AlertMatcher(parsing: c.matcher).matches(c.labels) == c.matches)
    }

    @Test(arguments: [
        (#"foo="bar""#, #"foo!="bar""#), (#"foo="""#, #"foo!="""#),
        (#"foo=~"ba.""#, #"foo!~"ba.""#), (#"foo=~".+""#, #"foo!~".+""#), (#"foo=~"a|b""#, #"foo!~"a|b""#),
    ])
    func negatedOperatorIsTheExactNegation(positive: String, negative: String) throws {
        let yes = try AlertMatcher(parsing: positive)
        let no = try AlertMatcher(parsing: negative)
        for labels in [Self.present, Self.empty, Self.missing, ["foo": "a"], ["foo": "ab"], ["foo": "BAR"]] {
            #expect(yes.matches(labels) == !no.matches(labels), "\(labels)")
        }
    }

    @Test func labelNamesAndValuesAreCaseSensitive() throws {
        let labels = ["severity": "critical"]
        #expect(try AlertMatcher(parsing: #"Severity="critical""#).matches(labels) == false)
        #expect(try AlertMatcher(parsing: #"severity="Critical""#).matches(labels) == false)
        #expect(try AlertMatcher(parsing: #"severity="critical""#).matches(labels))
    }

    // MARK: Anchoring

    @Test(arguments: [
        (#"alertname=~"HTTP""#, "HTTPErrors", false),
        (#"alertname=~"HTTP""#, "HTTP", true),
        (#"alertname=~"HTTP.*""#, "HTTPErrors", true),
        (#"alertname=~"Errors""#, "HTTPErrors", false),
        (#"alertname=~".*Errors""#, "HTTPErrors", true),
        (#"alertname=~"TTP""#, "HTTPErrors", false),
        (#"alertname=~"a|b""#, "a", true),
        (#"alertname=~"a|b""#, "b", true),
        (#"alertname=~"a|b""#, "ab", false),
        (#"alertname=~"a|b""#, "xa", false),
        (#"alertname=~"abc""#, "abc\n", false),
        // RE2: `.` does not match a newline unless (?s) is set.
        (#"alertname=~".*""#, "a\nb", false),
        (#"alertname=~"(?s).*""#, "a\nb", true),
        (#"alertname=~"(?i)http.*""#, "HTTPErrors", true),
        (#"alertname=~"HTTPErrors[45]xx""#, "HTTPErrors5xx", true),
        (#"alertname=~"\\d+""#, "503", true),
        (#"alertname=~"\d+""#, "503", true),
        (#"alertname=~"\d+""#, "503a", false),
    ])
    func regexesAreFullyAnchored(matcher: String, value: String, expected: Bool) throws {
        #expect(try AlertMatcher(parsing: matcher).matches(["alertname": value]) == expected)
        let negated = matcher.replacing("=~", with: "!~")
        #expect(try AlertMatcher(parsing: negated).matches(["alertname": value]) == !expected)
    }

    @Test func valuesCompareByUnicodeScalarsLikeAlertmanager() throws {
        let precomposed = "\u{E9}"  // é
        let decomposed = "e\u{301}"  // e + combining acute
        let matcher = try AlertMatcher(name: "city", type: .equal, value: precomposed)
        #expect(matcher.matches(["city": precomposed]))
        #expect(matcher.matches(["city": decomposed]) == false)
        #expect(matcher != (try AlertMatcher(name: "city", type: .equal, value: decomposed)))
        // `.` is one code point, as in RE2, not one grapheme cluster.
        let dot = try AlertMatcher(parsing: #"city=~".""#)
        #expect(dot.matches(["city": precomposed]))
        #expect(dot.matches(["city": decomposed]) == false)
    }

    // MARK: Quoting and unquoted values

    @Test(arguments: [
        (#"foo="bar""#, "foo", AlertMatcher.MatchType.equal, "bar"),
        (#"  foo   !=   "bar"  "#, "foo", .notEqual, "bar"),
        (#"foo=~"a\"b""#, "foo", .regexMatch, #"a"b"#),
        (#"foo="a\\b""#, "foo", .equal, #"a\b"#),
        (#"foo="a\nb""#, "foo", .equal, "a\nb"),
        (#"foo="\d+\.""#, "foo", .equal, #"\d+\."#),
        (#"foo="a,b{c}""#, "foo", .equal, "a,b{c}"),
        (#"foo=" padded ""#, "foo", .equal, " padded "),
        (#"foo="""#, "foo", .equal, ""),
        (#"foo="bar\\""#, "foo", .equal, #"bar\"#),
        (#"_foo_1!~"x""#, "_foo_1", .regexNoMatch, "x"),
        ("namespace=prod", "namespace", .equal, "prod"),
        ("  namespace =  prod  ", "namespace", .equal, "prod"),
        ("team!~db|cache", "team", .regexNoMatch, "db|cache"),
        ("alertname=~HTTP.*", "alertname", .regexMatch, "HTTP.*"),
        ("summary=disk full", "summary", .equal, "disk full"),
        (#"path=C:\\temp"#, "path", .equal, #"C:\temp"#),
        ("foo=", "foo", .equal, ""),
        ("foo!=", "foo", .notEqual, ""),
    ])
    func parsesNameOperatorAndValue(text: String, name: String, type: AlertMatcher.MatchType, value: String) throws {
        let matcher = try AlertMatcher(parsing: text)
        #expect(matcher.name == name)
        #expect(matcher.type == type)
        #expect(matcher.value == value)
    }

    @Test func unquotedEmptyValueMatchesMissingLabel() throws {
        #expect(try AlertMatcher(parsing: "team=").matches(["alertname": "X"]))
        #expect(try AlertMatcher(parsing: "team!=").matches(["alertname": "X"]) == false)
    }

    // MARK: Lists

    @Test(arguments: [
        #"{alertname=~"HTTP.*", severity!="info"}"#,
        #"alertname=~"HTTP.*",severity!="info""#,
        #"  {  alertname =~ "HTTP.*" ,  severity != "info"  }  "#,
        #"{alertname=~HTTP.*,severity!=info}"#,
    ])
    func parsesCommaSeparatedListsWithOrWithoutBraces(text: String) throws {
        let list = try AlertMatchers(parsing: text)
        #expect(list.matchers == [
            try AlertMatcher(name: "alertname", type: .regexMatch, value: "HTTP.*"),
            try AlertMatcher(name: "severity", type: .notEqual, value: "info"),
        ])
        #expect(list.matches(["alertname": "HTTPErrors", "severity": "critical"]))
        #expect(list.matches(["alertname": "HTTPErrors", "severity": "info"]) == false)
        #expect(list.matches(["alertname": "DiskFull", "severity": "critical"]) == false)
    }

    @Test func commasAndBracesInsideQuotesDoNotSplit() throws {
        let list = try AlertMatchers(parsing: #"{a="x,y", b=~"z{2}", c="q\",r", d="}"}"#)
        #expect(list.matchers.map(\.value) == ["x,y", "z{2}", #"q",r"#, "}"])
        #expect(list.matches(["a": "x,y", "b": "zz", "c": #"q",r"#, "d": "}"]))
    }

    @Test(arguments: ["", "   ", "{}", " { } "])
    func emptyListMatchesEverything(text: String) throws {
        let list = try AlertMatchers(parsing: text)
        #expect(list.matchers.isEmpty)
        #expect(list.matches([:]))
        #expect(list.matches(["alertname": "Anything", "severity": "info"]))
    }

    @Test func arrayFormHasOneMatcherPerString() throws {
        let list = try AlertMatchers(parsing: [#"alertname=~"HTTP.*""#, "severity != info", #"note="a,b""#])
        #expect(list.matchers.map(\.description) == [#"alertname=~"HTTP.*""#, #"severity!="info""#, #"note="a,b""#])
        #expect(list.matches(["alertname": "HTTPErrors", "severity": "warning", "note": "a,b"]))
        #expect(list.matches(["alertname": "HTTPErrors", "severity": "info", "note": "a,b"]) == false)
        #expect(try AlertMatchers(parsing: [String]()).matches(["any": "thing"]))
        #expect(try AlertMatchers(parsing: [#"alertname=~"HTTP.*""#, "severity!=info"])
            == AlertMatchers(parsing: #"{alertname=~"HTTP.*", severity!="info"}"#))
    }

    // MARK: Canonical rendering

    @Test(arguments: [
        ("namespace=prod", #"namespace="prod""#),
        (#" alertname =~ "HTTP.*" "#, #"alertname=~"HTTP.*""#),
        (#"foo!="a\"b""#, #"foo!="a\"b""#),
        (#"foo!~"\d+""#, #"foo!~"\\d+""#),
        (#"foo="line\nbreak""#, #"foo="line\nbreak""#),
        (#"foo="a\\b""#, #"foo="a\\b""#),
        ("foo=", #"foo="""#),
        (#"foo="{x, y}""#, #"foo="{x, y}""#),
    ])
    func descriptionIsCanonicalAndRoundTrips(text: String, canonical: String) throws {
        let matcher = try AlertMatcher(parsing: text)
        #expect(matcher.description == canonical)
        #expect(try AlertMatcher(parsing: matcher.description) == matcher)
        #expect(try AlertMatcher(parsing: matcher.description).value == matcher.value)
    }

    @Test func listDescriptionRoundTrips() throws {
        let list = try AlertMatchers(parsing: #"alertname=~"HTTP.*",team!~db|cache, note="a,\"b\"}""#)
        #expect(list.description == #"{alertname=~"HTTP.*", team!~"db|cache", note="a,\"b\"}"}"#)
        #expect(try AlertMatchers(parsing: list.description) == list)
        #expect(AlertMatchers().description == "{}")
    }

    @Test func equalityIgnoresSpellingButNotMeaning() throws {
        let spellings = try ["namespace=prod", #"namespace = "prod""#, #"  namespace="prod"  "#].map(AlertMatcher.init(parsing:))
        #expect(Set(spellings).count == 1)
        #expect(try AlertMatcher(parsing: "namespace=prod") != AlertMatcher(parsing: "namespace=~prod"))
        #expect(try AlertMatcher(parsing: "namespace=prod") != AlertMatcher(parsing: "Namespace=prod"))
    }

    // MARK: Errors

    @Test(arguments: [
        ("severity~info", #"bad matcher "severity~info": expected one of =, !=, =~, !~ after the label name"#),
        ("severity", #"bad matcher "severity": expected one of =, !=, =~, !~ after the label name"#),
        (#"foo!"x""#, #"bad matcher "foo!\"x\"": expected one of =, !=, =~, !~ after the label name"#),
        (#"foo="bar"#, #"bad matcher "foo=\"bar": unterminated quoted value"#),
        (#"foo="bar\""#, #"bad matcher "foo=\"bar\\\"": unterminated quoted value"#),
        (#"="x""#, #"bad matcher "=\"x\"": empty label name"#),
        (#" !~ "x""#, #"bad matcher "!~ \"x\"": empty label name"#),
        (#"foo-bar="x""#, #"bad matcher "foo-bar=\"x\"": invalid label name "foo-bar": must match [a-zA-Z_][a-zA-Z0-9_]*"#),
        (#"1foo="x""#, #"bad matcher "1foo=\"x\"": invalid label name "1foo": must match [a-zA-Z_][a-zA-Z0-9_]*"#),
        (#"kube:pod="x""#, #"bad matcher "kube:pod=\"x\"": invalid label name "kube:pod": must match [a-zA-Z_][a-zA-Z0-9_]*"#),
        (#"foo="bar"baz"#, #"bad matcher "foo=\"bar\"baz": unexpected text after the closing quote"#),
        (#"foo=ba"r"#, #"bad matcher "foo=ba\"r": unquoted value contains a double quote; quote the value and write it as \""#),
        ("foo=a,b", #"bad matcher "foo=a,b": unquoted value contains ","; quote values that contain commas or braces"#),
        ("", #"bad matcher "": empty matcher"#),
    ])
    func singleMatcherErrorsNameTheProblemAndTheText(text: String, message: String) {
        #expect(throws: AlertMatcherError(message: message)) { try AlertMatcher(parsing: text) }
    }

    @Test(arguments: [#"alertname=~"(""#, #"alertname=~"[a-""#, #"alertname!~"a)|(b""#, #"x=~"(?<=a)b""#])
    func invalidRegexIsRejectedAtParseTime(text: String) throws {
        let error = try #require(throws: AlertMatcherError.self) { try AlertMatcher(parsing: text) }
        let prefix = "bad matcher \"\(text.replacing("\"", with: "\\\""))\": invalid regular expression: "
        #expect(error.message.hasPrefix(prefix), "\(error.message)")
        #expect(error.message.count > prefix.count, "the regex engine's reason is included")
        #expect(error.description == error.message)
    }

    @Test func programmaticInitValidatesToo() throws {
        #expect(throws: AlertMatcherError(message: #"bad matcher "a b=\"x\"": invalid label name "a b": must match [a-zA-Z_][a-zA-Z0-9_]*"#)) {
            try AlertMatcher(name: "a b", type: .equal, value: "x")
        }
        #expect(throws: AlertMatcherError.self) { try AlertMatcher(name: "a", type: .regexMatch, value: "(") }
        // An unbalanced pattern is only a problem for regex operators.
        #expect(try AlertMatcher(name: "a", type: .equal, value: "(").matches(["a": "("]))
    }

    @Test(arguments: [
        (#"a="b","#, #"bad matchers "a=\"b\",": trailing comma"#),
        (#"{a="b", }"#, #"bad matchers "{a=\"b\", }": trailing comma"#),
        (#",a="b""#, #"bad matchers ",a=\"b\"": leading comma"#),
        (#"a="b",,c="d""#, #"bad matchers "a=\"b\",,c=\"d\"": empty matcher between commas"#),
        (#"{a="b""#, #"bad matchers "{a=\"b\"": missing closing "}""#),
        ("{", #"bad matchers "{": missing closing "}""#),
        (#"{a="b}"#, #"bad matcher "a=\"b": unterminated quoted value"#),
        ("a=b}", #"bad matcher "a=b}": unquoted value contains "}"; quote values that contain commas or braces"#),
        (#"a="b", severity~info"#, #"bad matcher "severity~info": expected one of =, !=, =~, !~ after the label name"#),
    ])
    func listErrors(text: String, message: String) {
        #expect(throws: AlertMatcherError(message: message)) { try AlertMatchers(parsing: text) }
    }

    @Test func arrayFormReportsTheOffendingEntry() {
        #expect(throws: AlertMatcherError(message: #"bad matcher "bad~x": expected one of =, !=, =~, !~ after the label name"#)) {
            try AlertMatchers(parsing: [#"ok="1""#, "bad~x"])
        }
        // Each string is one matcher, so a comma list in one entry is a mistake worth reporting.
        #expect(throws: AlertMatcherError.self) { try AlertMatchers(parsing: ["a=b,c=d"]) }
    }

    // MARK: A realistic alert

    static let httpAlert = ["alertname": "HTTPErrors5xx", "severity": "critical", "namespace": "prod"]

    @Test(arguments: [
        (#"{alertname=~"HTTP.*", severity!="info"}"#, true),
        (#"{alertname="HTTPErrors5xx", namespace="prod"}"#, true),
        (#"alertname=~"HTTPErrors[45]xx", namespace=prod"#, true),
        (#"{severity=~"warning|critical"}"#, true),
        (#"{alertname=~"(?i)httperrors.*"}"#, true),
        (#"{team=""}"#, true),
        (#"{team!~"db|cache"}"#, true),
        ("{}", true),
        (#"{alertname=~"HTTP"}"#, false),
        (#"{alertname=~"HTTP.*", severity="info"}"#, false),
        (#"{namespace!~"prod|staging"}"#, false),
        (#"{team!=""}"#, false),
        (#"{team=~"db|cache"}"#, false),
        (#"{severity="Critical"}"#, false),
        (#"{alertname=~"HTTPErrors5xx", namespace=~"prod.+"}"#, false),
    ])
    func realisticAlertAgainstMatcherSets(matchers: String, expected: Bool) throws {
        #expect(try AlertMatchers(parsing: matchers).matches(Self.httpAlert) == expected)
    }

    @Test func matchersCanBeSharedAcrossTasks() async throws {
        let list = try AlertMatchers(parsing: #"{alertname=~"HTTP.*", severity!~"info|debug"}"#)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let labels = ["alertname": "HTTPErrors\(index)", "severity": index.isMultiple(of: 2) ? "critical" : "info"]
                    return list.matches(labels) == index.isMultiple(of: 2)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0 })
    }
}
