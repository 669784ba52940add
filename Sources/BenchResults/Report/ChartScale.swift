import Foundation

/// A y scale of a chart: maps values to pixels and chooses readable ticks, linear from zero or logarithmic.
public struct ChartScale: Sendable, Equatable {
    /// The lowest value shown.
    public let low: Double
    /// The highest value shown.
    public let high: Double
    /// Whether the scale is logarithmic (base 10).
    public let logarithmic: Bool
    /// The tick values, ascending.
    public let ticks: [Double]

    /// A scale covering values.
    ///
    /// - Parameters:
    ///   - values: the values to show (non-finite ones ignored; for a log scale, non-positive ones too).
    ///   - logarithmic: whether to use a log scale.
    public init(values: [Double], logarithmic: Bool = false) {
        let finite = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
        self.logarithmic = logarithmic
        if logarithmic {
            let minimum = finite.min() ?? 1
            let maximum = finite.max() ?? 10
            let lowExponent = floor(log10(minimum))
            var highExponent = ceil(log10(maximum))
            if highExponent <= lowExponent { highExponent = lowExponent + 1 }
            low = pow(10, lowExponent)
            high = pow(10, highExponent)
            var ticks: [Double] = []
            var exponent = lowExponent
            while exponent <= highExponent {
                for multiple in [1.0, 2.0, 5.0] {
                    let tick = multiple * pow(10, exponent)
                    if tick >= low * 0.999 && tick <= high * 1.001 { ticks.append(tick) }
                }
                exponent += 1
            }
            self.ticks = ticks
        } else {
            let maximum = max(finite.max() ?? 1, 0)
            let step = Self.niceStep(maximum > 0 ? maximum / 5 : 0.2)
            low = 0
            high = max(step * (maximum / step).rounded(.up), step)
            ticks = stride(from: 0, through: high + step / 2, by: step).map { $0 }
        }
    }

    /// The nearest 1, 2, 2.5 or 5 × 10ⁿ at or above a raw step.
    ///
    /// - Parameter raw: the raw step (> 0).
    /// - Returns: the nice step.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for multiple in [1.0, 2.0, 2.5, 5.0, 10.0] where multiple * magnitude >= raw * 0.999_999 {
            return multiple * magnitude
        }
        return 10 * magnitude
    }

    /// The position of a value between 0 (at `low`) and 1 (at `high`), clamped.
    ///
    /// - Parameter value: the value.
    /// - Returns: the fraction.
    public func fraction(_ value: Double) -> Double {
        let result: Double
        if logarithmic {
            let safe = max(value, low)
            result = (log10(safe) - log10(low)) / (log10(high) - log10(low))
        } else {
            result = (value - low) / (high - low)
        }
        return min(max(result, 0), 1)
    }

    /// A tick label: compact, with k/M suffixes for large values.
    ///
    /// - Parameter value: the tick value.
    /// - Returns: the label.
    public static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1_000_000 { return SVGWriter.number(value / 1_000_000) + "M" }
        if magnitude >= 1_000 { return SVGWriter.number(value / 1_000) + "k" }
        if magnitude >= 1 || magnitude == 0 { return SVGWriter.number(value) }
        return String(format: "%g", locale: Locale(identifier: "en_US_POSIX"), value)
    }
}
