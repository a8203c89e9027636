import Foundation

/// How a chat integration's settings are read: the flag, else the environment variable; a secret from the file a
/// `…_FILE` setting names, else from its variable; a list comma-separated. `WebexSettings` and `SlackSettings` use it.
struct SettingReader {
    let environment: [String: String]

    /// The flag, else the variable; an empty value counts as none.
    func value(_ flag: String?, _ variable: String) -> String? {
        if let flag, !flag.isEmpty { return flag }
        guard let text = environment[variable], !text.isEmpty else { return nil }
        return text
    }

    /// The trimmed content of the file `fileVariable` (or its flag) names, else the value of `variable`; an
    /// unreadable or empty file is refused, naming the setting and the path, never the content.
    func secret(file flag: String?, fileVariable: String, variable: String) throws -> String? {
        if let path = value(flag, fileVariable) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SettingsError("cannot read \(fileVariable) file \(path)")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw SettingsError("\(fileVariable) file \(path) is empty") }
            return trimmed
        }
        return value(nil, variable)
    }

    /// A comma-separated list, blanks dropped.
    func list(_ flag: String?, _ variable: String) -> Set<String> {
        Set((value(flag, variable) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty })
    }
}
