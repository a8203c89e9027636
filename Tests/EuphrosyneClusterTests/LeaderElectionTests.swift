import EuphrosyneKubernetes
import Foundation
import Testing

@testable import EuphrosyneCluster

/// The leader election's decisions as values: elector time is a `Duration` the test chooses.
@Suite struct LeaderElectionTests {
    static let wall = Date(timeIntervalSince1970: 1_800_000_000)

    static func election(_ identity: String = "pod-a") -> LeaderElection {
        LeaderElection(settings: .init(identity: identity))
    }

    static func lease(holder: String?, renewTime: String = "2027-01-15T08:00:00.000000Z", transitions: Int = 0,
                      durationSeconds: Int = 15, version: String = "1") -> Lease {
        var metadata = ObjectMeta(name: "euphrosyne-leader", namespace: "alerts")
        metadata.resourceVersion = version
        return Lease(metadata: metadata, spec: .init(holderIdentity: holder, leaseDurationSeconds: durationSeconds,
                                                     acquireTime: "2027-01-15T07:00:00.000000Z",
                                                     renewTime: renewTime, leaseTransitions: transitions))
    }

    static func written(_ attempt: LeaderElection.Attempt) -> Lease? {
        switch attempt {
        case .create(let lease), .update(let lease): lease
        case .wait: nil
        }
    }

