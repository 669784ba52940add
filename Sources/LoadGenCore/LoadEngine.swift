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
        // Only with a progress line: publishing computes a p99 over each loop's histogram every 500 ms.
        let counters: [ProgressCounters?] = (0..<loops).map { _ in progress == nil ? nil : ProgressCounters() }
        let slots = (0..<loops).map { options.concurrency / loops + ($0 < options.concurrency % loops ? 1 : 0) }
        let seeds = (0..<loops).map { UInt64($0 + 1) &* 0x2545_F491_4F6C_DD1D ^ startNs }

        var ticker: Task<Void, Never>?
        if let progress {
            let total = options.duration == nil ? options.requests : nil
            let duration = options.duration
            ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(500))
                    if Task.isCancelled { break }
                    var snapshot = ProgressSnapshot(
                        elapsedSeconds: Double(monotonicNanoseconds() - startNs) / 1e9, total: total,
                        durationSeconds: duration)
                    for case let counter? in counters {
                        let values = counter.snapshot
                        snapshot.requests += values.requests
                        snapshot.errors += values.errors
                        snapshot.p99Micros = max(snapshot.p99Micros, values.p99Micros)
                    }
                    progress(snapshot)
                }
            }
        }
        let results: [RunStatistics]
        switch options.engine {
        case .epoll:
            #if os(Linux)
                results = await LoadEngine.runEpoll(
                    control: control, config: config, slots: slots, seeds: seeds, counters: counters)
            #else
                results = try await LoadEngine.runNIO(
                    control: control, config: config, slots: slots, seeds: seeds, counters: counters)
            #endif
        case .nio:
            results = try await LoadEngine.runNIO(
                control: control, config: config, slots: slots, seeds: seeds, counters: counters)
        }
        let endNs = monotonicNanoseconds()
        ticker?.cancel()
        var merged = RunStatistics(corrected: options.rate != nil)
        for result in results { merged.merge(result) }
        return LoadReport(
            options: options, statistics: merged, totalSeconds: Double(endNs - startNs) / 1e9,
            // Relaxed: a stand-alone flag read after every loop has finished.
            interrupted: interruptRequested.load(ordering: .relaxed))
    }

    /// The SwiftNIO engine: one event loop per entry of `slots`, a ``LoopWorker`` on each.
    static func runNIO(
        control: RunControl, config: EngineConfiguration, slots: [Int], seeds: [UInt64], counters: [ProgressCounters?]
    ) async throws -> [RunStatistics] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: slots.count)
        defer { group.shutdownGracefully { _ in } }
        var futures: [EventLoopFuture<RunStatistics>] = []
        for (index, loop) in Array(group.makeIterator()).enumerated() {
            let count = slots[index]
            let seed = seeds[index]
            let counter = counters[index]
            futures.append(
                loop.flatSubmit {
                    LoopWorker(
                        eventLoop: loop, control: control, config: config, slots: count, seed: seed, progress: counter
                    ).start()
                })
        }
        return try await EventLoopFuture.whenAllSucceed(futures, on: group.next()).get()
    }

    /// Makes Ctrl-C stop the run gracefully (the report is still printed); a second Ctrl-C exits at once.
    public static func installInterruptHandler() {
        signal(SIGINT) { _ in
            // Relaxed: a stand-alone flag (lock-free, so async-signal-safe); loops poll it.
            if interruptRequested.exchange(true, ordering: .relaxed) {
                _exit(130)
            }
        }
    }
}
