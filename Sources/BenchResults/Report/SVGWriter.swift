import Foundation

/// A minimal SVG writer: appends escaped elements to a string and wraps them in an `<svg>` document. Enough for the
/// report's charts, without a plotting dependency; the output is deterministic, so tests can check it.
public struct SVGWriter: Sendable {
    /// The elements written so far.
    public private(set) var body = ""
    /// The canvas width in pixels.
    public let width: Double
    /// The canvas height in pixels.
    public let height: Double

    /// A writer for a canvas.
    ///
    /// - Parameters:
    ///   - width: the width in pixels.
    ///   - height: the height in pixels.
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// Escapes text for XML content and attribute values.
    ///
    /// - Parameter text: raw text.
    /// - Returns: text with `&`, `<`, `>`, `"` and `'` escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for char in text {
            switch char {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(char)
            }
        }
        return out
    }

    /// Formats a coordinate with at most two decimals and no trailing zeros.
    ///
    /// - Parameter value: the number.
    /// - Returns: the text.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        var text = String(format: "%.2f", locale: Locale(identifier: "en_US_POSIX"), value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// Appends a rectangle.
    ///
    /// - Parameters:
    ///   - x: left.
    ///   - y: top.
    ///   - width: width.
    ///   - height: height.
    ///   - fill: fill colour.
    ///   - title: tooltip text, optional.
    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, title: String? = nil) {
        body += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" "
        body += "height=\"\(Self.number(height))\" fill=\"\(Self.escape(fill))\""
        if let title {
            body += "><title>\(Self.escape(title))</title></rect>\n"
        } else {
            body += "/>\n"
        }
    }

    /// Appends a straight line.
    ///
    /// - Parameters:
    ///   - x1: start x.
    ///   - y1: start y.
    ///   - x2: end x.
    ///   - y2: end y.
    ///   - stroke: colour.
    ///   - width: stroke width.
    ///   - dashed: whether to dash it.
    public mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dashed: Bool = false
    ) {
        body += "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" "
        body += "y2=\"\(Self.number(y2))\" stroke=\"\(Self.escape(stroke))\" stroke-width=\"\(Self.number(width))\""
        body += dashed ? " stroke-dasharray=\"4 3\"/>\n" : "/>\n"
    }

    /// Appends an open polyline through points.
    ///
    /// - Parameters:
    ///   - points: the points in order.
    ///   - stroke: colour.
    ///   - width: stroke width.
    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 2) {
        guard !points.isEmpty else { return }
        let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
        body += "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(Self.escape(stroke))\" "
        body += "stroke-width=\"\(Self.number(width))\"/>\n"
    }

    /// Appends a circle.
    ///
    /// - Parameters:
    ///   - x: centre x.
    ///   - y: centre y.
    ///   - radius: radius.
    ///   - fill: colour.
    ///   - title: tooltip text, optional.
    public mutating func circle(x: Double, y: Double, radius: Double, fill: String, title: String? = nil) {
        body += "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(radius))\" "
        body += "fill=\"\(Self.escape(fill))\""
        if let title {
            body += "><title>\(Self.escape(title))</title></circle>\n"
        } else {
            body += "/>\n"
        }
    }

    /// Where a text's anchor point sits in the text.
    public enum Anchor: String, Sendable {
        /// The text starts at the point.
        case start
        /// The text is centred on the point.
        case middle
        /// The text ends at the point.
        case end
    }

    /// Appends a text.
    ///
    /// - Parameters:
    ///   - text: the text (escaped here).
    ///   - x: anchor x.
    ///   - y: baseline y.
    ///   - anchor: horizontal alignment.
    ///   - size: font size in pixels.
    ///   - fill: colour.
    ///   - rotate: rotation in degrees around the anchor point.
    ///   - bold: whether it is bold.
    public mutating func text(
        _ text: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = 11, fill: String = "#333",
        rotate: Double = 0, bold: Bool = false
    ) {
        body += "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" text-anchor=\"\(anchor.rawValue)\" "
        body += "font-size=\"\(Self.number(size))\" fill=\"\(Self.escape(fill))\""
        if rotate != 0 {
            body += " transform=\"rotate(\(Self.number(rotate)) \(Self.number(x)) \(Self.number(y)))\""
        }
        if bold { body += " font-weight=\"bold\"" }
        body += ">\(Self.escape(text))</text>\n"
    }

    /// The complete `<svg>` element.
    public var document: String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" "
            + "viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">\n"
            + "<rect x=\"0\" y=\"0\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"#fff\"/>\n"
            + body + "</svg>"
    }
}
