import Foundation
import Testing
@testable import EuphrosyneCore

@Suite struct AlertNotificationTests {
    private func decode(_ text: String) throws -> AlertNotification {
        try AlertNotification.decode(Data(text.utf8))
    }

    @Test func alertmanagerFiringFixture() throws {
        let data = try CoreFixtures.data("alertmanager-firing", "json")
        let notification = try AlertNotification.decode(data)

        #expect(notification.source == .alertmanager)
        #expect(notification.status == .firing)
        #expect(notification.receiver == "reconciler")
        #expect(notification.groupKey == #"{}:{alertname="PodCrashLooping", namespace="shop"}"#)
        #expect(notification.groupLabels == ["alertname": "PodCrashLooping", "namespace": "shop"])
        #expect(notification.commonLabels == ["alertname": "PodCrashLooping", "namespace": "shop", "severity": "critical"])
        #expect(notification.commonAnnotations == ["runbook": "restart-api"])
        #expect(notification.externalURL == "http://vm:19093")
        #expect(notification.truncatedAlerts == 0)
        #expect(notification.title == nil)
        #expect(notification.message == nil)
        #expect(notification.alertName == "PodCrashLooping")
        #expect(notification.aggregateStatus == .firing)
        #expect(notification.summary == "PodCrashLooping (firing, 2 alerts): api pod restarting")

        try #require(notification.alerts.count == 2)
        let first = notification.alerts[0]
        #expect(first.status == .firing)
        #expect(first.labels == ["alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f", "severity": "critical"])
        #expect(first.annotations == ["runbook": "restart-api", "summary": "api pod restarting"])
        #expect(first.fingerprint == "09f827451c0fe9f3")
        #expect(first.generatorURL == "http://prometheus.example/graph?g0.expr=up")
        #expect(first.endsAt == nil)
        let startsAt = try #require(first.startsAt)
        #expect(RFC3339.formatWithMilliseconds(startsAt) == "2026-11-28T21:13:44.511Z")
        #expect(first.values == nil)
        #expect(first.silenceURL == nil)

        let second = notification.alerts[1]
        #expect(second.labels["pod"] == "web-1a2b")
        #expect(second.fingerprint == "cb7791f6eddcb11b")
        // Alertmanager sends "" for a missing generator URL.
        #expect(second.generatorURL == nil)
    }

    @Test func rawKeepsTheWholeObject() throws {
        let data = try CoreFixtures.data("alertmanager-firing", "json")
        let notification = try AlertNotification.decode(data)
        #expect(notification.raw == (try JSONValue.parseObject(data)))
        #expect(notification.raw["version"] == .string("4"))
        #expect(notification.raw["truncatedAlerts"] == .integer(0))
        #expect(notification.raw["alerts"]?.arrayValue?.first?["endsAt"] == .string("0001-01-01T00:00:00Z"))
    }

    @Test func mixedFiringAndResolvedFixture() throws {
        let notification = try AlertNotification.decode(try CoreFixtures.data("alertmanager-resolved", "json"))
        #expect(notification.source == .alertmanager)
        // The top-level status is kept as sent even though one alert has resolved.
        #expect(notification.status == .firing)
        #expect(notification.firingAlerts.map(\.fingerprint) == ["09f827451c0fe9f3"])
        #expect(notification.resolvedAlerts.map(\.fingerprint) == ["cb7791f6eddcb11b"])
        #expect(notification.aggregateStatus == .firing)
        #expect(notification.summary == "PodCrashLooping (1 firing, 1 resolved): api pod restarting")

        let resolved = try #require(notification.resolvedAlerts.first)
        let endsAt = try #require(resolved.endsAt)
        #expect(RFC3339.format(endsAt) == "2026-11-28T21:13:50Z")
        #expect(notification.firingAlerts.first?.endsAt == nil)
    }

    @Test func allResolvedIsResolved() throws {
        let notification = try decode("""
            {"version":"4","status":"resolved","alerts":[
              {"status":"resolved","labels":{"alertname":"DiskFull"},"endsAt":"2026-11-28T21:13:50Z"}]}
            """)
        #expect(notification.aggregateStatus == .resolved)
        #expect(notification.summary == "DiskFull (resolved)")
    }

    @Test func grafanaFiringFixture() throws {
        let notification = try AlertNotification.decode(try CoreFixtures.data("grafana-firing", "json"))
        #expect(notification.source == .grafana)
        #expect(notification.status == .firing)
        #expect(notification.title == "[FIRING:1] HighMemory Platform (shop)")
        #expect(notification.message == "**Firing**\n\nValue: B=93.1, C=1")
        #expect(notification.externalURL == "https://grafana.example/")
        #expect(notification.raw["orgId"] == .integer(1))
        #expect(notification.raw["state"] == .string("alerting"))
        #expect(notification.alertName == "HighMemory")
        #expect(notification.summary == "HighMemory (firing): memory above 90%")

        let alert = try #require(notification.alerts.first)
        #expect(notification.alerts.count == 1)
        #expect(alert.values == ["B": 93.1, "C": 1])
        #expect(alert.valueString == "[ var='B' labels={namespace=shop} value=93.1 ], [ var='C' labels={namespace=shop} value=1 ]")
        #expect(alert.dashboardURL == "https://grafana.example/d/abc/shop?orgId=1")
        #expect(alert.panelURL == "https://grafana.example/d/abc/shop?orgId=1&viewPanel=4")
        #expect(alert.silenceURL?.hasPrefix("https://grafana.example/alerting/silence/new?") == true)
        #expect(alert.imageURL == nil)
        #expect(alert.fingerprint == "7a1c0e4f2b9d3c55")
        let startsAt = try #require(alert.startsAt)
        #expect(RFC3339.format(startsAt) == "2026-11-28T21:00:00Z")
        #expect(alert.endsAt == nil)
    }

