import EuphrosyneCore
import Foundation

/// What the incident list shows, from its query: `state`, `alert` (part of the alert name, any case), `label`
/// (`name=value`, matched against the group's common labels and each alert's), `since` (hours). Bounded and checked:
/// a value the list cannot use is refused with the reason.
struct IncidentFilter: Sendable, Hashable {
    /// `name=value`.
    struct Label: Sendable, Hashable {
        var name: String
        var value: String
    }

    var state: Incident.State?
    var alert: String?
    var label: Label?
    var sinceHours: Int?

    static let periods: [(hours: Int?, label: String)] = [(nil, "Any time"), (1, "Last hour"), (24, "Last day"),
                                                          (168, "Last week"), (720, "Last 30 days")]
    static let maxTextLength = 200

    struct Problem: Error, Sendable, Hashable {
        var field: String
        var message: String
    }

    init(state: Incident.State? = nil, alert: String? = nil, label: Label? = nil, sinceHours: Int? = nil) {
        self.state = state
        self.alert = alert
        self.label = label
        self.sinceHours = sinceHours
    }

    /// Reads the query's parameters (empty ones mean "any").
    init(query: [String: String]) throws(Problem) {
        func text(_ name: String) throws(Problem) -> String? {
            guard let value = query[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            guard value.count <= Self.maxTextLength else {
                throw Problem(field: name, message: "\(name) is longer than \(Self.maxTextLength) characters")
            }
            return value
        }
        if let state = try text("state") {
            guard let parsed = Incident.State(rawValue: state) else {
                throw Problem(field: "state", message: "state must be one of "
                              + Incident.State.allCases.map(\.rawValue).joined(separator: ", "))
            }
            self.state = parsed
        }
        alert = try text("alert")
        if let label = try text("label") {
            let parts = label.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw Problem(field: "label", message: "label must be name=value, e.g. team=payments")
            }
            self.label = Label(name: parts[0], value: parts[1])
        }
        if let since = try text("since") {
            guard let hours = Int(since), Self.periods.contains(where: { $0.hours == hours }) else {
                throw Problem(field: "since", message: "since must be one of "
                              + Self.periods.compactMap { $0.hours.map(String.init) }.joined(separator: ", ") + " (hours)")
            }
            sinceHours = hours
        }
    }

    func matches(_ incident: Incident, now: Date) -> Bool {
        if let state, incident.state != state { return false }
        if let since = sinceHours, incident.createdAt < now.addingTimeInterval(-Double(since) * 3600) { return false }
        guard alert != nil || label != nil else { return true }
        let notification = incident.alert
        if let alert, !(notification.alertName ?? "").localizedCaseInsensitiveContains(alert) { return false }
        if let label {
            let sets = [notification.commonLabels, notification.groupLabels] + notification.alerts.map(\.labels)
            guard sets.contains(where: { $0[label.name] == label.value }) else { return false }
        }
        return true
    }

    /// The query that shows this filter again (for the page's address and the list's request).
    var query: String {
        var items: [URLQueryItem] = []
        if let state { items.append(.init(name: "state", value: state.rawValue)) }
        if let alert { items.append(.init(name: "alert", value: alert)) }
        if let label { items.append(.init(name: "label", value: "\(label.name)=\(label.value)")) }
        if let sinceHours { items.append(.init(name: "since", value: String(sinceHours))) }
        var components = URLComponents()
        components.queryItems = items
        return items.isEmpty ? "" : components.percentEncodedQuery ?? ""
    }
}
