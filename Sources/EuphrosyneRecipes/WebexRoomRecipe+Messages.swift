import AsyncHTTPClient
import EuphrosyneCore
import EuphrosyneSupport
import Foundation
import NIOCore
import RecipeKit

/// What `webex-room` posts: the space's title and marker, the message in parts within Webex's limits, the result.
extension WebexRoomRecipe {
    /// `[euphrosyne 1a2b3c4d]`: the first 8 hex digits of the incident's uuid, what finds the space again.
    static func marker(incident: String) -> String {
        let digits = incident.lowercased().filter { $0.isHexDigit }
        return "[euphrosyne \(digits.prefix(8))]"
    }

    /// `<alertname>: <summary annotation> [euphrosyne 1a2b3c4d]`, on one line, at most `titleLimit` characters with
    /// the marker always whole at the end.
    static func title(_ alert: AlertNotification, marker: String) -> String {
        var name: String
        if alert.source == .generic {
            name = alert.title ?? "Alert"
        } else {
            name = alert.alertName ?? "Alert"
            let detail = alert.alerts.first?.annotations["summary"] ?? alert.commonAnnotations["summary"]
            if let detail, !detail.isEmpty { name += ": " + detail }
        }
        name = JiraRecipe.oneLine(name)
        if name.isEmpty { name = "Alert" }
        let room = titleLimit - marker.count - 1
        if name.count > room { name = String(name.prefix(room - 1)) + "…" }
        return name + " " + marker
    }

