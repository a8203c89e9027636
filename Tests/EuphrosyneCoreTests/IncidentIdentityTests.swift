import Foundation
import Testing

@testable import EuphrosyneCore

/// Which notifications belong to one incident (`AlertNotification.identityKey`), and what a repeat does to it.
@Suite struct IncidentIdentityTests {
    static func notification(_ json: String) throws -> AlertNotification {
        AlertNotification(raw: try JSONValue.parseObject(Data(json.utf8)))
    }

    @Test func oneIncidentPerAlertmanagerGroupWhateverItsAlerts() throws {
        let first = try CoreFixtures.data("alertmanager-firing", "json")
        let resolved = try CoreFixtures.data("alertmanager-resolved", "json")
        let a = AlertNotification(raw: try JSONValue.parseObject(first))
        let b = AlertNotification(raw: try JSONValue.parseObject(resolved))
        #expect(a.identityKey == #"group:{}:{alertname="PodCrashLooping", namespace="shop"}"#)
        #expect(a.identityKey == b.identityKey)
        let other = try Self.notification(#"{"version":"4","groupKey":"{}:{alertname=\"Other\"}","alerts":[]}"#)
        #expect(other.identityKey != a.identityKey)
    }

    @Test func withoutAGroupKeyTheAlertFingerprintsOrLabelsDecide() throws {
        let one = try Self.notification(#"{"alerts":[{"labels":{"a":"1"},"fingerprint":"bb"},{"labels":{"a":"2"},"fingerprint":"aa"}],"version":"4"}"#)
        let same = try Self.notification(#"{"alerts":[{"labels":{"a":"2"},"fingerprint":"aa"},{"labels":{"a":"1"},"fingerprint":"bb"}],"version":"4"}"#)
        #expect(one.identityKey == "alerts:aa,bb")
        #expect(one.identityKey == same.identityKey)
        let unprinted = try Self.notification(#"{"alerts":[{"labels":{"b":"2","a":"1"}}],"version":"4"}"#)
        let reordered = try Self.notification(#"{"alerts":[{"labels":{"a":"1","b":"2"}}],"version":"4"}"#)
        #expect(unprinted.identityKey.hasPrefix("labels:"))
        #expect(unprinted.identityKey == reordered.identityKey)
    }

    @Test func aGenericPayloadIsItsOwnIdentity() throws {
        let a = try Self.notification(#"{"check":"disk","host":"db-1"}"#)
        let sameKeysOtherOrder = try Self.notification(#"{"host":"db-1","check":"disk"}"#)
        let other = try Self.notification(#"{"check":"disk","host":"db-2"}"#)
        #expect(a.identityKey == sameKeysOtherOrder.identityKey)
        #expect(a.identityKey != other.identityKey)
        #expect(a.identityKey.count == "payload:".count + 64)
    }

    @Test func aRepeatRefreshesTheIncidentAndStartsNothing() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var incident = Incident(id: UUID(), payload: ["v": .integer(1)], callbackSecret: "s", at: start)
        _ = incident.handle(.open(recipes: [Recipe(name: "dummy", kind: .debugging, enabled: true, entrypoint: "d",
                                                   arguments: ["d"])],
                                  defaultTimeoutSeconds: 60, at: start))
        let later = start.addingTimeInterval(30)
        #expect(incident.handle(.notifiedAgain(payload: ["v": .integer(2)], at: later)) == .applied([]))
        #expect(incident.payload == ["v": .integer(2)])
        #expect(incident.notificationCount == 2)
        #expect(incident.lastNotifiedAt == later)
        #expect(incident.runs.count == 1)

        _ = incident.handle(.runEnded(runID: 1, exit: .timedOut, at: later))
        #expect(incident.state == .failed)
        guard case .ignored = incident.handle(.notifiedAgain(payload: [:], at: later)) else {
            Issue.record("a closed incident must not take repeats")
            return
        }
    }
}
