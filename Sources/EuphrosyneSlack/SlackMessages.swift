import EuphrosyneCore
import EuphrosynePorts
import Foundation

/// The Block Kit pieces of the Slack integration, built as values (tested without Slack): the buttons and the value
/// each carries back, sections, links and escaping. The incident's message is in `SlackMessages+Incident.swift`.
///
/// Text that came from outside (alert labels, recipe analyses) goes into `plain_text` objects, which Slack shows as
/// the text they are: no mentions, no formatting, no links hidden behind other words. Only what the reconciler
/// writes itself is `mrkdwn`, plus recipe links, which are shown as exactly the URL they open.
public enum SlackMessages {
    /// Slack's limits that these layouts respect: 50 blocks, 3,000 characters of section text, 25 buttons per actions
    /// block, 75 characters of button text.
    static let maxBlocks = 50
    static let maxSectionText = 3_000
    static let maxButtons = 25
    static let maxButtonText = 75
    /// The analysis text is split over at most this many sections; the rest is cut and says so.
    static let maxTextSections = 30
    static let maxLinks = 10

    /// What a button click carries back (`value`, at most 2,000 characters): which incident, which action.
    public struct ButtonValue: Sendable, Hashable, Codable {
        public var incident: UUID
        public var action: String

        public init(incident: UUID, action: String) {
            self.incident = incident
            self.action = action
        }

        /// The marker our buttons' `action_id`s start with, which tells our clicks from other apps' in the channel.
        public static let actionIDPrefix = "euphrosyne-approve-"

        /// `{"incident":"<uuid>","action":"<name>"}`.
        public var encoded: String {
            let object: JSONValue = .object([
                "incident": .string(incident.uuidString.lowercased()), "action": .string(action),
            ])
            return (try? String(decoding: JSONEncoder().encode(object), as: UTF8.self)) ?? "{}"
        }

        /// The value of a click, or nil when it is not one of ours.
        public init?(decoding value: String) {
            guard value.utf8.count <= 2_000, let object = try? JSONValue.parseObject(Data(value.utf8)),
                  let incident = object["incident"]?.stringValue.flatMap(UUID.init(uuidString:)),
                  let action = object["action"]?.stringValue, !action.isEmpty
            else { return nil }
            self.init(incident: incident, action: action)
        }
    }

    static func button(index: Int, incident: UUID, action: String) -> JSONValue {
        .object([
            "type": .string("button"), "action_id": .string(ButtonValue.actionIDPrefix + String(index)),
            "text": .object(["type": .string("plain_text"), "text": .string(String("Run \(action)".prefix(maxButtonText)))]),
            "value": .string(ButtonValue(incident: incident, action: action).encoded),
            "confirm": .object([
                "title": .object(["type": .string("plain_text"), "text": .string("Run this action?")]),
                "text": .object(["type": .string("plain_text"), "text": .string(String("\(action) will run for this incident.".prefix(300)))]),
                "confirm": .object(["type": .string("plain_text"), "text": .string("Run it")]),
                "deny": .object(["type": .string("plain_text"), "text": .string("Cancel")]),
            ]),
        ])
    }

    static func section(mrkdwn text: String) -> JSONValue {
        .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(text)])])
    }

    static func section(plain text: String) -> JSONValue {
        .object(["type": .string("section"),
                 "text": .object(["type": .string("plain_text"), "text": .string(text), "emoji": .bool(false)])])
    }

    /// A recipe's link in mrkdwn: a clickable `<url|url>` only for an http(s) URL that Slack's link syntax cannot
    /// misread, and then shown as exactly the URL it opens; anything else as escaped text.
    static func link(_ link: String) -> String {
        let trimmed = link.trimmingCharacters(in: .whitespacesAndNewlines)
        guard ChatText.isWebAddress(trimmed), !trimmed.contains(where: { "|<> \n".contains($0) }) else { return escaped(trimmed) }
        let shown = escaped(trimmed)
        return "<\(trimmed.replacingOccurrences(of: "&", with: "&amp;"))|\(shown)>"
    }

    /// `text` with Slack's three control characters escaped, so it cannot open a link, a mention or `<!channel>`.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// `text` in pieces of at most `size` characters, cut at a line break where one is near.
    static func chunked(_ text: String, size: Int) -> [String] {
        var chunks: [String] = []
        var rest = Substring(text)
        while rest.count > size {
            let window = rest.prefix(size)
            let cut = window.lastIndex(of: "\n").flatMap { index in
                rest.distance(from: rest.startIndex, to: index) > size / 2 ? index : nil
            } ?? window.endIndex
            chunks.append(String(rest[rest.startIndex..<cut]))
            rest = rest[cut...].drop { $0 == "\n" }
        }
        if !rest.isEmpty || chunks.isEmpty { chunks.append(String(rest)) }
        return chunks
    }
}
