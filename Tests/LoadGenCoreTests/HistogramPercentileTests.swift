import Testing

@testable import LoadGenCore

/// Percentiles from the per-loop histograms (merged) against exact percentiles of the same synthetic data.
@Suite struct HistogramPercentileTests {
    /// Exact nearest-rank percentile of sorted values.
    private func exact(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[min(rank, sorted.count) - 1]
    }

    @Test func mergedPercentilesMatchExactWithinPrecision() {
        var random = SplitMix64(seed: 42)
        var values: [UInt64] = []
        var loops = [RunStatistics(corrected: false), RunStatistics(corrected: false)]
        for i in 0..<200_000 {
            // Log-normal-ish: mostly 50 µs … 5 ms, a tail to ~2 s.
            let base = 50 + random.next(below: 5_000)
            let value = i % 1000 == 0 ? base * 400 : (i % 50 == 0 ? base * 20 : base)
            values.append(value)
            loops[i % 2].latency.record(value)
        }
        var merged = loops[0]
        merged.merge(loops[1])
        values.sort()
        #expect(merged.latency.totalCount == 200_000)
        for p in [10.0, 25, 50, 75, 90, 95, 99, 99.9, 99.99] {
            let got = Double(merged.latency.valueAtPercentile(p))
            let want = Double(exact(values, p))
            // 3 significant digits: the bucket's top is at most 0.1 % (plus one unit) above the exact value.
            #expect(got >= want && got <= want * 1.001 + 1, "p\(p): \(got) vs \(want)")
        }
        #expect(
            merged.latency.maxRecorded >= values.last!
                && Double(merged.latency.maxRecorded) <= Double(values.last!) * 1.001)
    }

    @Test func nanosecondsAreRecordedAsMicrosecondsAndClamped() {
        var stats = RunStatistics(corrected: false)
        stats.latency.recordNanoseconds(10)  // below 1 µs → 1 µs
        stats.latency.recordNanoseconds(1_500_000)
        stats.latency.recordNanoseconds(UInt64.max / 2)  // beyond 1 h → clamped, not dropped
        #expect(stats.latency.totalCount == 3)
        #expect(stats.latency.min == 1)
        #expect(stats.latency.valueAtPercentile(50) == 1_500)
    }
}
