import EuphrosyneSupport
import Testing

/// The newest `capacity` keys are kept, the oldest stored first are forgotten first.
@Suite struct BoundedMemoryTests {
    @Test func keepsTheNewestKeysAndForgetsTheOldestFirst() {
        let memory = BoundedMemory<Int, String>(capacity: 2)
        memory.set("a", for: 1)
        memory.set("b", for: 2)
        memory.set("a2", for: 1)  // overwritten in place: 1 stays the oldest
        #expect(memory[1] == "a2" && memory.count == 2)
        memory.set("c", for: 3)
        #expect(memory[1] == nil && memory[2] == "b" && memory[3] == "c")
    }

    @Test func insertIfAbsentTakesAKeyOnceUntilItIsRemoved() {
        let memory = BoundedMemory<String, Void>(capacity: 10)
        #expect(memory.insertIfAbsent((), for: "click"))
        #expect(!memory.insertIfAbsent((), for: "click"))
        memory.remove("click")
        memory.remove("never held")
        #expect(memory.count == 0)
        #expect(memory.insertIfAbsent((), for: "click"))
    }
}
