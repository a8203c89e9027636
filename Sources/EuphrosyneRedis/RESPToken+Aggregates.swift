import NIOCore

extension RESPToken {
    /// The children of an array, set or push frame: a lazy sequence of tokens over the parent's bytes. Attributes
    /// between children are skipped, as RESP3 asks of clients that do not use them.
    public struct Array: Sequence, Hashable, Sendable {
        /// The number of children the frame announced.
        public let count: Int
        /// The bytes from the first child to the end of the parent frame.
        let elements: ByteBuffer

        init(count: Int, elements: ByteBuffer) {
            self.count = count
            self.elements = elements
        }

        public func makeIterator() -> Iterator { Iterator(remaining: count, buffer: elements) }

        /// Frames one child at a time from the parent's bytes; used by `for … in` over an array token.
        public struct Iterator: IteratorProtocol {
            var remaining: Int
            var buffer: ByteBuffer

            public mutating func next() -> RESPToken? {
                while remaining > 0 {
                    // The parent frame was validated as a whole, so framing a child cannot fail or be incomplete.
                    guard let token = (try? RESPToken(consuming: &buffer)) ?? nil else { return nil }
                    if token.isAttribute { continue }
                    remaining -= 1
                    return token
                }
                return nil
            }
        }
    }

    /// The key/value pairs of a map or attribute frame, lazily, in wire order.
    public struct Map: Sequence, Hashable, Sendable {
        /// The number of pairs the frame announced.
        public let count: Int
        let elements: ByteBuffer

        init(count: Int, elements: ByteBuffer) {
            self.count = count
            self.elements = elements
        }

        public func makeIterator() -> Iterator {
            Iterator(children: Array(count: count * 2, elements: elements).makeIterator())
        }

        /// Yields the pairs of a map token in wire order; used by `for (key, value) in` over it.
        public struct Iterator: IteratorProtocol {
            var children: Array.Iterator

            public mutating func next() -> (key: RESPToken, value: RESPToken)? {
                guard let key = children.next(), let value = children.next() else { return nil }
                return (key, value)
            }
        }
    }
}
