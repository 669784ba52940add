/// What the progress line shows.
public struct ProgressSnapshot: Sendable {
    /// Seconds since the start.
    public var elapsedSeconds: Double
    /// `-n` (nil with `-z`).
    public var total: Int?
    /// `-z` in seconds, if any.
    public var durationSeconds: Double?
    /// Requests completed so far.
    public var requests = 0
    /// Transport errors so far.
    public var errors = 0
    /// The largest per-loop p99 so far, µs.
    public var p99Micros: UInt64 = 0

    /// The progress line text (without the carriage return).
    public var line: String {
        let rate = elapsedSeconds > 0 ? Double(requests) / elapsedSeconds : 0
        let done: String
        if let total {
            done = "\(requests)/\(total)"
        } else if let durationSeconds {
            done =
                "\(requests) (\(Formatting.fixed(elapsedSeconds, 1, width: 1))s/\(Formatting.fixed(durationSeconds, 1, width: 1))s)"
        } else {
            done = "\(requests)"
        }
        return
            "  \(done) requests, \(Int(rate)) req/s, \(errors) errors, p99 \(Formatting.fixed(Double(p99Micros) / 1e6, 4)) secs"
    }
}