    @Test func grafanaNullValuesAndImage() throws {
        let notification = try decode("""
            {"version":"1","orgId":1,"alerts":[{"status":"firing","labels":{},"values":null,
             "imageURL":"https://grafana.example/img.png"}]}
            """)
        let alert = try #require(notification.alerts.first)
        #expect(notification.source == .grafana)
        #expect(alert.values == nil)
        #expect(alert.imageURL == "https://grafana.example/img.png")
    }

    @Test func genericObjectIsKeptVerbatim() throws {
        let notification = try decode(#"{"hello":"world"}"#)
        #expect(notification.source == .generic)
        #expect(notification.raw == ["hello": .string("world")])
        #expect(notification.alerts.isEmpty)
        #expect(notification.status == nil)
        #expect(notification.alertName == nil)
        #expect(notification.summary == "generic alert")
    }

    @Test func emptyObjectIsGeneric() throws {
        let notification = try decode("{}")
        #expect(notification.source == .generic)
        #expect(notification.raw.isEmpty)
    }

    @Test func unknownVersionIsGeneric() throws {
        let notification = try decode(#"{"version":"5","alerts":[{"status":"firing"}],"status":"firing"}"#)
        #expect(notification.source == .generic)
        #expect(notification.alerts.isEmpty)
        #expect(notification.raw["alerts"]?.arrayValue?.count == 1)
    }

    @Test func numericVersionIsTolerated() throws {
        let notification = try decode(#"{"version":4,"alerts":[]}"#)
        #expect(notification.source == .alertmanager)
    }

    @Test func alertsOfWrongTypeMakeItGeneric() throws {
        let notification = try decode(#"{"version":"4","status":"firing","alerts":"oops","receiver":"r"}"#)
        #expect(notification.source == .generic)
        #expect(notification.receiver == nil)
        #expect(notification.raw["alerts"] == .string("oops"))
    }

    @Test func missingAlertsMakesItGeneric() throws {
        let notification = try decode(#"{"version":"1","title":"t"}"#)
        #expect(notification.source == .generic)
    }

    @Test func wrongTypedFieldsAreDropped() throws {
        let notification = try decode("""
            {"version":"4","status":"burning","receiver":7,"groupKey":null,
             "groupLabels":"x","commonLabels":{"alertname":"A","replicas":3,"up":true},
             "truncatedAlerts":"many","externalURL":["x"],
             "alerts":[
               {"status":"firing","labels":{"alertname":"A","count":5},"annotations":[],
                "startsAt":"yesterday","endsAt":12,"fingerprint":123,"values":{"B":"high","C":2}},
               "not an alert",
               42,
               {"status":"resolved","labels":{"alertname":"B"}}
             ]}
            """)
        #expect(notification.source == .alertmanager)
        #expect(notification.status == nil)
        #expect(notification.receiver == nil)
        #expect(notification.groupKey == nil)
        #expect(notification.groupLabels == [:])
        #expect(notification.commonLabels == ["alertname": "A"])
        #expect(notification.truncatedAlerts == 0)
        #expect(notification.externalURL == nil)
        try #require(notification.alerts.count == 2)
        let first = notification.alerts[0]
        #expect(first.status == .firing)
        #expect(first.labels == ["alertname": "A"])
        #expect(first.annotations == [:])
        #expect(first.startsAt == nil)
        #expect(first.endsAt == nil)
        #expect(first.fingerprint == nil)
        #expect(first.values == ["C": 2])
        #expect(notification.alerts[1].status == .resolved)
        #expect(notification.raw["receiver"] == .integer(7))
    }

    @Test func truncatedAlertsIsRead() throws {
        let notification = try decode(#"{"version":"4","truncatedAlerts":3,"alerts":[]}"#)
        #expect(notification.truncatedAlerts == 3)
    }

    @Test func alertNameFallsBackToGroupLabelsThenFirstAlert() throws {
        let fromGroup = try decode(#"{"version":"4","groupLabels":{"alertname":"G"},"alerts":[{"labels":{"alertname":"X"}}]}"#)
        #expect(fromGroup.alertName == "G")
        let fromAlert = try decode(#"{"version":"4","alerts":[{"labels":{"alertname":"X"}}]}"#)
        #expect(fromAlert.alertName == "X")
        #expect(fromAlert.summary == "X (unknown status)")
        let none = try decode(#"{"version":"4","status":"firing","alerts":[]}"#)
        #expect(none.alertName == nil)
        #expect(none.summary == "unnamed alert (firing)")
    }

    @Test func summaryStaysOnOneLine() throws {
        let notification = try decode(#"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"annotations":{"summary":"line one\nline two"}}]}"#)
        #expect(notification.summary == "A (firing): line one line two")
    }

    @Test func decodeRejectsNonObjects() {
        let array = #expect(throws: JSONInputError.self) { try decode("[]") }
        #expect(array?.message == "expected a JSON object, got an array")
        let malformed = #expect(throws: JSONInputError.self) { try decode(#"{"version":"4""#) }
        #expect(malformed?.message.hasPrefix("malformed JSON") == true)
    }

    @Test func codableRoundTripRederivesFromRaw() throws {
        let original = try AlertNotification.decode(try CoreFixtures.data("grafana-firing", "json"))
        let encoded = try JSONEncoder().encode(original)
        let decoded = try JSONDecoder().decode(AlertNotification.self, from: encoded)
        #expect(decoded == original)
    }

    @Test func initFromRawMatchesDecode() throws {
        let data = try CoreFixtures.data("alertmanager-resolved", "json")
        let viaInit = AlertNotification(raw: try JSONValue.parseObject(data))
        #expect(viaInit == (try AlertNotification.decode(data)))
    }
}
