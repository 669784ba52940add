import NIOCore
import Synchronization

/// Set by the SIGINT handler: stop sending new requests and print the report (as hey does on Ctrl-C).
let interruptRequested = Atomic<Bool>(false)

/// The part of a run every event loop shares: which request comes next, when to stop, the schedule.
///
/// Handing out a request is one relaxed atomic increment; nothing else is shared while the run is going.
final class RunControl: Sendable {
    /// Requests to send in total (`Int.max` with `-z`).
    let limit: Int
    /// Monotonic start of the run, ns.
    let startNs: UInt64
    /// Monotonic time after which no new request starts (`-z`), or `UInt64.max`.
    let deadlineNs: UInt64
    /// Nanoseconds between planned sends under `--rate` (0 = no schedule).
    let intervalNs: Double
    /// Nanoseconds between sends on one connection under `-q` (0 = no limit).
    let perWorkerPeriodNs: UInt64
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// Control for one run.
    init(limit: Int, startNs: UInt64, durationSeconds: Double?, rate: Double?, perWorkerQPS: Double) {
        self.limit = limit
        self.startNs = startNs
        if let durationSeconds {
            deadlineNs = startNs + UInt64(durationSeconds * 1e9)
        } else {
            deadlineNs = .max
        }
        if let rate, rate > 0 {
            intervalNs = 1e9 / rate
        } else {
            intervalNs = 0
        }
        // hey's ticker period is 1e6/q µs truncated to whole microseconds.
        perWorkerPeriodNs = perWorkerQPS > 0 ? UInt64(1e6 / perWorkerQPS) * 1000 : 0
    }

    /// Stops handing out requests (the ones in flight finish).
    func stop() {
        // Relaxed: a stand-alone flag that publishes no other memory; loops poll it on every claim.
        stopped.store(true, ordering: .relaxed)
    }

    /// Whether the run has been told to stop.
    var isStopped: Bool {
        // Relaxed: stand-alone flags (see `stop()`).
        return stopped.load(ordering: .relaxed) || interruptRequested.load(ordering: .relaxed)
    }

    /// The next request's sequence number, or `nil` when the run is over.
    /// - Parameter now: the current monotonic time, ns.
    /// - Returns: a number unique to this run.
    @inline(__always)
    func claim(now: UInt64) -> Int? {
        if isStopped || now >= deadlineNs { return nil }
        // Relaxed: the counter only hands out unique numbers; no other memory is published through it.
        let k = next.wrappingAdd(1, ordering: .relaxed).oldValue
        if k >= limit { return nil }
        if intervalNs > 0 && deadlineNs != .max && plannedNs(k) >= deadlineNs { return nil }
        return k
    }

    /// When request `k` should be sent under `--rate`.
    /// - Parameter k: the sequence number.
    /// - Returns: monotonic ns.
    @inline(__always)
    func plannedNs(_ k: Int) -> UInt64 {
        startNs + UInt64(Double(k) * intervalNs)
    }
}
