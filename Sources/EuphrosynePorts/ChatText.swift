import Foundation

/// Makes text that came from outside (alert labels and annotations, recipe analyses and links) safe to put in a
/// chat message: it shows as the text it is, and cannot mention people, hide a link behind other words, or change
/// the message's formatting.
///
/// The notifiers call it on every such piece; what the reconciler writes itself (headings, the incident id) is
/// added around it.
public enum ChatText {
    /// Characters with a meaning in Markdown (CommonMark and Webex's dialect), each escaped with a backslash.
    static let markdownPunctuation: Set<Character> = ["\\", "`", "*", "_", "[", "]", "(", ")", "<", ">", "#", "|", "~", "!", "{", "}"]

    /// `text` as literal Markdown: punctuation escaped, mentions (`<@all>`, `<@personEmail:…>`) broken.
    public static func markdown(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 16)
        for character in neutralizingMentions(text) {
            if markdownPunctuation.contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// `text` with every `<@` broken by a zero-width space, so no client reads a mention in it, whether or not
    /// it renders Markdown (the original bot's rendering is not ours to know).
    public static func neutralizingMentions(_ text: String) -> String {
        guard text.contains("<@") else { return text }
        return text.replacingOccurrences(of: "<@", with: "<\u{200B}@")
    }

    /// A recipe's link as a Markdown list item: clickable only for http(s) URLs, and then shown as exactly the URL
    /// it opens (so `[approve here](https://elsewhere)` cannot happen); anything else is shown as text.
    public static func markdownLink(_ link: String) -> String {
        let trimmed = link.trimmingCharacters(in: .whitespacesAndNewlines)
        guard isWebAddress(trimmed) else { return markdown(trimmed) }
        let target = trimmed.replacingOccurrences(of: " ", with: "%20").replacingOccurrences(of: "(", with: "%28")
            .replacingOccurrences(of: ")", with: "%29").replacingOccurrences(of: "<", with: "%3C")
            .replacingOccurrences(of: ">", with: "%3E")
        return "[\(markdown(trimmed))](\(target))"
    }

    /// Whether `text` is an http(s) URL with a host: the only links chats and the dashboard make clickable.
    public static func isWebAddress(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && url.host?.isEmpty == false
    }
}
