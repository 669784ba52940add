import Foundation

/// Number formatting as Go's `fmt` prints it (used off the hot path only).
public enum Formatting {
    /// `%<width>.<decimals>f` like Go: NaN prints as ` NaN` (padded to the width).
    /// - Parameters:
    ///   - value: the number.
    ///   - decimals: digits after the point.
    ///   - width: minimum width (right-aligned).
    /// - Returns: the text.
    public static func fixed(_ value: Double, _ decimals: Int, width: Int = 4) -> String {
        if value.isNaN {
            return String(repeating: " ", count: max(0, width - 3)) + "NaN"
        }
        if value.isInfinite {
            let text = value > 0 ? "+Inf" : "-Inf"
            return String(repeating: " ", count: max(0, width - text.count)) + text
        }
        return String(format: "%\(width).\(decimals)f", value)
    }

    /// Seconds as hey prints them: `%4.4f`.
    /// - Parameter seconds: the value.
    /// - Returns: the text.
    public static func seconds(_ seconds: Double) -> String {
        fixed(seconds, 4)
    }
}
