import EuphrosyneCore

/// Atlassian Document Format, the little of it the recipe writes (PROTOCOLS.md §6.2): a `doc` of paragraphs,
/// headings, bullet lists and code blocks, with `text` nodes that are never empty.
enum ADF {
    enum Mark: Sendable {
        case strong, em, code
        case link(String)

        var json: JSONValue {
            switch self {
            case .strong: return .object(["type": .string("strong")])
            case .em: return .object(["type": .string("em")])
            case .code: return .object(["type": .string("code")])
            case .link(let href): return .object(["type": .string("link"), "attrs": .object(["href": .string(href)])])
            }
        }
    }

    static func doc(_ content: [JSONValue]) -> JSONValue {
        .object(["type": .string("doc"), "version": .integer(1), "content": .array(content)])
    }

    /// A text node; an empty `text` becomes `.null`, which the block builders drop (ADF refuses empty text).
    static func text(_ text: String, _ marks: [Mark] = []) -> JSONValue {
        guard !text.isEmpty else { return .null }
        var node: [String: JSONValue] = ["type": .string("text"), "text": .string(text)]
        if !marks.isEmpty { node["marks"] = .array(marks.map(\.json)) }
        return .object(node)
    }

    static let hardBreak: JSONValue = .object(["type": .string("hardBreak")])

    static func paragraph(_ inline: [JSONValue]) -> JSONValue {
        .object(["type": .string("paragraph"), "content": .array(inline.filter { $0 != .null })])
    }

    static func heading(_ level: Int, _ title: String) -> JSONValue {
        .object([
            "type": .string("heading"), "attrs": .object(["level": .integer(Int64(min(max(level, 1), 6)))]),
            "content": .array([text(title)].filter { $0 != .null }),
        ])
    }

    /// A bullet list with one paragraph per item.
    static func bulletList(_ items: [[JSONValue]]) -> JSONValue {
        .object([
            "type": .string("bulletList"),
            "content": .array(items.map { .object(["type": .string("listItem"), "content": .array([paragraph($0)])]) }),
        ])
    }

    static func codeBlock(_ code: String, language: String? = nil) -> JSONValue {
        var node: [String: JSONValue] = ["type": .string("codeBlock"), "content": .array([text(code)].filter { $0 != .null })]
        if let language { node["attrs"] = .object(["language": .string(language)]) }
        return .object(node)
    }

    /// Text whose lines are joined by hard breaks.
    static func lines(_ text: String, _ marks: [Mark] = []) -> [JSONValue] {
        var nodes: [JSONValue] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if index > 0 { nodes.append(hardBreak) }
            let node = self.text(String(line).replacingOccurrences(of: "\r", with: ""), marks)
            if node != .null { nodes.append(node) }
        }
        return nodes
    }

    /// Paragraphs from text whose paragraphs are separated by blank lines.
    static func paragraphs(_ text: String) -> [JSONValue] {
        text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
            .map { $0.trimmingCharacters(in: .newlines) }.filter { !$0.isEmpty }
            .map { paragraph(lines($0)) }
    }
}
