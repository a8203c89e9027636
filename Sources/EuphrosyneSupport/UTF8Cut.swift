extension String {
    /// At most `limit` bytes of UTF-8, cut on a character boundary and ending in `marker` when cut (the marker
    /// counts towards the limit). For peers that limit messages in bytes (Webex: 7439 bytes of markdown).
    public func cut(toUTF8Bytes limit: Int, marker: String) -> String {
        guard utf8.count > limit else { return self }
        var result = ""
        var used = marker.utf8.count
        for character in self {
            let size = String(character).utf8.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result + marker
    }
}
