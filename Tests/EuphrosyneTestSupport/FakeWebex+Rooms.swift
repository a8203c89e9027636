import EuphrosyneCore
import Foundation

/// Spaces (rooms) and memberships in the fake Webex API, as PROTOCOLS.md §13 describes them: `POST /rooms`,
/// `GET /rooms` (`type`, `sortBy`, `max`, pages linked with `Link: <…>; rel="next"`), `GET /rooms/{id}`,
/// `POST /memberships` (`409` for a member already there, `400` for a malformed email, `404` for an unknown person),
/// and `GET /memberships?roomId=…`. Rooms list only spaces the bot is a member of (it is of every space it created);
/// 1:1 spaces made by messages to a person are not listed.
extension FakeWebex {
    /// A space as the fake stores it.
    public struct Room: Sendable, Hashable {
        public var id: String
        public var title: String
        /// Always "group" here (1:1 spaces are made by messages, not by `POST /rooms`).
        public var type: String
        public var isLocked: Bool
        public var creatorId: String
        public var created: String
        public var lastActivity: String

        public var json: JSONValue {
            .object([
                "id": .string(id), "title": .string(title), "type": .string(type), "isLocked": .bool(isLocked),
                "creatorId": .string(creatorId), "ownerId": .string(creatorId), "created": .string(created),
                "lastActivity": .string(lastActivity), "isReadOnly": .bool(false), "isPublic": .bool(false),
                "isAnnouncementOnly": .bool(false),
            ])
        }
    }

    /// A person's membership of a space.
    public struct Membership: Sendable, Hashable {
        public var id: String
        public var roomId: String
        public var personId: String
        public var personEmail: String
        public var personDisplayName: String
        public var personOrgId: String
        public var isModerator: Bool
        public var created: String

        public var json: JSONValue {
            .object([
                "id": .string(id), "roomId": .string(roomId), "personId": .string(personId),
                "personEmail": .string(personEmail), "personDisplayName": .string(personDisplayName),
                "personOrgId": .string(personOrgId), "isModerator": .bool(isModerator), "isMonitor": .bool(false),
                "isRoomHidden": .bool(false), "roomType": .string("group"), "created": .string(created),
            ])
        }
    }

    /// What a list call asked for: its query and where the next page's link points.
    struct ListRequest: Sendable {
        var items: [String: String]
        /// `http://<authority>` of the request, for `Link` URLs.
        var base: String
        var path: String

        init(query: String?, base: String, path: String) {
            var items: [String: String] = [:]
            for pair in (query ?? "").split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                let key = parts[0].removingPercentEncoding ?? parts[0]
                let value = parts.count > 1 ? (parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? parts[1]) : ""
                items[key] = value
            }
            self.items = items
            self.base = base
            self.path = path
        }

