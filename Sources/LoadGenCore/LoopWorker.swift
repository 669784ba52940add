import NIOCore
import NIOPosix

/// The monotonic clock the engine uses, ns.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

/// One event loop's share of the run: its connections ("slots"), its statistics and its histogram.
///
/// Confined to its event loop: every method runs there, so nothing in it needs a lock.
final class LoopWorker {
    let eventLoop: any EventLoop
    let control: RunControl
    let config: EngineConfiguration
    /// Where this loop publishes progress (nil = no progress line).
    let progress: ProgressCounters?
    /// What this loop measured.
    ///
    /// `@exclusivity(unchecked)`: the worker is confined to its event loop and no access to `stats` overlaps
    /// another one (every mutation is a single call that returns before the next), so the dynamic exclusivity
    /// check — a measurable cost per request — is skipped.
    @exclusivity(unchecked) var stats: RunStatistics
    /// The live handler of each slot (nil once the slot has ended).
    private var handlers: [ClientConnectionHandler?]
    /// Earliest next send per slot under `-q` (loop-confined, accesses never overlap: see `stats`).
    @exclusivity(unchecked) var nextAllowedNs: [UInt64]
    private var aliveSlots: Int
    private let promise: EventLoopPromise<RunStatistics>
    private var sweepTask: RepeatedTask?
    private var csv = CSVRows()
    private var ticks = 0
    private var seed: UInt64

    /// A worker for `slots` connections on `eventLoop`.
    init(
        eventLoop: any EventLoop, control: RunControl, config: EngineConfiguration, slots: Int, seed: UInt64,
        progress: ProgressCounters?
    ) {
        self.eventLoop = eventLoop
        self.control = control
        self.config = config
        self.progress = progress
        self.stats = RunStatistics(corrected: config.corrected)
        self.handlers = Array(repeating: nil, count: slots)
        self.nextAllowedNs = Array(repeating: 0, count: slots)
        self.aliveSlots = slots
        self.promise = eventLoop.makePromise(of: RunStatistics.self)
        self.seed = seed
    }

    /// Opens every slot's first connection and starts the timeout/progress sweep.
    /// - Returns: the statistics, once every slot has ended.
    func start() -> EventLoopFuture<RunStatistics> {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweepTask = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            bound.value.sweep()
        }
        if handlers.isEmpty {
            finish()
        } else {
            for slot in handlers.indices { startSlot(slot, carry: nil) }
        }
        return promise.futureResult
    }

    /// Starts (or restarts) a slot on a new connection.
    /// - Parameters:
    ///   - slot: the slot.
    ///   - carry: a request already claimed but not sent, if any.
    func startSlot(_ slot: Int, carry: Int?) {
        let now = monotonicNanoseconds()
        guard let sequence = carry ?? control.claim(now: now) else {
            endSlot(slot)
            return
        }
        seed &+= 0x9E37_79B9_7F4A_7C15
        let handler = ClientConnectionHandler(
            worker: self, slot: slot, sequence: sequence, connectStartNs: now, seed: seed)
        handlers[slot] = handler
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
        if config.timeoutNs > 0 {
            bootstrap = bootstrap.connectTimeout(.nanoseconds(Int64(min(config.timeoutNs, UInt64(Int64.max)))))
        }
        bootstrap.connect(to: config.address).assumeIsolated().whenFailure { error in
            handler.connectFailed(error)
        }
    }

    /// A slot has no more work.
    /// - Parameter slot: the slot.
    func endSlot(_ slot: Int) {
        handlers[slot] = nil
        aliveSlots -= 1
        if aliveSlots == 0 { finish() }
    }

    private func finish() {
        sweepTask?.cancel()
        sweepTask = nil
        flushCSV()
        publishProgress(withPercentile: true)
        promise.succeed(stats)
    }

    /// Every 100 ms: time out slow requests and publish progress.
    private func sweep() {
        let now = monotonicNanoseconds()
        if config.timeoutNs > 0 {
            for handler in handlers {
                handler?.checkTimeout(now: now, timeoutNs: config.timeoutNs)
            }
        }
        // Relaxed: a stand-alone flag; a late sighting only delays the stop by one sweep.
        if interruptRequested.load(ordering: .relaxed) {
            for handler in handlers { handler?.interrupt() }
        }
        ticks += 1
        publishProgress(withPercentile: ticks % 5 == 0)
    }

    private func publishProgress(withPercentile: Bool) {
        guard let progress else { return }
        progress.update(
            requests: stats.requests, errors: stats.errors,
            p99Micros: withPercentile && stats.latency.totalCount > 0 ? stats.latency.valueAtPercentile(99) : nil)
    }

    /// Appends one `-o csv` row.
    func appendCSV(totalNs: UInt64, dialNs: UInt64, waitNs: UInt64, readNs: UInt64, status: Int, offsetNs: UInt64) {
        csv.append(totalNs: totalNs, dialNs: dialNs, waitNs: waitNs, readNs: readNs, status: status, offsetNs: offsetNs)
        if csv.isFull { flushCSV() }
    }

    private func flushCSV() {
        guard let sink = config.csvSink else { return }
        csv.flush(to: sink)
    }
}
