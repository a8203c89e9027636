/// Parses Go `time.ParseDuration` strings ("90s", "5m", "1h30m", "1.5h").
///
/// Recipe timeouts were written for the original Go system, so the catalog accepts the same
/// syntax. Used by `RecipeCatalog` for the `timeout` field.
enum GoDuration {
    /// The duration in seconds, or nil when the text is not a Go duration.
    static func seconds(_ text: String) -> Double? {
        var scalars = Substring(text).unicodeScalars[...]
        var sign = 1.0
        if scalars.first == "-" || scalars.first == "+" {
            sign = scalars.first == "-" ? -1 : 1
            scalars = scalars.dropFirst()
        }
        // Go accepts a bare "0" without a unit, and nothing else unit-less.
        if String(scalars) == "0" { return 0 }
        guard !scalars.isEmpty else { return nil }

        var total = 0.0
        while !scalars.isEmpty {
            let number = scalars.prefix { ("0"..."9").contains($0) || $0 == "." }
            guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1,
                  number.contains(where: { $0 != "." }),
                  let value = Double(String(number))
            else { return nil }
            scalars = scalars.dropFirst(number.count)
            let unit = scalars.prefix { !(("0"..."9").contains($0) || $0 == ".") }
            scalars = scalars.dropFirst(unit.count)
            guard let multiplier = multiplier(String(unit)) else { return nil }
            total += value * multiplier
        }
        return sign * total
    }

    private static func multiplier(_ unit: String) -> Double? {
        switch unit {
        case "ns": return 1e-9
        case "us", "µs", "μs": return 1e-6
        case "ms": return 1e-3
        case "s": return 1
        case "m": return 60
        case "h": return 3600
        default: return nil
        }
    }
}
