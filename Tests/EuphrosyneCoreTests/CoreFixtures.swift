import Foundation

/// Loads the captured payloads and manifests in `Fixtures/` shipped with this test target.
enum CoreFixtures {
    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "fixture \(name) is not in the test bundle" }
    }

    static func data(_ name: String, _ ext: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures") else {
            throw Missing(name: "\(name).\(ext)")
        }
        return try Data(contentsOf: url)
    }

    static func text(_ name: String, _ ext: String) throws -> String {
        String(decoding: try data(name, ext), as: UTF8.self)
    }
}
