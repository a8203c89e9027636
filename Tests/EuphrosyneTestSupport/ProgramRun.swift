import Foundation

/// What a program run by `runProgram` printed and how it ended.
public struct ProgramRun: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs a program (no shell) to its end, off Swift's cooperative pool: its pipes are read and its exit waited for on
/// threads of its own, so a slow program (kubectl, a Python validator) never holds one of the few threads every async
/// test shares. Not dispatch's threads either: on Linux the cooperative pool is built on dispatch's worker threads,
/// and a handful of them blocked in `read` starves every task.
public func runProgram(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil,
    input: Data? = nil
) async throws -> ProgramRun {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            if let environment { process.environment = environment }
            if let directory { process.currentDirectoryURL = directory }
            let output = Pipe()
            let errors = Pipe()
            let stdin = Pipe()
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = input == nil ? FileHandle.nullDevice : stdin
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let readers = DispatchGroup()
            nonisolated(unsafe) var errorData = Data()
            readers.enter()
            Thread.detachNewThread {
                errorData = errors.fileHandleForReading.readDataToEndOfFile()
                readers.leave()
            }
            if let input {
                readers.enter()
                Thread.detachNewThread {
                    stdin.fileHandleForWriting.write(input)
                    try? stdin.fileHandleForWriting.close()
                    readers.leave()
                }
            }
            let outputData = output.fileHandleForReading.readDataToEndOfFile()
            readers.wait()
            process.waitUntilExit()
            continuation.resume(returning: ProgramRun(status: process.terminationStatus,
                                                      output: String(decoding: outputData, as: UTF8.self),
                                                      errors: String(decoding: errorData, as: UTF8.self)))
        }
    }
}
