import Foundation

/// The geometry of the dashboard's charts, computed here so the SVG templates only place what they are given (and
/// Mustache escapes every label). Bars are horizontal: a label column, the bars, the figure after them.
enum DashboardCharts {
    static let labelWidth = 220
    static let barsWidth = 360
    static let rowHeight = 22
    static let maxRows = 20

    /// One bar per row, scaled to the largest `whole`, with its `part` drawn over it from the left.
    static func partOfWhole(_ rows: [(label: String, whole: Int, part: Int)]) -> [String: Any]? {
        let rows = Array(rows.prefix(maxRows))
        guard let largest = rows.map(\.whole).max(), largest > 0 else { return nil }
        let bars: [[String: Any]] = rows.enumerated().map { index, row in
            let y = index * rowHeight + 4
            let whole = scaled(row.whole, of: largest)
            return [
                "label": shortened(row.label), "x": labelWidth, "y": y, "textY": y + 12,
                "whole": whole, "part": scaled(row.part, of: largest),
                "valueX": labelWidth + whole + 6, "value": "\(row.part) of \(row.whole)",
            ]
        }
        return ["width": labelWidth + barsWidth + 90, "height": rows.count * rowHeight + 8, "bars": bars]
    }

    /// One bar per row made of coloured segments, scaled to the largest total.
    static func stacked(_ rows: [(label: String, segments: [(count: Int, fill: String)])]) -> [String: Any]? {
        let rows = Array(rows.prefix(maxRows))
        let totals = rows.map { $0.segments.reduce(0) { $0 + $1.count } }
        guard let largest = totals.max(), largest > 0 else { return nil }
        let bars: [[String: Any]] = rows.enumerated().map { index, row in
            let y = index * rowHeight + 4
            var x = labelWidth
            var segments: [[String: Any]] = []
            for segment in row.segments where segment.count > 0 {
                let width = scaled(segment.count, of: largest)
                segments.append(["x": x, "y": y, "width": width, "fill": segment.fill])
                x += width
            }
            return [
                "label": shortened(row.label), "textY": y + 12, "segments": segments, "valueX": x + 6,
                "value": "\(totals[index])",
            ]
        }
        return ["width": labelWidth + barsWidth + 60, "height": rows.count * rowHeight + 8, "bars": bars]
    }

    /// A count as a width in the bars' area; at least 1 pixel for a count above zero.
    static func scaled(_ count: Int, of largest: Int) -> Int {
        guard count > 0 else { return 0 }
        return max(1, Int((Double(count) / Double(largest) * Double(barsWidth)).rounded()))
    }

    /// Labels longer than the label column allows are cut with an ellipsis (the tables hold them whole).
    static func shortened(_ label: String) -> String {
        label.count > 28 ? String(label.prefix(27)) + "…" : label
    }
}
