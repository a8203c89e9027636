import EuphrosyneCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import EuphrosyneServer

/// Cluster mode's log format: one JSON object per line.
@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func eachRecordIsOneJSONObjectWithItsMetadata() throws {
        let lines = Lines()
        var logger = Logger(label: "euphrosyne.test") { label in
            JSONLogHandler(label: label, level: .info) { lines.append($0) }
        }
        logger[metadataKey: "incident"] = "6f1c1e2a-1111-4c5d-9e8f-0123456789ab"
        logger.info("incident opened", metadata: [
            "recipes": "dummy,slow", "hb.request.id": "42", "nested": ["count": "2"],
            "message": "metadata never replaces the message",
        ])
        logger.debug("below the level: not written")
        logger.warning("second line\nwith a newline inside")

        let written = lines.all
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().contains("\n") == false })
        let first = try JSONValue.parseObject(Data(written[0].utf8))
        #expect(first["message"] == .string("incident opened"))
        #expect(first["level"] == .string("info"))
        #expect(first["logger"] == .string("euphrosyne.test"))
        #expect(first["incident"] == .string("6f1c1e2a-1111-4c5d-9e8f-0123456789ab"))
        #expect(first["recipes"] == .string("dummy,slow"))
        #expect(first["request_id"] == .string("42"))
        #expect(first["nested"] == .object(["count": .string("2")]))
        #expect(first["time"]?.stringValue.flatMap(RFC3339.parse) != nil)
        let second = try JSONValue.parseObject(Data(written[1].utf8))
        #expect(second["message"] == .string("second line\nwith a newline inside"))
    }
}
