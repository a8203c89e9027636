import EuphrosyneCore
import EuphrosynePorts
import Foundation

/// The one Slack message that follows an incident (`IncidentCard`): posted while it is diagnosed, then edited in
/// place as it is analysed, acted on, done or resolved. Built as values, tested without Slack.
extension SlackMessages {
    /// The `block_id` prefix of an action input: `euphrosyne-input:<action>:<input>`.
    static let inputBlockPrefix = "euphrosyne-input:"
    /// Input fields per message (each is a block); an action with more inputs is approved through the API.
    static let maxInputs = 10

    /// The notification text: the state and the alert.
    static func incidentText(_ card: IncidentCard) -> String {
        "\(card.stage.title): " + escaped(String(card.alert.prefix(300)))
    }

    /// The message: the state line (ours, mrkdwn), the alert and its group, the runs, the analysis and links, the
    /// approvals, then an input per declared action input and one button per action still approvable. Once closed,
    /// no inputs and no buttons. At most 50 blocks: the analysis gives way first.
    static func incidentBlocks(_ card: IncidentCard, catalog: RecipeCatalog?) -> [JSONValue] {
        let id = card.incident.uuidString.lowercased()
        var head: [JSONValue] = [
            section(mrkdwn: "\(card.colourMark) *\(card.stage.title)*: \(card.stateDetail) · incident `\(id)`"),
            section(plain: String(card.alert.prefix(maxSectionText))),
        ]
        if let alerts = card.alertsText { head.append(section(plain: String(alerts.prefix(maxSectionText)))) }
        if let runs = card.runsLine { head.append(section(plain: String(runs.prefix(maxSectionText)))) }

        var tail: [JSONValue] = []
        if let links = card.analysis?.links.prefix(maxLinks).map(link), !links.isEmpty {
            tail.append(section(mrkdwn: links.map { "• " + $0 }.joined(separator: "\n")))
        }
        if !card.approvalLines.isEmpty {
            tail.append(section(plain: String(card.approvalLines.joined(separator: "\n").prefix(maxSectionText))))
        }
        if let reason = card.closedReason, card.stage == .failed || card.stage == .expired {
            tail.append(section(plain: String(reason.prefix(maxSectionText))))
        }
        let actions = Array(card.approvable.prefix(maxButtons))
        tail += inputBlocks(for: actions, catalog: catalog)
        if !actions.isEmpty {
            tail.append(.object([
                "type": .string("actions"), "block_id": .string("euphrosyne-actions"),
                "elements": .array(actions.enumerated().map { index, action in
                    button(index: index, incident: card.incident, action: action)
                }),
            ]))
        }
        if card.approvable.count > maxButtons {
            let rest = card.approvable.dropFirst(maxButtons).joined(separator: ", ")
            tail.append(section(plain: String("Also suggested (approve through the API): \(rest)".prefix(maxSectionText))))
        }

        var body: [JSONValue] = []
        if let analysis = card.analysis {
            let room = max(1, maxBlocks - head.count - tail.count)
            var chunks = chunked(analysis.text.isEmpty ? "(no analysis)" : analysis.text, size: maxSectionText)
            if chunks.count > room {
                chunks = Array(chunks.prefix(room))
                chunks[room - 1] = String(chunks[room - 1].dropLast(20)) + "\n…(truncated)"
            }
            body = chunks.map(section(plain:))
        }
        return Array((head + body + tail).prefix(maxBlocks))
    }

    /// The colour bar: one secondary attachment in the stage's colour, saying when the incident was opened.
    static func incidentAttachments(_ card: IncidentCard) -> [JSONValue] {
        [.object([
            "color": .string(card.colour), "fallback": .string(card.stage.title),
            "blocks": .array([.object([
                "type": .string("context"),
                "elements": .array([.object(["type": .string("mrkdwn"),
                                             "text": .string("Euphrosyne · \(card.stage.title.lowercased())")])]),
            ])]),
        ])]
    }

    /// One optional text field per input the approvable actions declare (the first `maxInputs`): a click on an
    /// action's button sends what was typed into its fields (`state.values`) as the approval's data.
    static func inputBlocks(for actions: [String], catalog: RecipeCatalog?) -> [JSONValue] {
        guard let catalog else { return [] }
        var blocks: [JSONValue] = []
        for action in actions {
            for input in catalog.action(named: action)?.inputs ?? [] {
                let blockID = inputBlockPrefix + action + ":" + input
                guard blockID.count <= 255, blocks.count < maxInputs else { continue }
                blocks.append(.object([
                    "type": .string("input"), "block_id": .string(blockID), "optional": .bool(true),
                    "label": .object(["type": .string("plain_text"), "text": .string(String("\(action): \(input)".prefix(2000)))]),
                    "element": .object(["type": .string("plain_text_input"), "action_id": .string("value")]),
                ]))
            }
        }
        return blocks
    }

    /// The values typed for `action`'s inputs in a click's `state.values`, by input name; empty fields left out.
    static func inputValues(for action: String, in state: JSONValue?) -> [String: JSONValue] {
        let prefix = inputBlockPrefix + action + ":"
        var data: [String: JSONValue] = [:]
        for (blockID, elements) in state?["values"]?.objectValue ?? [:] where blockID.hasPrefix(prefix) {
            guard let value = elements["value"]?["value"]?.stringValue, !value.isEmpty else { continue }
            data[String(blockID.dropFirst(prefix.count))] = .string(value)
        }
        return data
    }
}
