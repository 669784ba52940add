#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Runs one load test: keep-alive connections spread over one event loop per core, one histogram per loop.
public struct LoadEngine: Sendable {
    /// Why a run could not start.
    public struct StartError: Error, CustomStringConvertible {
        /// Human-readable reason.
        public let description: String
    }

    /// The run's settings.
    public let options: LoadOptions
    /// Where `-o csv` rows go (stdout by default).
    public let csvSink: OutputSink?

    /// An engine for `options`.
    /// - Parameters:
    ///   - options: the run's settings.
    ///   - csvSink: where `-o csv` rows go; default: standard output when `options.output == .csv`.
    public init(options: LoadOptions, csvSink: OutputSink? = nil) {
        self.options = options
        if options.output == .csv {
            self.csvSink = csvSink ?? .standardOutput()
        } else {
            self.csvSink = nil
        }
    }

    /// Runs the load test to the end (all `-n` requests, the `-z` duration, or Ctrl-C).
    /// - Parameter progress: called about twice a second with the progress figures (terminal output only).
    /// - Returns: the merged statistics and the wall time.
    /// - Throws: ``StartError`` when the target cannot be resolved.
    public func run(progress: (@Sendable (ProgressSnapshot) -> Void)? = nil) async throws -> LoadReport {
        let loops = max(1, min(options.cpus, options.concurrency))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        defer { group.shutdownGracefully { _ in } }

        let connectHost = options.proxy?.host ?? options.url.host
        let connectPort = options.proxy?.port ?? options.url.port
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(connectHost, port: connectPort)
        } catch {
            throw StartError(description: "dial tcp: lookup \(connectHost): no such host")
        }
        let config = EngineConfiguration(
            template: RequestTemplate(options: options),
            address: address,
            dialTarget: "\(connectHost):\(connectPort)",
            isHead: options.method == "HEAD",
            idempotent: ["GET", "HEAD", "OPTIONS", "TRACE"].contains(options.method),
            timeoutNs: UInt64(max(0, options.timeout) * 1e9),
            disableKeepAlive: options.disableKeepAlive,
            errorPrefix: EngineConfiguration.errorPrefix(method: options.method, url: options.url.description),
            corrected: options.rate != nil,
            csvSink: csvSink)
        let startNs = monotonicNanoseconds()
        let control = RunControl(
            limit: options.duration != nil ? Int.max : options.requests,
            startNs: startNs,
            durationSeconds: options.duration,
            rate: options.rate,
            perWorkerQPS: options.perWorkerQPS)

        var counters: [ProgressCounters] = []
        var futures: [EventLoopFuture<RunStatistics>] = []
        let loopList = Array(group.makeIterator())
        for (index, loop) in loopList.enumerated() {
            let slots = options.concurrency / loops + (index < options.concurrency % loops ? 1 : 0)
            let counter = ProgressCounters()
            counters.append(counter)
            let seed = UInt64(index + 1) &* 0x2545_F491_4F6C_DD1D ^ startNs
            futures.append(
                loop.flatSubmit {
                    let worker = LoopWorker(
                        eventLoop: loop, control: control, config: config, slots: slots, seed: seed,
                        progress: counter)
                    return worker.start()
                })
        }
        var ticker: RepeatedTask?
        if let progress {
            let total = options.duration == nil ? options.requests : nil
            let all = counters
            let duration = options.duration
            ticker = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) {
                _ in
                var snapshot = ProgressSnapshot(
                    elapsedSeconds: Double(monotonicNanoseconds() - startNs) / 1e9, total: total,
                    durationSeconds: duration)
                for counter in all {
                    let values = counter.snapshot
                    snapshot.requests += values.requests
                    snapshot.errors += values.errors
                    snapshot.p99Micros = max(snapshot.p99Micros, values.p99Micros)
                }
                progress(snapshot)
            }
        }
        let results = try await EventLoopFuture.whenAllSucceed(futures, on: group.next()).get()
        let endNs = monotonicNanoseconds()
        ticker?.cancel()
        var merged = RunStatistics(corrected: options.rate != nil)
        for result in results { merged.merge(result) }
        return LoadReport(
            options: options, statistics: merged, totalSeconds: Double(endNs - startNs) / 1e9,
            interrupted: interruptRequested.load(ordering: .relaxed))
    }

    /// Makes Ctrl-C stop the run gracefully (the report is still printed); a second Ctrl-C exits at once.
    public static func installInterruptHandler() {
        signal(SIGINT) { _ in
            if interruptRequested.exchange(true, ordering: .relaxed) {
                _exit(130)
            }
        }
    }
}

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
            done = "\(requests) (\(Formatting.fixed(elapsedSeconds, 1, width: 1))s/\(Formatting.fixed(durationSeconds, 1, width: 1))s)"
        } else {
            done = "\(requests)"
        }
        return "  \(done) requests, \(Int(rate)) req/s, \(errors) errors, p99 \(Formatting.fixed(Double(p99Micros) / 1e6, 4)) secs"
    }
}
