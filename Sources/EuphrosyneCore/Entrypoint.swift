/// Splits a recipe's `entrypoint` string into an argument vector.
///
/// Recipes are started directly (a process or a Kubernetes Job's `command`), never through a
/// shell, so the catalog uses this to turn `entrypoint: "check --since '5 minutes'"` into argv.
/// Words are split and quotes removed the way a POSIX shell does, but nothing is expanded:
/// `$VAR`, `*`, `~`, backticks, `|`, `;`, `&&`, `>` and `#` are ordinary characters, so an
/// entrypoint can never do more than start one program with fixed arguments.
public enum Entrypoint {
    /// - Throws: `EntrypointError` for an unterminated quote, a trailing backslash, or an
    ///   entrypoint with no words at all.
    public static func split(_ text: String) throws(EntrypointError) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        // Separate from `current.isEmpty` because `''` must still produce an (empty) word.
        var inWord = false
        // Unicode scalars rather than Characters so "\r\n" is two separators, not one grapheme.
        var iterator = text.unicodeScalars.makeIterator()

        while let scalar = iterator.next() {
            switch scalar {
            case " ", "\t", "\n", "\r":
                if inWord {
                    words.append(String(current))
                    current = String.UnicodeScalarView()
                    inWord = false
                }
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" {
                        closed = true
                        break
                    }
                    current.append(next)
                }
                guard closed else { throw EntrypointError(message: "unterminated single quote") }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { break }
                        switch escaped {
                        case "\"", "\\", "$", "`":
                            current.append(escaped)
                        case "\n":
                            // Line continuation, as in the shell.
                            break
                        default:
                            current.append("\\")
                            current.append(escaped)
                        }
                        continue
                    }
                    current.append(next)
                }
                guard closed else { throw EntrypointError(message: "unterminated double quote") }
            case "\\":
                guard let escaped = iterator.next() else {
                    throw EntrypointError(message: "trailing backslash")
                }
                if escaped == "\n" {
                    // Line continuation joins the lines without starting a new word.
                    continue
                }
                inWord = true
                current.append(escaped)
            default:
                inWord = true
                current.append(scalar)
            }
        }
        if inWord {
            words.append(String(current))
        }
        guard !words.isEmpty else { throw EntrypointError(message: "empty entrypoint") }
        return words
    }
}