    /// The markdown blocks of the post: a heading, the alerts, links, suggested actions, the approval data and the
    /// analysis. `update` marks a post to a space that already existed.
    static func post(_ context: RecipeContext, marker: String, update: Bool) -> [String] {
        let input = context.input
        let alert = input.alert
        var blocks: [String] = []
        let heading = alert.source == .generic ? (alert.title ?? "Alert") : alert.summary
        blocks.append((update ? "### Update: " : "### ") + markdownLine(JiraRecipe.oneLine(heading)))
        blocks.append(update
            ? "Incident `\(input.incident)` was approved for this discussion again \(marker)."
            : "Discussion opened by Euphrosyne for incident `\(input.incident)` \(marker).")

        if alert.source == .generic {
            blocks.append("**Alert**: a JSON payload (not from Alertmanager or Grafana).")
        } else {
            var lines = ["**Alerts**"]
            for item in alert.alerts.prefix(JiraRecipe.alertLimit) {
                var line = "- **\(markdownLine(item.labels["alertname"] ?? "Alert"))** (\(item.status?.rawValue ?? "unknown status"))"
                if let startsAt = item.startsAt { line += " since \(RFC3339.format(startsAt))" }
                let labels = item.labels.filter { $0.key != "alertname" }.sorted { $0.key < $1.key }
                    .map { "`\(code($0.key))=\(code($0.value))`" }
                if !labels.isEmpty { line += ": " + labels.joined(separator: " ") }
                if let summary = item.annotations["summary"], !summary.isEmpty {
                    line += " — " + markdownLine(OutboundHTTP.prefix(JiraRecipe.oneLine(summary), 300))
                }
                lines.append(line)
            }
            if alert.alerts.count > JiraRecipe.alertLimit {
                lines.append("- … and \(alert.alerts.count - JiraRecipe.alertLimit) more alerts")
            }
            if lines.count > 1 { blocks.append(lines.joined(separator: "\n")) }
        }

        let links = self.links(context)
        if !links.isEmpty {
            blocks.append((["**Links**"] + links.map { "- [\(markdownLine($0.name))](\($0.url))" }).joined(separator: "\n"))
        }
        // The approver's `actions`, else the ones the analysis suggested.
        let actions = ((try? Settings.list(input.data["actions"])) ?? nil)
            ?? ((try? Settings.list(input.data["suggestedActions"])) ?? nil)
        if let actions, !actions.isEmpty {
            blocks.append((["**Suggested actions**"] + actions.prefix(20).map { "- `\(code($0))`" }).joined(separator: "\n"))
        }
        let approval = input.approverData.filter { !["members", "dryRun", "links", "actions"].contains($0.key) }
        if !approval.isEmpty {
            blocks.append((["**Approval data**"] + approval.sorted { $0.key < $1.key }.map { key, value in
                let text = value.stringValue ?? JiraRecipe.prettyJSON(value, compact: true)
                return "- `\(code(key))`: " + markdownLine(OutboundHTTP.prefix(JiraRecipe.oneLine(text), 500))
            }).joined(separator: "\n"))
        }
        if let analysis = input.string("analysis")?.trimmingCharacters(in: .whitespacesAndNewlines), !analysis.isEmpty {
            blocks.append("**Analysis**")
            blocks += analysis.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .newlines) }
                .filter { !$0.isEmpty }
        } else {
            blocks.append("_The incident has no analysis yet._")
        }
        // Alert and analysis text comes from whoever can send an alert: it mentions nobody (`<@all>`, `<@personEmail:…>`).
        return blocks.map { $0.replacingOccurrences(of: "<@", with: "< @") }
    }

    /// Web links about the incident: Alertmanager or Grafana, each alert's source, annotations that are web
    /// addresses (runbooks, dashboards), the analysis's links, and the approval data's `links`; at most 20,
    /// deduplicated.
    static func links(_ context: RecipeContext) -> [(name: String, url: String)] {
        let alert = context.input.alert
        var result: [(name: String, url: String)] = []
        var seen = Set<String>()
        func add(_ name: String, _ url: String?) {
            guard let url = url?.trimmingCharacters(in: .whitespaces), OutboundHTTP.origin(url) != nil,
                  !url.contains(where: { $0.isWhitespace || $0 == ")" || $0 == "(" }), seen.insert(url).inserted
            else { return }
            result.append((name, url))
        }
        if alert.source != .generic {
            add(alert.source == .alertmanager ? "Open in Alertmanager" : "Open in Grafana", alert.externalURL)
            for item in alert.alerts.prefix(JiraRecipe.alertLimit) {
                add("\(item.labels["alertname"] ?? "Alert") source", item.generatorURL)
                for (key, value) in item.annotations.sorted(by: { $0.key < $1.key }) { add(key, value) }
            }
        }
        for url in ((try? Settings.list(context.input.data["analysisLinks"])) ?? nil) ?? [] { add(url, url) }
        for url in ((try? Settings.list(context.input.data["links"])) ?? nil) ?? [] { add(url, url) }
        return Array(result.prefix(20))
    }

    /// `text` on one line, safe inside Webex markdown's link text and emphasis.
    static func markdownLine(_ text: String) -> String {
        String(JiraRecipe.oneLine(text).map { "[]*_`".contains($0) ? " " : $0 })
            .replacingOccurrences(of: "<@", with: "< @")  // no mentions from alert text
    }

    /// `text` for inside a code span: no backticks, one line.
    static func code(_ text: String) -> String {
        OutboundHTTP.prefix(JiraRecipe.oneLine(text).replacingOccurrences(of: "`", with: "'"), 200)
    }

    /// The blocks joined into messages of at most `messageLimit` bytes each (a block too long for one message is
    /// split between lines, a line too long for one is cut), each marked `(part n of m)` when there are several;
    /// at most `messagePartLimit` messages, the last saying what was cut.
    static func messageParts(_ blocks: [String]) -> [String] {
        let budget = messageLimit - 200  // room for the part marker and the cut notice
        var pieces: [String] = []
        for block in blocks {
            if block.utf8.count <= budget { pieces.append(block); continue }
            for line in block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                pieces.append(line.cut(toUTF8Bytes: budget, marker: "…(cut)"))
            }
        }
        var parts: [String] = []
        var current = ""
        for piece in pieces {
            let joined = current.isEmpty ? piece : current + "\n\n" + piece
            if joined.utf8.count <= budget {
                current = joined
            } else {
                parts.append(current)
                current = piece
            }
        }
        if !current.isEmpty || parts.isEmpty { parts.append(current) }
        var truncated = false
        if parts.count > messagePartLimit {
            parts = Array(parts.prefix(messagePartLimit))
            truncated = true
        }
        guard parts.count > 1 || truncated else { return parts }
        return parts.enumerated().map { index, part in
            var text = part
            if truncated && index == parts.count - 1 {
                text += "\n\n_…(truncated: the rest did not fit in \(messagePartLimit) Webex messages; the whole "
                    + "analysis is on the incident in Euphrosyne)_"
            }
            if parts.count > 1 { text += "\n\n_(part \(index + 1) of \(parts.count))_" }
            return text
        }
    }


    static func resultJSON(
        room: Room?, title: String, created: Bool, reused: Bool, dryRun: Bool, added: [String], already: [String],
        refused: [Refused], messages: Int
    ) -> String {
        var object: [String: JSONValue] = [
            "title": .string(title), "created": .bool(created), "reused": .bool(reused), "dryRun": .bool(dryRun),
            dryRun ? "wouldAdd" : "added": .array(added.map(JSONValue.string)),
            "alreadyMembers": .array(already.map(JSONValue.string)),
            "refused": .array(refused.map { .object(["email": .string($0.email), "reason": .string($0.reason)]) }),
            "messages": .integer(Int64(messages)),
        ]
        if let room {
            object["roomId"] = .string(room.id)
            object["url"] = .string(room.link)
            if let web = room.webLink { object["webUrl"] = .string(web) }
        }
        return String(decoding: OutboundHTTP.encode(.object(object)), as: UTF8.self)
    }
}
