import Foundation

/// What a hostile neighbour sends a listener: other spellings of a protected path, broken framing, oversized or
/// trickling bodies. Shared by the listener tests (in process) and the end-to-end hostile suite (the real binary),
/// so both hold the same catalogue.
public enum HostileRequests {
    /// Spellings of `path` a router might take for it, or that a proxy or client might produce: trailing and
    /// doubled slashes, dot segments, percent-encoding, other case, a query, a path parameter.
    public static func pathVariants(of path: String) -> [String] {
        let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let components = trimmed.split(separator: "/").map(String.init)
        let first = components.first ?? ""
        let rest = components.dropFirst().joined(separator: "/")
        let tail = rest.isEmpty ? "" : "/" + rest
        var variants = [
            path,
            path + "/",
            path + "//",
            "/" + path,
            "//" + trimmed + "/",
            "/" + components.joined(separator: "//"),
            "/./" + trimmed,
            path + "/.",
            "/" + first + "/../" + trimmed,
            "/x/../" + trimmed,
            path.uppercased(),
            "/" + first.prefix(1).uppercased() + first.dropFirst() + tail,
            "/" + percentEncodedFirstCharacter(first) + tail,
            "/" + trimmed.replacingOccurrences(of: "/", with: "%2F"),
            path + "?x=1",
            path + ";x=1",
            path + "%20",
            path + "%00",
        ]
        if !rest.isEmpty {
            variants.append("/" + first + "/./" + rest)
        }
        return variants
    }

    private static func percentEncodedFirstCharacter(_ component: String) -> String {
        guard let first = component.unicodeScalars.first else { return component }
        return String(format: "%%%02X", first.value) + component.dropFirst()
    }

    /// A raw request: `method target`, the headers given, and the body with a matching Content-Length.
    public static func request(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: String = "",
        contentType: String? = "application/json"
    ) -> String {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let contentType { text += "Content-Type: \(contentType)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        return text
    }

    /// Requests whose framing is broken, each with what it breaks; every one must be answered 4xx (or the
    /// connection closed), never 5xx.
    public static func malformed(path: String) -> [(what: String, bytes: String)] {
        [
            ("an invalid chunk-size line",
             "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
            ("a chunk longer than its size",
             "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n"),
            ("both Content-Length and chunked (request smuggling)",
             "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
            ("two different Content-Lengths",
             "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
            ("a negative Content-Length",
             "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            ("not HTTP at all", "HELLO\r\n\r\n"),
            ("a request line without a version", "GET \(path)\r\n\r\n"),
            ("a header without a colon", "GET \(path) HTTP/1.1\r\nHost x\r\n\r\n"),
            ("a NUL in the request line", "GET \(path)\u{0} HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("a head over the header size limit",
             "GET \(path) HTTP/1.1\r\nHost: x\r\nX-Filler: \(String(repeating: "a", count: 100 * 1024))\r\n\r\n"),
        ]
    }
}
