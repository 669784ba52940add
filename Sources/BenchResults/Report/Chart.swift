/// A chart of named series over categories, drawn as lines with points or as grouped bars, rendered to SVG with
/// ``SVGWriter``. Missing values (`nil`) leave gaps.
public struct Chart: Sendable {
    /// How the series are drawn.
    public enum Style: Sendable {
        /// Lines with points, one per series.
        case lines
        /// Bars grouped by category, one per series.
        case bars
    }

    /// One named series: a value (or a gap) per category.
    public struct Series: Sendable, Equatable {
        /// The legend name.
        public var name: String
        /// One value per category.
        public var values: [Double?]

        /// A series.
        ///
        /// - Parameters:
        ///   - name: the legend name.
        ///   - values: one value per category.
        public init(name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    /// The colours given to series in order (Okabe–Ito, colour-blind friendly; its yellow replaced by olive,
    /// which reads on white).
    public static let palette = [
        "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999933", "#000000",
    ]

    /// The title above the chart.
    public var title: String
    /// The y axis label (with its unit).
    public var yLabel: String
    /// The category labels along x.
    public var categories: [String]
    /// The series.
    public var series: [Series]
    /// Lines or bars.
    public var style: Style
    /// Whether y is logarithmic.
    public var logarithmic: Bool
    /// A dashed reference line (for example 1.0 for ratios), optional.
    public var reference: Double?
    /// Whether a line continues across missing values (across commits: a commit without that run) instead of
    /// breaking there.
    public var connectGaps = false
    /// Canvas width.
    public var width: Double = 760
    /// Canvas height.
    public var height: Double = 330

    /// A chart.
    ///
    /// - Parameters:
    ///   - title: the title.
    ///   - yLabel: the y axis label.
    ///   - categories: the x categories.
    ///   - series: the series, each with one value per category.
    ///   - style: lines or bars.
    ///   - logarithmic: whether y is logarithmic.
    ///   - reference: a dashed horizontal reference value, optional.
    public init(
        title: String, yLabel: String, categories: [String], series: [Series], style: Style = .lines,
        logarithmic: Bool = false, reference: Double? = nil
    ) {
        self.title = title
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
        self.style = style
        self.logarithmic = logarithmic
        self.reference = reference
    }

    /// Renders the chart.
    ///
    /// - Returns: an `<svg>` element.
    public func svg() -> String {
        let rotateLabels = categories.count > 6 || categories.contains { $0.count > 12 }
        // Rotated category labels need room below the axis; the canvas grows by what they need.
        let labelRoom = rotateLabels ? min(Double(categories.map(\.count).max() ?? 0) * 3.2, 90) : 0
        let canvasHeight = height + labelRoom
        var svg = SVGWriter(width: width, height: canvasHeight)
        let left = 90.0
        let right = 190.0
        let top = 34.0
        let bottom = 64.0 + labelRoom
        let plotWidth = width - left - right
        let plotHeight = canvasHeight - top - bottom
        svg.text(title, x: left, y: 20, size: 14, fill: "#111", bold: true)

        var values = series.flatMap { $0.values.compactMap { $0 } }
        if let reference { values.append(reference) }
        let scale = ChartScale(values: values, logarithmic: logarithmic)
        func y(_ value: Double) -> Double { top + plotHeight * (1 - scale.fraction(value)) }

        for tick in scale.ticks {
            svg.line(x1: left, y1: y(tick), x2: left + plotWidth, y2: y(tick), stroke: "#e3e3e3")
            svg.text(ChartScale.label(tick), x: left - 6, y: y(tick) + 4, anchor: .end, size: 10, fill: "#555")
        }
        svg.line(x1: left, y1: top, x2: left, y2: top + plotHeight, stroke: "#888")
        svg.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight, stroke: "#888")
        svg.text(yLabel, x: 30, y: top + plotHeight / 2, anchor: .middle, size: 11, fill: "#333", rotate: -90)
        if let reference {
            svg.line(
                x1: left, y1: y(reference), x2: left + plotWidth, y2: y(reference), stroke: "#999", width: 1,
                dashed: true)
        }

        let slot = categories.isEmpty ? plotWidth : plotWidth / Double(categories.count)
        func centre(_ index: Int) -> Double { left + slot * (Double(index) + 0.5) }
        for (index, label) in categories.enumerated() {
            if rotateLabels {
                svg.text(label, x: centre(index), y: top + plotHeight + 14, anchor: .end, size: 10, rotate: -30)
            } else {
                svg.text(label, x: centre(index), y: top + plotHeight + 16, anchor: .middle, size: 10)
            }
        }

        switch style {
        case .lines:
            for (number, line) in series.enumerated() {
                let colour = Self.palette[number % Self.palette.count]
                var run: [(x: Double, y: Double)] = []
                for (index, value) in line.values.enumerated() {
                    if let value, index < categories.count {
                        run.append((centre(index), y(value)))
                        svg.circle(
                            x: centre(index), y: y(value), radius: 3.5, fill: colour,
                            title: "\(line.name) · \(categories[index]): \(ChartScale.label(value))")
                    } else if !connectGaps {
                        svg.polyline(run, stroke: colour)
                        run = []
                    }
                }
                svg.polyline(run, stroke: colour)
            }
        case .bars:
            let groupWidth = slot * 0.8
            let barWidth = series.isEmpty ? groupWidth : groupWidth / Double(series.count)
            for (number, bars) in series.enumerated() {
                let colour = Self.palette[number % Self.palette.count]
                for (index, value) in bars.values.enumerated() where index < categories.count {
                    guard let value else { continue }
                    let x = centre(index) - groupWidth / 2 + barWidth * Double(number)
                    let base = logarithmic ? top + plotHeight : y(0)
                    let topEdge = y(value)
                    svg.rect(
                        x: x + 1, y: min(topEdge, base), width: max(barWidth - 2, 1), height: abs(base - topEdge),
                        fill: colour, title: "\(bars.name) · \(categories[index]): \(ChartScale.label(value))")
                }
            }
        }

        for (number, entry) in series.enumerated() {
            let colour = Self.palette[number % Self.palette.count]
            let rowY = top + 8 + Double(number) * 18
            svg.rect(x: left + plotWidth + 16, y: rowY - 9, width: 12, height: 12, fill: colour)
            svg.text(entry.name, x: left + plotWidth + 34, y: rowY + 1, size: 11)
        }
        if series.allSatisfy({ $0.values.allSatisfy { $0 == nil } }) {
            svg.text(
                "no data", x: left + plotWidth / 2, y: top + plotHeight / 2, anchor: .middle, size: 13, fill: "#999")
        }
        return svg.document
    }
}
