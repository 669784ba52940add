#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One load run as the command line does it, without the command line: the checks before (counter value, target
/// memory), the run, the checks after, and the output (hey's summary, `--json`, or `-o csv`).
public enum LoadRunner {
    /// Runs a load test.
    ///
    /// - Parameters:
    ///   - options: the run's settings.
    ///   - output: where the summary, JSON or CSV goes (default: standard output).
    /// - Returns: the report; its ``LoadReport/exitCode`` is what the process should exit with.
    /// - Throws: when a check endpoint or the target's address cannot be reached before the run.
    public static func execute(
        _ options: LoadOptions, output: OutputSink = .standardOutput()
    ) async throws
        -> LoadReport
    {
        var verifyBefore: Int?
        var memoryBefore: MemoryComparison.Sample?
        if let url = options.verifyCounterURL {
            verifyBefore = try await CounterVerification.read(url, field: options.verifyField)
        }
        if let url = options.metricsURL { memoryBefore = try await MemoryComparison.scrape(url) }
        LoadEngine.installInterruptHandler()
        let terminal = isatty(1) == 1
        let showProgress = options.progress && terminal && !options.json && options.output == .summary
        let engine = LoadEngine(options: options, csvSink: options.output == .csv ? output : nil)
        if options.output == .csv {
            output.write("response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset")
        }
        let printProgress: @Sendable (ProgressSnapshot) -> Void = { snapshot in
            writeAll(fileDescriptor: 1, Array(("\r\u{1B}[K" + snapshot.line).utf8))
        }
        var report = try await engine.run(progress: showProgress ? printProgress : nil)
        if showProgress { writeAll(fileDescriptor: 1, Array("\r\u{1B}[K".utf8)) }
        if let url = options.metricsURL, let memoryBefore {
            let after = try await MemoryComparison.scrape(url)
            report.memory = MemoryComparison(url: url.description, before: memoryBefore, after: after)
        }
        if let url = options.verifyCounterURL, let verifyBefore {
            let after = try await CounterVerification.read(url, field: options.verifyField)
            report.verification = CounterVerification(
                url: url.description, before: verifyBefore, after: after, successes: report.statistics.successes2xx,
                amount: options.counterAmount)
        }
        switch (options.json, options.output) {
        case (true, _):
            output.write(JSONReport.render(report))
        case (false, .csv):
            output.write("\n")
            if let verification = report.verification {
                writeAll(fileDescriptor: 2, Array(verification.summary.utf8))
            }
        case (false, .summary):
            output.write(SummaryPrinter.render(report))
        }
        return report
    }
}
