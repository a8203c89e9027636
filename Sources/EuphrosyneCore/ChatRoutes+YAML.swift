import Foundation
import Yams

/// A routes file that cannot be used; the message names the route (from 1) and the field.
public struct ChatRoutesError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension ChatRoutes {
    /// The chats a route can name.
    public static let chats = ["slack", "webex"]

    /// Reads the routes file (`CHAT_ROUTES_FILE`):
    ///
    /// ```yaml
    /// routes:
    ///   - match: '{team="payments", severity=~"critical|page"}'   # or a list, as recipes write it
    ///     recipes: [node-diagnostics]                              # optional
    ///     slack: C0PAYMENTS                                        # a channel id
    ///     webex: Y2lzY29zcGFyazovL3VzL1JPT00v…                     # a room id
    /// ```
    ///
    /// Routes are tried in order; every unknown field, bad matcher or route without a destination is an error.
    public init(yaml: String) throws(ChatRoutesError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ChatRoutesError(message: "the routes file is not valid YAML: \(error)")
        }
        guard let root else {
            self.init()
            return
        }
        guard let mapping = root.mapping, let list = mapping["routes"] else {
            throw ChatRoutesError(message: "the routes file must be a mapping with a \"routes\" list")
        }
        if let extra = mapping.keys.compactMap(\.yamlString).first(where: { $0 != "routes" }) {
            throw ChatRoutesError(message: "the routes file has an unknown field \"\(extra)\" (only \"routes\")")
        }
        guard let entries = list.sequence else {
            throw ChatRoutesError(message: "\"routes\" must be a list, got \(list.yamlKind)")
        }
        var routes: [Route] = []
        for (index, entry) in entries.enumerated() {
            routes.append(try Self.route(entry, number: index + 1))
        }
        self.init(routes)
    }

    private static func route(_ node: Node, number: Int) throws(ChatRoutesError) -> Route {
        func problem(_ text: String) -> ChatRoutesError { ChatRoutesError(message: "route \(number): \(text)") }
        guard let fields = node.mapping else { throw problem("must be a mapping, got \(node.yamlKind)") }
        let known: Set<String> = Set(["match", "recipes"] + chats)
        for key in fields.keys {
            guard let name = key.yamlString, known.contains(name) else {
                throw problem("unknown field \(key.yamlKind) (known: match, recipes, \(chats.joined(separator: ", ")))")
            }
        }
        var route = Route(destinations: [:])
        if let match = fields["match"] {
            do {
                if let text = match.yamlString {
                    route.matchers = try AlertMatchers(parsing: text)
                } else if let list = match.sequence {
                    let texts = list.compactMap(\.yamlString)
                    guard texts.count == list.count else { throw problem("\"match\" must be matcher strings") }
                    route.matchers = try AlertMatchers(parsing: texts)
                } else {
                    throw problem("\"match\" must be a string of matchers or a list of them, got \(match.yamlKind)")
                }
            } catch let error as AlertMatcherError {
                throw problem("\"match\": \(error.message)")
            } catch let error as ChatRoutesError {
                throw error
            } catch {
                throw problem("\"match\": \(error)")
            }
        }
        if let recipes = fields["recipes"] {
            guard let list = recipes.sequence, case let names = list.compactMap(\.yamlString), names.count == list.count,
                  !names.contains(where: \.isEmpty)
            else { throw problem("\"recipes\" must be a list of recipe names, got \(recipes.yamlKind)") }
            route.recipes = names
        }
        for chat in chats {
            guard let value = fields[chat] else { continue }
            guard let destination = value.yamlString?.trimmingCharacters(in: .whitespaces), !destination.isEmpty else {
                throw problem("\"\(chat)\" must be a \(chat == "slack" ? "channel" : "room") id, got \(value.yamlKind)")
            }
            route.destinations[chat] = destination
        }
        guard !route.destinations.isEmpty else {
            throw problem("names no destination: give \(chats.map { "\"\($0)\"" }.joined(separator: " or "))")
        }
        return route
    }
}
