import EuphrosyneTestSupport
import Foundation

/// Small executable scripts for launcher tests, written to a private temporary directory. They are the recipes
/// under test; the launcher runs them directly (their `#!` line picks the interpreter), never through a shell of
/// ours.
struct ScriptFixtures {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("euphrosyne-engine-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes an executable `/bin/sh` script and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try writeExecutableScript(at: url.path, "#!/bin/sh\n" + body + "\n")
        return url.path
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
