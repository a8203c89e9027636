import EuphrosyneCore
import EuphrosynePorts
import Foundation
import Testing

@testable import EuphrosyneEngine

@Suite struct InMemoryIncidentStoreTests {
    static func incident(_ second: Double) -> Incident {
        Incident(id: UUID(), payload: [:], callbackSecret: "s", at: Date(timeIntervalSince1970: second))
    }

    @Test func listsNewestFirstInPages() async {
        let store = InMemoryIncidentStore()
        let incidents = (0..<5).map { Self.incident(Double($0)) }
        for incident in incidents.shuffled() { await store.save(incident) }
        let first = await store.list(offset: 0, limit: 2)
        #expect(first.incidents.map(\.id) == [incidents[4].id, incidents[3].id])
        #expect(first.total == 5)
        let last = await store.list(offset: 4, limit: 2)
        #expect(last.incidents.map(\.id) == [incidents[0].id])
        #expect(await store.list(offset: 9, limit: 2).incidents.isEmpty)
    }

    @Test func neverReplacesANewerRevision() async {
        let store = InMemoryIncidentStore()
        var incident = Self.incident(0)
        incident.revision = 2
        incident.state = .analysed
        await store.save(incident)
        var stale = incident
        stale.revision = 1
        stale.state = .diagnosing
        await store.save(stale)
        #expect(await store.incident(incident.id)?.state == .analysed)
    }

    @Test func forgetsTheOldestBeyondItsCapacity() async {
        let store = InMemoryIncidentStore(capacity: 3)
        let incidents = (0..<4).map { Self.incident(Double($0)) }
        for incident in incidents { await store.save(incident) }
        #expect(await store.incident(incidents[0].id) == nil)
        #expect(await store.list(offset: 0, limit: 10).incidents.map(\.id) == incidents.dropFirst().reversed().map(\.id))
    }

    @Test func anOpenIncidentOutlivesNewerClosedOnes() async {
        let store = InMemoryIncidentStore(capacity: 3)
        var open = Self.incident(0)
        open.state = .analysed
        await store.save(open)
        for index in 1...5 {
            var closed = Self.incident(Double(index))
            closed.state = .failed
            await store.save(closed)
        }
        // Still there, and saving it again (a repeat notification) keeps it without growing the store.
        #expect(await store.incident(open.id) != nil)
        open.revision += 1
        await store.save(open)
        #expect(await store.list(offset: 0, limit: 10).total == 3)
        #expect(await store.openIncidents().map(\.id) == [open.id])
    }

    @Test func whenOnlyOpenIncidentsAreLeftTheOldestOpenOnesGoAndFreeTheirGroups() async {
        let store = InMemoryIncidentStore(capacity: 3)
        var incidents: [Incident] = []
        for index in 0..<4 {
            var open = Self.incident(Double(index))
            open.identity = "group-\(index)"
            open.state = .analysed
            incidents.append(open)
            #expect(await store.create(open, replacing: nil) == nil)
        }
        // Four held, one over, none closed: the oldest open one goes.
        #expect(await store.list(offset: 0, limit: 10).incidents.map(\.id) == incidents.dropFirst().reversed().map(\.id))
        #expect(await store.incident(incidents[0].id) == nil)
        // Its group is free again: a new incident of it is not told of a holder.
        var again = Self.incident(4)
        again.identity = incidents[0].identity
        again.state = .analysed
        #expect(await store.create(again, replacing: nil) == nil)
        // A closed one, the newest of all, is still the first to go.
        var closed = Self.incident(5)
        closed.state = .failed
        await store.save(closed)
        #expect(await store.list(offset: 0, limit: 10).incidents.map(\.id) == [again.id, incidents[3].id, incidents[2].id])
    }
}