        subscript(_ key: String) -> String? { items[key] }
    }

    // MARK: Seeding and inspection

    public var rooms: [Room] { state.withLock { $0.rooms } }
    public var memberships: [Membership] { state.withLock { $0.memberships } }
    public func room(id: String) -> Room? { rooms.first { $0.id == id } }
    public func members(roomID: String) -> [String] { memberships.filter { $0.roomId == roomID }.map(\.personEmail) }
    public func messages(roomID: String) -> [Message] { messages.filter { $0.roomId == roomID } }

    /// Creates a space as if the bot had created it earlier (with the bot as its member, plus `members` by email,
    /// who become known people); returns its id.
    @discardableResult
    public func seedRoom(title: String, members: [String] = []) -> String {
        state.withLock { state in
            let room = makeRoom(&state, title: title, isLocked: false)
            for email in members {
                let person = state.people.first { $0.emails.contains(email) }
                    ?? Self.knownPerson(&state, email: email, orgID: orgID)
                state.memberships.append(Self.membership(room: room.id, person: person, moderator: false))
            }
            return room.id
        }
    }

    // MARK: HTTP

    /// Answers the rooms and memberships endpoints; nil for any other.
    func routeRooms(
        _ state: inout State, method: String, parts: [String], list: ListRequest, body: Data
    ) -> Reply? {
        switch (method, parts.count, parts.first ?? "") {
        case ("POST", 1, "rooms"):
            return withObject(body) { createRoom(&state, $0) }
        case ("GET", 1, "rooms"):
            return listRooms(state, list)
        case ("GET", 2, "rooms"):
            guard let room = state.rooms.first(where: { $0.id == parts[1] }),
                  state.memberships.contains(where: { $0.roomId == room.id && $0.personId == botID })
            else { return Self.error(404, "The requested resource could not be found.") }
            return Reply(status: 200, json: room.json)
        case ("POST", 1, "memberships"):
            return withObject(body) { addMembership(&state, $0) }
        case ("GET", 1, "memberships"):
            return listMemberships(state, list)
        default:
            return nil
        }
    }

    private func createRoom(_ state: inout State, _ body: [String: JSONValue]) -> Reply {
        guard let value = body["title"], value != .null else { return Self.error(400, "title is required.") }
        guard let title = value.stringValue, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Self.error(400, "title must be a non-empty string, got \(value.kindDescription).")
        }
        if let teamID = body["teamId"]?.stringValue {
            return Self.error(404, "No team with id \(teamID) (the fake has no teams).")
        }
        var isLocked = false
        if let locked = body["isLocked"], locked != .null {
            guard case .bool(let flag) = locked else {
                return Self.error(400, "isLocked must be a boolean, got \(locked.kindDescription).")
            }
            isLocked = flag
        }
        // 200, not 201, with the room (§13.1).
        return Reply(status: 200, json: makeRoom(&state, title: title, isLocked: isLocked).json)
    }

    private func makeRoom(_ state: inout State, title: String, isLocked: Bool) -> Room {
        let now = Self.timestamp()
        let room = Room(
            id: Self.makeID("ROOM"), title: title, type: "group", isLocked: isLocked, creatorId: botID, created: now,
            lastActivity: now
        )
        state.rooms.append(room)
        if let bot = state.people.first(where: { $0.id == botID }) {
            // The creator is a member at once, and the moderator of a locked space.
            state.memberships.append(Self.membership(room: room.id, person: bot, moderator: isLocked))
        }
        return room
    }

    private func listRooms(_ state: State, _ list: ListRequest) -> Reply {
        if let type = list["type"], !["group", "direct"].contains(type) {
            return Self.error(400, "type must be group or direct, got \(type).")
        }
        var rooms = state.rooms.filter { room in
            state.memberships.contains { $0.roomId == room.id && $0.personId == botID }
        }
        if list["type"] == "direct" { rooms = [] }
        switch list["sortBy"] {
        case nil, "id"?:
            break
        case "created"?:
            rooms.reverse()  // newest first
        case "lastactivity"?:
            rooms = rooms.enumerated().sorted { ($0.element.lastActivity, $0.offset) > ($1.element.lastActivity, $1.offset) }
                .map(\.element)
        case let other?:
            return Self.error(400, "sortBy must be id, lastactivity or created, got \(other).")
        }
        return page(rooms.map(\.json), list)
    }

    private func listMemberships(_ state: State, _ list: ListRequest) -> Reply {
        var found = state.memberships
        if let roomID = list["roomId"] {
            guard state.rooms.contains(where: { $0.id == roomID }),
                  state.memberships.contains(where: { $0.roomId == roomID && $0.personId == botID })
            else { return Self.error(404, "The requested resource could not be found.") }
            found = found.filter { $0.roomId == roomID }
        } else {
            // Without a room: the bot's own memberships.
            found = found.filter { $0.personId == botID }
        }
        if let email = list["personEmail"] { found = found.filter { $0.personEmail.lowercased() == email.lowercased() } }
        if let person = list["personId"] { found = found.filter { $0.personId == person } }
        return page(found.map(\.json), list)
    }

    /// One page of `items` (`max`, default 100, 1…1000), from the opaque `cursor`, with a `Link` to the next.
    private func page(_ items: [JSONValue], _ list: ListRequest) -> Reply {
        var size = 100
        if let text = list["max"] {
            guard let value = Int(text), (1...1000).contains(value) else {
                return Self.error(400, "max must be a number from 1 to 1000, got \(text).")
            }
            size = value
        }
        var start = 0
        if let cursor = list["cursor"] {
            guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
                  text.hasPrefix("offset:"), let offset = Int(text.dropFirst(7)), offset >= 0
            else { return Self.error(400, "The cursor is not valid.") }
            start = offset
        }
        let end = min(items.count, start + size)
        var reply = Reply(status: 200, json: .object(["items": .array(start < end ? Array(items[start..<end]) : [])]))
        if end < items.count {
            var next = list.items
            next["cursor"] = Data("offset:\(end)".utf8).base64EncodedString()
            let query = next.sorted { $0.key < $1.key }.map { key, value in
                "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)"
            }.joined(separator: "&")
            reply.link = "<\(list.base)\(list.path)?\(query)>; rel=\"next\""
        }
        return reply
    }

    private func addMembership(_ state: inout State, _ body: [String: JSONValue]) -> Reply {
        guard let roomID = body["roomId"]?.stringValue, !roomID.isEmpty else {
            return Self.error(400, "roomId is required.")
        }
        let personID = body["personId"]?.stringValue
        let personEmail = body["personEmail"]?.stringValue
        guard (personID == nil) != (personEmail == nil) else {
            return Self.error(400, "Exactly one of personId or personEmail is required.")
        }
        guard state.rooms.contains(where: { $0.id == roomID }),
              state.memberships.contains(where: { $0.roomId == roomID && $0.personId == botID })
        else { return Self.error(404, "The requested resource could not be found.") }
        let person: Person
        if let personID {
            guard let known = state.people.first(where: { $0.id == personID }) else {
                return Self.error(404, "Person not found.")
            }
            person = known
        } else {
            let email = personEmail ?? ""
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(where: \.isWhitespace) else {
                return Self.error(400, "Invalid email address.")
            }
            // Only people the fake knows (`addPerson`) can be added; Webex refuses some emails it cannot invite.
            guard let known = state.people.first(where: { $0.emails.contains { $0.lowercased() == email.lowercased() } }) else {
                return Self.error(404, "Person not found.")
            }
            person = known
        }
        guard !state.memberships.contains(where: { $0.roomId == roomID && $0.personId == person.id }) else {
            return Self.error(409, "A person may not be added to a room more than once.")
        }
        var moderator = false
        if let value = body["isModerator"], value != .null {
            guard case .bool(let flag) = value else {
                return Self.error(400, "isModerator must be a boolean, got \(value.kindDescription).")
            }
            moderator = flag
        }
        let membership = Self.membership(room: roomID, person: person, moderator: moderator)
        state.memberships.append(membership)
        return Reply(status: 200, json: membership.json)
    }

    private static func membership(room: String, person: Person, moderator: Bool) -> Membership {
        Membership(
            id: makeID("MEMBERSHIP"), roomId: room, personId: person.id, personEmail: person.emails.first ?? "",
            personDisplayName: person.displayName, personOrgId: person.orgId, isModerator: moderator,
            created: timestamp()
        )
    }

    private static func knownPerson(_ state: inout State, email: String, orgID: String) -> Person {
        let name = String(email.split(separator: "@").first ?? Substring(email))
        let person = Person(
            id: makeID("PEOPLE"), emails: [email], displayName: name, nickName: name, firstName: name, lastName: "",
            orgId: orgID, created: timestamp(), status: "active", type: "person"
        )
        state.people.append(person)
        return person
    }
}
