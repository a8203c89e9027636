import Foundation
import Logging

/// The coordinator's logger for one incident: every line carries `incident=<uuid>`, added to the line's own
/// metadata rather than set on a copy of the logger, which would copy the handler's metadata for each line (a
/// cost that showed on the webhook's hottest path). Nothing is built when the level is off.
struct IncidentLogger {
    let logger: Logger
    let id: UUID

    func debug(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        log(.debug, message(), metadata())
    }

    func info(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        log(.info, message(), metadata())
    }

    func notice(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        log(.notice, message(), metadata())
    }

    func warning(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        log(.warning, message(), metadata())
    }

    func error(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata = [:]) {
        log(.error, message(), metadata())
    }

    private func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
                     _ metadata: @autoclosure () -> Logger.Metadata) {
        guard logger.logLevel <= level else { return }
        var lineMetadata = metadata()
        lineMetadata["incident"] = "\(id.uuidString.lowercased())"
        logger.log(level: level, message(), metadata: lineMetadata)
    }
}
