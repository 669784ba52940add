/// The small statistics the bench summary, the comparison and the report need.
public enum BenchStatistics {
    /// The median: the middle value, or the mean of the two middle values.
    ///
    /// - Parameter values: the sample (any order).
    /// - Returns: the median, or `nil` for an empty sample.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The nearest-rank percentile of a sorted sample (the smallest value with at least `p` percent of the sample at
    /// or below it).
    ///
    /// - Parameters:
    ///   - sorted: the sample, ascending.
    ///   - p: the percentile, 0…100.
    /// - Returns: the value, or `nil` for an empty sample.
    public static func percentile(sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank - 1, 0), sorted.count - 1)]
    }

    /// The relative spread of repeats: (max − min) / median; 0 for fewer than two values or a zero median.
    ///
    /// - Parameter values: the repeats.
    /// - Returns: the spread as a fraction of the median.
    public static func relativeSpread(_ values: [Double]) -> Double {
        guard values.count >= 2, let median = median(values), median != 0,
            let low = values.min(), let high = values.max()
        else { return 0 }
        return (high - low) / abs(median)
    }
}
