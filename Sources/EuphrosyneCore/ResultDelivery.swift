import Foundation

/// Where a recipe's result travels over Redis: the pub/sub channel of the original system, and the durable
/// per-incident list that closes pub/sub's at-most-once gap.
///
/// RecipeKit appends the result to `durableKey` (with `durableKeyTTL`) before it publishes on `channel`; the
/// reconciler reads `durableKey` after every (re)subscribe and on start, so a result published while it was
/// disconnected or restarting is still collected. Recipes that only PUBLISH (the original SDK) keep working.
public enum ResultDelivery {
    /// The channel a recipe publishes on: the incident UUID as the data file gives it.
    public static func channel(incident: UUID) -> String { incident.uuidString.lowercased() }

    /// The list every result of an incident is appended to.
    public static func durableKey(incident: String) -> String { "euphrosyne:results:\(incident.lowercased())" }

    /// How long the durable copies are kept: longer than any recipe timeout, short enough to clean up.
    public static let durableKeyTTL = 86_400
}
