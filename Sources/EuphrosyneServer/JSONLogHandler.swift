import EuphrosyneCore
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each log record as one JSON object on one line — `time`, `level`, `logger`, `message`, then the
/// metadata (`incident`, `recipe`, `request_id`…) — for log collectors in a cluster. `serve` uses it by default in
/// cluster mode (`--log-format json`).
///
/// Values are rendered as strings, nested metadata as objects; a line is written with one `write` so lines from
/// concurrent tasks never interleave. Nothing secret is logged by the reconciler in the first place: the handler
/// does not filter.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: @Sendable (String) -> Void

    /// Writes to standard error.
    public init(label: String, level: Logger.Level = .info) {
        self.init(label: label, level: level) { line in
            // One write(2) per line: atomic for lines shorter than PIPE_BUF on pipes, whole on files.
            let bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// Writes each line (ending in a newline) to `output`; for tests.
    public init(label: String, level: Logger.Level = .info, output: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        var object: [String: JSONValue] = [
            "time": .string(RFC3339.formatWithMilliseconds(Date())),
            "level": .string(event.level.rawValue),
            "logger": .string(label),
            "message": .string(event.message.description),
        ]
        if let error = event.error { object["error"] = .string("\(error)") }
        for (key, value) in merged {
            // Hummingbird's request id under a name log queries expect.
            let name = key == "hb.request.id" ? "request_id" : key
            if object[name] == nil { object[name] = Self.json(value) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(JSONValue.object(object)) else { return }
        output(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values): return .object(values.mapValues(json))
        }
    }
}