    @Test func theDefaultsAreControllerRuntimesAndUnsafeTimingsAreRefused() {
        let defaults = LeaderElection.Settings(identity: "pod-a")
        #expect(defaults.leaseDuration == .seconds(15) && defaults.renewDeadline == .seconds(10)
            && defaults.retryPeriod == .seconds(2))
        #expect(defaults.problem == nil)
        #expect(LeaderElection.Settings(identity: "").problem?.contains("identity") == true)
        #expect(LeaderElection.Settings(identity: "a", leaseDuration: .seconds(10), renewDeadline: .seconds(10))
            .problem?.contains("lease duration") == true)
        #expect(LeaderElection.Settings(identity: "a", renewDeadline: .seconds(2), retryPeriod: .seconds(2))
            .problem?.contains("renew deadline") == true)
        #expect(LeaderElection.Settings(identity: "a", retryPeriod: .zero).problem?.contains("retry period") == true)
    }

    @Test func withNoLeaseItCreatesOneAndLeadsOnceTheWriteIsStored() throws {
        var election = Self.election()
        let (attempt, change) = election.attempt(current: nil, name: "euphrosyne-leader", namespace: "alerts",
                                                 at: .zero, wallClock: Self.wall)
        guard case .create(let lease) = attempt else { Issue.record("expected a create, got \(attempt)"); return }
        #expect(change == nil)
        #expect(lease.metadata.name == "euphrosyne-leader" && lease.metadata.namespace == "alerts")
        #expect(lease.spec?.holderIdentity == "pod-a" && lease.spec?.leaseDurationSeconds == 15)
        #expect(lease.spec?.leaseTransitions == 0)
        #expect(lease.spec?.renewTime == "2027-01-15T08:00:00.000000Z" && lease.spec?.acquireTime == lease.spec?.renewTime)
        #expect(!election.isLeading(at: .zero), "not before the API server stored it")
        #expect(election.written(lease, at: .seconds(1)) == .started)
        #expect(election.isLeading(at: .seconds(1)))
        #expect(election.isLeading(at: .milliseconds(10_999)))
        #expect(!election.isLeading(at: .seconds(11)), "a leader that did not renew within 10 s stops acting")
    }

    @Test func aLeaderRenewsKeepingWhenItAcquiredTheLease() throws {
        var election = Self.election()
        let held = Self.lease(holder: "pod-a", transitions: 3)
        let (attempt, _) = election.attempt(current: held, name: "euphrosyne-leader", namespace: "alerts",
                                            at: .seconds(5), wallClock: Self.wall.addingTimeInterval(30))
        guard case .update(let renewed) = attempt else { Issue.record("expected an update, got \(attempt)"); return }
        #expect(renewed.metadata.resourceVersion == "1", "written over the version read, so a rival's write wins or loses whole")
        #expect(renewed.spec?.acquireTime == "2027-01-15T07:00:00.000000Z")
        #expect(renewed.spec?.renewTime == "2027-01-15T08:00:30.000000Z")
        #expect(renewed.spec?.leaseTransitions == 3)
        #expect(election.written(renewed, at: .seconds(5)) == .started)
        #expect(election.written(renewed, at: .seconds(7)) == nil, "renewing is not a new start")
    }

    @Test func aRivalsLeaseIsTakenOnlyAfterItStayedUnchangedForItsWholeDuration() throws {
        var election = Self.election()
        let rival = Self.lease(holder: "pod-b", transitions: 2)
        #expect(election.attempt(current: rival, name: "l", namespace: "alerts", at: .seconds(100), wallClock: Self.wall).attempt
            == .wait(holder: "pod-b"))
        // Its renewTime says it is long past, but only what this replica observed counts (clocks can be wrong).
        #expect(election.attempt(current: rival, name: "l", namespace: "alerts", at: .milliseconds(114_999), wallClock: Self.wall).attempt
            == .wait(holder: "pod-b"))
        let (attempt, change) = election.attempt(current: rival, name: "l", namespace: "alerts", at: .seconds(115),
                                                 wallClock: Self.wall)
        #expect(change == nil)
        let taken = try #require(Self.written(attempt))
        #expect(taken.spec?.holderIdentity == "pod-a")
        #expect(taken.spec?.leaseTransitions == 3)
        #expect(taken.spec?.acquireTime == "2027-01-15T08:00:00.000000Z")
        #expect(taken.metadata.resourceVersion == "1")
    }

    @Test func aRivalThatKeepsRenewingKeepsTheLease() {
        var election = Self.election()
        _ = election.attempt(current: Self.lease(holder: "pod-b"), name: "l", namespace: "alerts", at: .zero, wallClock: Self.wall)
        let renewed = Self.lease(holder: "pod-b", renewTime: "2027-01-15T08:00:10.000000Z", version: "2")
        #expect(election.attempt(current: renewed, name: "l", namespace: "alerts", at: .seconds(10), wallClock: Self.wall).attempt
            == .wait(holder: "pod-b"))
        #expect(election.attempt(current: renewed, name: "l", namespace: "alerts", at: .seconds(20), wallClock: Self.wall).attempt
            == .wait(holder: "pod-b"), "15 s from when the renewal was seen, not from the first sighting")
        if case .wait = election.attempt(current: renewed, name: "l", namespace: "alerts", at: .seconds(25), wallClock: Self.wall).attempt {
            Issue.record("the renewal seen at 10 s expires at 25 s")
        }
    }

    @Test func aLeaderRenewsEveryRetryPeriodAndAReplicaStandingByTriesAgainWhenTheHoldExpires() throws {
        var election = Self.election()
        // Nothing observed yet: the retry period plus up to a fifth of it.
        #expect(election.pause(at: .zero, random: 0) == .seconds(2))
        #expect(election.pause(at: .zero, random: 0.5) == .milliseconds(2_200))
        #expect(election.pause(at: .zero, random: 0.999) < .milliseconds(2_400))

        // A rival's renewal seen at 100 s holds until 115 s: the pause is cut to end there, not up to 2.4 s later.
        _ = election.attempt(current: Self.lease(holder: "pod-b"), name: "l", namespace: "alerts", at: .seconds(100),
                             wallClock: Self.wall)
        #expect(election.pause(at: .seconds(101), random: 0.5) == .milliseconds(2_200), "far from the expiry: as before")
        #expect(election.pause(at: .seconds(113), random: 0.9) == .seconds(2))
        #expect(election.pause(at: .seconds(114), random: 0) == .seconds(1))
        // At the end of that pause the Lease is taken.
        let (attempt, _) = election.attempt(current: Self.lease(holder: "pod-b"), name: "l", namespace: "alerts",
                                            at: .seconds(115), wallClock: Self.wall)
        let taken = try #require(Self.written(attempt))
        // Leading: a renewal every retry period, whatever the draw.
        #expect(election.written(taken, at: .seconds(115)) == .started)
        #expect(election.pause(at: .seconds(116), random: 0.9) == .seconds(2))
    }

    @Test func aReleasedLeaseIsTakenAtOnce() throws {
        var election = Self.election()
        var released = Self.lease(holder: nil, transitions: 4, durationSeconds: 1)
        released.spec?.acquireTime = nil
        let attempt = election.attempt(current: released, name: "l", namespace: "alerts", at: .zero, wallClock: Self.wall)
        let taken = try #require(Self.written(attempt.attempt))
        #expect(taken.spec?.holderIdentity == "pod-a" && taken.spec?.leaseTransitions == 5)
    }

    @Test func aLeaderThatSeesARivalHoldingTheLeaseStops() {
        var election = Self.election()
        let ours = Self.lease(holder: "pod-a")
        #expect(election.written(ours, at: .zero) == .started)
        let (attempt, change) = election.attempt(current: Self.lease(holder: "pod-b", version: "9"), name: "l",
                                                 namespace: "alerts", at: .seconds(2), wallClock: Self.wall)
        #expect(attempt == .wait(holder: "pod-b"))
        #expect(change == .stopped(reason: "pod-b holds the lease"))
        #expect(!election.isLeading(at: .seconds(2)))
    }

    @Test func failedRenewalsStopALeaderAtItsRenewDeadlineNotBefore() {
        var election = Self.election()
        #expect(election.failed(at: .seconds(30)) == nil, "a replica that never led has nothing to stop")
        #expect(election.written(Self.lease(holder: "pod-a"), at: .seconds(1)) == .started)
        #expect(election.failed(at: .seconds(3)) == nil)
        #expect(election.failed(at: .milliseconds(10_999)) == nil)
        #expect(election.isLeading(at: .milliseconds(10_999)))
        #expect(election.failed(at: .seconds(11)) == .stopped(reason: "the lease was not renewed within 10.0 seconds"))
        #expect(!election.isLeading(at: .seconds(11)))
        #expect(election.failed(at: .seconds(12)) == nil, "stopped once")
    }

    /// Where the leader's listeners are travels in the Lease's annotations: written by the holder, read by the
    /// others only while its hold is valid.
    @Test func theHolderPublishesItsAnnotationsAndTheOthersSeeThemWhileItsHoldIsValid() throws {
        let ours = ["euphrosyne.io/api-url": "http://10.0.0.5:8081"]
        var a = Self.election("pod-a")
        let created = try #require(Self.written(a.attempt(current: nil, name: "l", namespace: "alerts", at: .zero,
                                                          wallClock: Self.wall, annotations: ours).attempt))
        #expect(created.metadata.annotations == ours)
        _ = a.written(created, at: .zero)
        #expect(a.leaderAnnotations(at: .zero) == nil, "the leader forwards nothing")
        let renewed = try #require(Self.written(a.attempt(current: created, name: "l", namespace: "alerts", at: .seconds(2),
                                                          wallClock: Self.wall, annotations: ours).attempt))
        #expect(renewed.metadata.annotations == ours)

        var b = Self.election("pod-b")
        var held = Self.lease(holder: "pod-a")
        held.metadata.annotations = ours
        #expect(b.attempt(current: held, name: "l", namespace: "alerts", at: .seconds(3), wallClock: Self.wall).attempt
            == .wait(holder: "pod-a"))
        #expect(b.leaderAnnotations(at: .seconds(3)) == ours)
        #expect(b.leaderAnnotations(at: .seconds(17)) == ours)
        #expect(b.leaderAnnotations(at: .seconds(18)) == nil, "expired as b observed it: no leader to forward to")

        // Taking over replaces the previous holder's annotations; releasing removes them.
        let theirs = ["euphrosyne.io/api-url": "http://10.0.0.6:8081"]
        let taken = try #require(Self.written(b.attempt(current: held, name: "l", namespace: "alerts", at: .seconds(18),
                                                        wallClock: Self.wall, annotations: theirs).attempt))
        #expect(taken.metadata.annotations == theirs)
        _ = b.written(taken, at: .seconds(18))
        #expect(b.release(current: taken, wallClock: Self.wall)?.metadata.annotations == nil)
    }

    @Test func stoppingReleasesOnlyALeaseItHolds() throws {
        var election = Self.election()
        #expect(election.written(Self.lease(holder: "pod-a", transitions: 2), at: .zero) == .started)
        let release = election.release(current: Self.lease(holder: "pod-a", transitions: 2), wallClock: Self.wall)
        let released = try #require(release)
        #expect(released.spec?.holderIdentity == nil && released.spec?.leaseDurationSeconds == 1)
        #expect(released.spec?.leaseTransitions == 2 && released.metadata.resourceVersion == "1")
        #expect(!election.isLeading(at: .zero))
        #expect(election.release(current: Self.lease(holder: "pod-b"), wallClock: Self.wall) == nil)
    }
}
