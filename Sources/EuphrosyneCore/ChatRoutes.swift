import Foundation

/// Where each chat posts an incident: the first route whose matchers and recipes fit it, else the chat's default
/// (`SLACK_CHANNEL`, `WEBEX_ROOM_ID`). Read by `serve` from the routes file (`CHAT_ROUTES_FILE`) and consulted by
/// the Slack and Webex notifiers when they post an incident's first message; its replies and edits follow it there.
public struct ChatRoutes: Sendable, Hashable {
    /// One route: alerts (label matchers, the syntax recipes use) and, optionally, the recipes that diagnosed them,
    /// to a destination per chat.
    public struct Route: Sendable, Hashable {
        /// Must all match one firing alert's labels (over the common labels); empty matches every incident.
        public var matchers: AlertMatchers
        /// When not empty, the incident must have been diagnosed by one of these debugging recipes.
        public var recipes: [String]
        /// Chat name (`slack`, `webex`) → channel or room id.
        public var destinations: [String: String]

        public init(matchers: AlertMatchers = AlertMatchers(), recipes: [String] = [], destinations: [String: String]) {
            self.matchers = matchers
            self.recipes = recipes
            self.destinations = destinations
        }

        public func matches(_ card: IncidentCard) -> Bool {
            guard recipes.isEmpty || card.debuggingRecipes.contains(where: recipes.contains) else { return false }
            return matchers.matchers.isEmpty || card.labelSets.contains { matchers.matches($0) }
        }
    }

    public var routes: [Route]

    public init(_ routes: [Route] = []) {
        self.routes = routes
    }

    /// The destination in `chat` of the first route that matches the card and names one for that chat; nil for
    /// the chat's default.
    public func destination(in chat: String, for card: IncidentCard) -> String? {
        routes.first { $0.destinations[chat] != nil && $0.matches(card) }?.destinations[chat]
    }

    /// Every destination the routes name in `chat` (for checks at start and for approvals limited by channel).
    public func destinations(in chat: String) -> Set<String> {
        Set(routes.compactMap { $0.destinations[chat] })
    }
}
