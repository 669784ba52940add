/// The outcome of one run: merged statistics plus what was checked around it.
public struct LoadReport: Sendable {
    /// The run's settings.
    public var options: LoadOptions
    /// Merged statistics of all event loops.
    public var statistics: RunStatistics
    /// Wall time from the first connect to the last response, seconds.
    public var totalSeconds: Double
    /// Whether Ctrl-C ended the run early.
    public var interrupted: Bool
    /// Target memory before/after (`--metrics-url`).
    public var memory: MemoryComparison?
    /// Counter check (`--verify-counter`).
    public var verification: CounterVerification?

    /// A report.
    public init(
        options: LoadOptions, statistics: RunStatistics, totalSeconds: Double, interrupted: Bool = false,
        memory: MemoryComparison? = nil, verification: CounterVerification? = nil
    ) {
        self.options = options
        self.statistics = statistics
        self.totalSeconds = totalSeconds
        self.interrupted = interrupted
        self.memory = memory
        self.verification = verification
    }

    /// Completed requests (responses and transport errors) per second of wall time, as hey computes it.
    public var requestsPerSecond: Double {
        totalSeconds > 0 ? Double(statistics.requests) / totalSeconds : 0
    }

    /// Percentiles p50, p90, p99, p99.9, p99.99 and max of a histogram, in seconds.
    public struct Percentiles: Sendable, Equatable {
        /// Median.
        public var p50: Double
        /// 90th percentile.
        public var p90: Double
        /// 99th percentile.
        public var p99: Double
        /// 99.9th percentile.
        public var p999: Double
        /// 99.99th percentile.
        public var p9999: Double
        /// Largest recorded value.
        public var max: Double

        /// The percentiles of `histogram` (µs), in seconds; zeros when empty.
        /// - Parameter histogram: the latencies.
        public init(_ histogram: LatencyHistogram) {
            guard histogram.totalCount > 0 else {
                self.init(p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, max: 0)
                return
            }
            func at(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1e6 }
            self.init(
                p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), p9999: at(99.99),
                max: Double(histogram.maxRecorded) / 1e6)
        }

        /// Explicit values.
        public init(p50: Double, p90: Double, p99: Double, p999: Double, p9999: Double, max: Double) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p999 = p999
            self.p9999 = p9999
            self.max = max
        }
    }

    /// Percentiles measured from the actual send.
    public var uncorrected: Percentiles { Percentiles(statistics.latency) }

    /// Percentiles measured from the planned send (only with `--rate`).
    public var corrected: Percentiles? { statistics.corrected.map(Percentiles.init) }

    /// The process exit code the run asks for: 1 when verification failed or `--fail-on-errors` tripped.
    public var exitCode: Int32 {
        if let verification, !verification.passed { return 1 }
        if options.failOnErrors && (statistics.errors > 0 || statistics.non2xx > 0) { return 1 }
        return 0
    }
}
