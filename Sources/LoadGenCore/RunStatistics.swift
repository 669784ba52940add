import Histogram

/// HdrHistogram with 64-bit counts, recording microseconds (1 µs … 1 h, 3 significant digits ≈ 193 KB).
public typealias LatencyHistogram = Histogram<UInt64>

extension Histogram where Count == UInt64 {
    /// The histogram every event loop records latencies into.
    /// - Returns: an empty µs histogram covering 1 µs … 1 hour at 3 significant digits.
    public static func makeLatencyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Records a latency given in nanoseconds (clamped to the trackable range).
    /// - Parameter nanoseconds: the latency.
    @inline(__always)
    public mutating func recordNanoseconds(_ nanoseconds: UInt64) {
        let micros = Swift.max(1, Swift.min(nanoseconds / 1000, 3_600_000_000))
        record(micros)
    }
}

/// Sum, minimum and maximum of one timing (hey's "Details" lines), in nanoseconds.
public struct TimingStat: Sendable, Equatable {
    /// Sum of all values.
    public var sum: UInt64 = 0
    /// Smallest value (UInt64.max when empty).
    public var min: UInt64 = .max
    /// Largest value.
    public var max: UInt64 = 0

    /// An empty statistic.
    public init() {}

    /// Adds one value.
    /// - Parameter value: nanoseconds.
    @inline(__always)
    public mutating func add(_ value: UInt64) {
        sum &+= value
        if value < min { min = value }
        if value > max { max = value }
    }

    /// Combines two statistics.
    /// - Parameter other: the statistic to add.
    public mutating func merge(_ other: TimingStat) {
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }
}

/// Everything one event loop measured; merged into one at the end of the run. No per-request records.
public struct RunStatistics: Sendable {
    /// Latency from the actual send to the last byte of the response (hey's "response time"), µs.
    public var latency: LatencyHistogram = .makeLatencyHistogram()
    /// Latency from the planned send time (only with `--rate`), µs.
    public var corrected: LatencyHistogram?
    /// Responses received (any status).
    public var responses: Int = 0
    /// Requests that failed at the transport level (no response).
    public var errors: Int = 0
    /// Error message → count.
    public var errorCounts: [String: Int] = [:]
    /// Count per status code 0…599 (index = status).
    public var statusCounts: [Int] = Array(repeating: 0, count: 600)
    /// Responses with a status outside 0…599.
    public var otherStatusCounts: [Int: Int] = [:]
    /// Response body bytes received.
    public var bodyBytes: Int = 0
    /// Exact response-time statistics (for Total/Average/Fastest/Slowest).
    public var total = TimingStat()
    /// Connection set-up time (0 for a reused connection).
    public var dial = TimingStat()
    /// Request sent → first response byte.
    public var wait = TimingStat()
    /// First response byte → last response byte.
    public var read = TimingStat()
    /// Requests that were more than 1 ms overdue when a connection became free to send them (only with `--rate`).
    public var behindSchedule: Int = 0

    /// Empty statistics.
    /// - Parameter corrected: whether to keep a corrected (planned-start) histogram.
    public init(corrected: Bool) {
        if corrected { self.corrected = .makeLatencyHistogram() }
    }

    /// Records one complete response.
    @inline(__always)
    mutating func recordResponse(
        status: Int, bodyBytes: Int, totalNs: UInt64, dialNs: UInt64, waitNs: UInt64, readNs: UInt64
    ) {
        responses += 1
        if status >= 0 && status < 600 {
            statusCounts[status] += 1
        } else {
            otherStatusCounts[status, default: 0] += 1
        }
        self.bodyBytes += bodyBytes
        latency.recordNanoseconds(totalNs)
        total.add(totalNs)
        dial.add(dialNs)
        wait.add(waitNs)
        read.add(readNs)
    }

    /// Records a transport-level failure.
    /// - Parameter message: the text shown in the error distribution.
    mutating func recordError(_ message: String) {
        errors += 1
        errorCounts[message, default: 0] += 1
    }

    /// Adds another loop's statistics to these.
    /// - Parameter other: the statistics to merge.
    public mutating func merge(_ other: RunStatistics) {
        latency.add(other.latency)
        if let otherCorrected = other.corrected {
            if corrected == nil { corrected = .makeLatencyHistogram() }
            corrected!.add(otherCorrected)
        }
        responses += other.responses
        errors += other.errors
        for (message, count) in other.errorCounts { errorCounts[message, default: 0] += count }
        for i in 0..<600 { statusCounts[i] += other.statusCounts[i] }
        for (status, count) in other.otherStatusCounts { otherStatusCounts[status, default: 0] += count }
        bodyBytes += other.bodyBytes
        total.merge(other.total)
        dial.merge(other.dial)
        wait.merge(other.wait)
        read.merge(other.read)
        behindSchedule += other.behindSchedule
    }

    /// Status code → count for every status seen, ascending.
    public var statusDistribution: [(status: Int, count: Int)] {
        var out: [(Int, Int)] = []
        for (status, count) in statusCounts.enumerated() where count > 0 { out.append((status, count)) }
        for (status, count) in otherStatusCounts { out.append((status, count)) }
        return out.sorted { $0.0 < $1.0 }.map { (status: $0.0, count: $0.1) }
    }

    /// Number of responses with a 2xx status.
    public var successes2xx: Int {
        statusCounts[200..<300].reduce(0, +)
    }

    /// Number of responses with a status outside 2xx.
    public var non2xx: Int {
        responses - successes2xx
    }

    /// All requests that completed (responses and errors).
    public var requests: Int {
        responses + errors
    }
}
