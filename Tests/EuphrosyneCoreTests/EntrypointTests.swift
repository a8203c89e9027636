import Testing
@testable import EuphrosyneCore

@Suite struct EntrypointTests {
    @Test(arguments: [
        ("http-errors", ["http-errors"]),
        ("  check   --since 5m  ", ["check", "--since", "5m"]),
        ("a\tb\nc\r\nd", ["a", "b", "c", "d"]),
        ("echo 'hello world'", ["echo", "hello world"]),
        (#"echo "hello world""#, ["echo", "hello world"]),
        ("echo ''", ["echo", ""]),
        (#"echo """#, ["echo", ""]),
        ("''", [""]),
        ("a '' b", ["a", "", "b"]),
        (#"pre'fix'"mid"post"#, ["prefixmidpost"]),
        (#"--name='x y'"#, ["--name=x y"]),
        (#"'it'\''s'"#, ["it's"]),
        (#"'a\b'"#, [#"a\b"#]),
        (#"'$HOME "q"'"#, [#"$HOME "q""#]),
        (#""a\"b""#, [#"a"b"#]),
        (#""a\\b""#, [#"a\b"#]),
        (#""\$HOME""#, ["$HOME"]),
        (#""\`cmd\`""#, ["`cmd`"]),
        (#""\n\t\x""#, [#"\n\t\x"#]),
        (#""it's""#, ["it's"]),
        (#"a\ b"#, ["a b"]),
        (#"\"quoted\""#, [#""quoted""#]),
        (#"\\"#, [#"\"#]),
        (#"\'"#, ["'"]),
        ("a\\\nb", ["ab"]),
        ("\"a\\\nb\"", ["ab"]),
        ("$HOME *.log ~ `id` $(id)", ["$HOME", "*.log", "~", "`id`", "$(id)"]),
        ("a|b; c && d > out # comment", ["a|b;", "c", "&&", "d", ">", "out", "#", "comment"]),
        ("résumé 'ü ñ' 🙂", ["résumé", "ü ñ", "🙂"]),
        ("a\u{00A0}b", ["a\u{00A0}b"]),
    ])
    func splits(input: String, expected: [String]) throws {
        #expect(try Entrypoint.split(input) == expected)
    }

    @Test(arguments: [
        ("echo 'oops", "unterminated single quote"),
        ("'", "unterminated single quote"),
        (#"echo "oops"#, "unterminated double quote"),
        (#""a\""#, "unterminated double quote"),
        (#""\"#, "unterminated double quote"),
        (#"echo oops\"#, "trailing backslash"),
        ("", "empty entrypoint"),
        ("   \t\n ", "empty entrypoint"),
        ("\\\n", "empty entrypoint"),
    ])
    func rejects(input: String, message: String) {
        let error = #expect(throws: EntrypointError.self) { try Entrypoint.split(input) }
        #expect(error?.message == message)
        #expect(error?.description == message)
    }
}
