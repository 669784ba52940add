#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser
import Foundation

/// `loadgen [hey flags] URL` — the command line, in hey's spelling (single-dash flags, hey's defaults).
///
/// It lives in the library (not the executable) so that the flag table can be tested; `Sources/LoadGen` only
/// calls ``runFromCommandLine()``.
public struct LoadGenCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "A hey-compatible HTTP load generator with exact tails, correctness checks and a results history.",
        version: LoadGenVersion.string,
        helpNames: [])

    @Option(name: .customShort("n")) var n: Int = 200
    @Option(name: .customShort("c")) var c: Int = 50
    @Option(name: .customShort("q")) var q: Double = 0
    @Option(name: .customShort("z")) var z: String?
    @Option(name: .customShort("o")) var o: String?
    @Option(name: .customShort("m")) var m: String = "GET"
    @Option(name: .customShort("H")) var headerValues: [String] = []
    @Option(name: .customShort("t")) var t: Double = 20
    @Option(name: .customShort("A")) var accept: String?
    @Option(name: .customShort("d")) var body: String?
    @Option(name: .customShort("D")) var bodyFile: String?
    @Option(name: .customShort("T")) var contentType: String = "text/html"
    @Option(name: .customShort("U")) var userAgent: String?
    @Option(name: .customShort("a")) var auth: String?
    @Option(name: .customShort("x")) var proxy: String?
    @Flag(name: .customLong("h2", withSingleDash: true)) var h2 = false
    @Option(name: .customShort("h")) var deprecatedH: String?
    @Option(name: .customLong("host", withSingleDash: true)) var host: String?
    @Flag(name: .customLong("disable-compression", withSingleDash: true)) var disableCompression = false
    @Flag(name: .customLong("disable-keepalive", withSingleDash: true)) var disableKeepAlive = false
    @Flag(name: .customLong("disable-redirects", withSingleDash: true)) var disableRedirects = false
    @Option(name: .customLong("cpus", withSingleDash: true)) var cpus: Int = LoadOptions.defaultCores

    @Option(name: .customLong("rate")) var rate: Double?
    @Flag(name: .customLong("json")) var json = false
    @Option(name: .customLong("metrics-url")) var metricsURL: String?
    @Option(name: .customLong("verify-counter")) var verifyCounter: String?
    @Option(name: .customLong("verify")) var verify: String?
    @Option(name: .customLong("field")) var field: String?
    @Flag(name: .customLong("fail-on-errors")) var failOnErrors = false
    @Option(name: .customLong("results")) var results: String?
    @Option(name: .customLong("scenario")) var scenario: String?
    @Flag(name: .customLong("no-progress")) var noProgress = false
    @Option(name: .customLong("engine")) var engine: String?
    @Flag(name: .customLong("help")) var help = false

    @Argument var url: String?
    /// Further positional arguments are ignored, as hey ignores them.
    @Argument var ignored: [String] = []

    public init() {}

    /// Turns the parsed flags into run options, with hey's checks and messages.
    /// - Returns: the options.
    /// - Throws: ``UsageError`` (printed with the usage text, exit code 1).
    public func makeOptions() throws(UsageError) -> LoadOptions {
        guard let url else { throw UsageError("") }
        if deprecatedH != nil { throw UsageError("Flag '-h' is deprecated, please use '-H' instead.") }
        var duration: Double?
        if let z {
            guard let seconds = LoadGenCommand.parseGoDuration(z) else {
                throw UsageError("invalid value \"\(z)\" for flag -z: parse error")
            }
            if seconds > 0 { duration = seconds }
        }
        if duration != nil {
            if c <= 0 { throw UsageError("-c cannot be smaller than 1.") }
        } else {
            if n <= 0 || c <= 0 { throw UsageError("-n and -c cannot be smaller than 1.") }
            if n < c { throw UsageError("-n cannot be less than -c.") }
        }
        if cpus < 1 { throw UsageError("-cpus cannot be smaller than 1.") }
        let target: TargetURL
        do {
            target = try TargetURL(url)
        } catch {
            throw UsageError(error.description)
        }
        var options = LoadOptions(url: target)
        options.requests = n
        options.concurrency = c
        options.perWorkerQPS = max(0, q)
        options.duration = duration
        switch o {
        case nil, "": options.output = .summary
        case "csv": options.output = .csv
        case let other?:
            throw UsageError(
                "Invalid output type \"\(other)\": only \"csv\" is supported (hey's Go templates are not).")
        }
        options.method = m.uppercased()
        for header in headerValues {
            guard let parsed = LoadGenCommand.parseHeader(header) else {
                throw UsageError("could not parse the provided input; input = \(header)")
            }
            options.headers.append(parsed)
        }
        options.timeout = max(0, t)
        options.accept = accept
        if let bodyFile {
            guard let data = FileManager.default.contents(atPath: bodyFile) else {
                throw UsageError("open \(bodyFile): no such file or directory")
            }
            options.body = Array(data)
        } else if let body {
            options.body = Array(body.utf8)
        }
        options.contentType = contentType
        options.userAgent = userAgent
        if let auth {
            guard let colon = auth.firstIndex(of: ":"), colon != auth.startIndex,
                auth.distance(from: colon, to: auth.endIndex) > 1
            else {
                throw UsageError("could not parse the provided input; input = \(auth)")
            }
            options.basicAuth = (String(auth[..<colon]), String(auth[auth.index(after: colon)...]))
        }
        if let proxy {
            guard let parsed = LoadGenCommand.parseProxy(proxy) else {
                throw UsageError("parse \"\(proxy)\": invalid proxy address (use host:port or http://host:port)")
            }
            options.proxy = parsed
        }
        if h2 { throw UsageError("HTTP/2 (-h2) is not supported yet.") }
        options.hostOverride = host
        options.disableCompression = disableCompression
        options.disableKeepAlive = disableKeepAlive
        options.disableRedirects = disableRedirects
        options.cpus = cpus
        if let rate {
            guard rate > 0 else { throw UsageError("--rate must be greater than 0.") }
            if q > 0 { throw UsageError("use either -q (per worker) or --rate (total), not both.") }
            options.rate = rate
        }
        options.json = json
        options.progress = !noProgress
        if let engine {
            guard let kind = LoadOptions.Engine(rawValue: engine) else {
                throw UsageError("--engine must be epoll or nio.")
            }
            options.engine = kind
        }
        options.metricsURL = try metricsURL.map(LoadGenCommand.checkedURL)
        if verify != nil && verifyCounter != nil {
            throw UsageError("--verify and --verify-counter cannot be combined.")
        }
        if field != nil && verify == nil { throw UsageError("--field needs --verify URL.") }
        options.verifyCounterURL = try (verify ?? verifyCounter).map(LoadGenCommand.checkedURL)
        options.verifyField = field ?? "value"
        if json && options.output == .csv { throw UsageError("--json and -o csv cannot be combined.") }
        options.failOnErrors = failOnErrors
        options.resultsPath = results
        options.scenario = scenario
        return options
    }

    public mutating func run() async throws {
        if help {
            print(UsageError.usage)
            return
        }
        let options = try makeOptions()
        let code = try await LoadGenCommand.execute(options)
        if code != 0 { throw ExitCode(code) }
    }

    /// Runs a load test as the command line does: checks before, the run, checks after, output, results row.
    /// - Parameters:
    ///   - options: the run's settings.
    ///   - output: where the summary/JSON goes (default: standard output).
    /// - Returns: the exit code (0, or 1 on a failed check).
    /// - Throws: when a check endpoint or the target's address cannot be reached before the run.
    public static func execute(_ options: LoadOptions, output: OutputSink = .standardOutput()) async throws -> Int32 {
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
        if let path = options.resultsPath {
            let row = ResultsRow(report: report, scenario: options.scenario ?? options.url.path, host: .current())
            try ResultsRow.append(row, to: path)
        }
        return report.exitCode
    }

    /// Parses arguments: `compare …` goes to ``CompareCommand``, everything else is a load run.
    ///
    /// The dispatch is explicit because a root command with a positional URL would take `compare` for the URL.
    /// - Parameter arguments: the arguments without the program name.
    /// - Returns: the parsed command.
    /// - Throws: the parser's error.
    public static func parseCommandLine(_ arguments: [String]) throws -> any ParsableCommand {
        if arguments.first == "compare" {
            return try CompareCommand.parseAsRoot(Array(arguments.dropFirst()))
        }
        return try parseAsRoot(arguments)
    }

    /// Parses the command line and runs it; usage errors are printed hey-style with exit code 1.
    public static func runFromCommandLine() async {
        // `loadgen report …` (the bench tooling) is dispatched before parsing: the root's positional URL would
        // otherwise take the word "report". It parses and reports its own errors.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == ReportCommand.configuration.commandName {
            ReportCommand.main(Array(arguments.dropFirst()))
            return
        }
        do {
            var command = try parseCommandLine(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as UsageError {
            usageAndExit(error.description)
        } catch let error as ExitCode {
            terminate(error.rawValue)
        } catch let error as CleanExit {
            if arguments.first == "compare" { CompareCommand.exit(withError: error) }
            Self.exit(withError: error)
        } catch {
            if arguments.first == "compare" { CompareCommand.exit(withError: error) }
            if Self.exitCode(for: error) == .success { Self.exit(withError: error) }
            if error is LoadEngine.StartError || error is HTTPFetch.FetchError || error is CocoaError {
                writeAll(fileDescriptor: 2, Array("loadgen: \(error)\n".utf8))
                terminate(1)
            }
            usageAndExit(Self.message(for: error))
        }
    }

    /// hey's `usageAndExit`: the message, a blank line, the usage, exit 1.
    private static func usageAndExit(_ message: String) -> Never {
        var text = ""
        if !message.isEmpty { text += message + "\n\n" }
        text += UsageError.usage + "\n\n"
        writeAll(fileDescriptor: 2, Array(text.utf8))
        terminate(1)
    }

    private static func terminate(_ code: Int32) -> Never {
        #if canImport(Glibc)
            Glibc.exit(code)
        #else
            Darwin.exit(code)
        #endif
    }

    private static func checkedURL(_ text: String) throws(UsageError) -> TargetURL {
        do {
            return try TargetURL(text)
        } catch {
            throw UsageError(error.description)
        }
    }

    /// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `10s`; units ns, us, µs, ms, s, m, h).
    /// - Parameter text: the duration.
    /// - Returns: seconds, or nil when the text is not a duration.
    public static func parseGoDuration(_ text: String) -> Double? {
        if text == "0" { return 0 }
        var rest = Substring(text)
        var negative = false
        if rest.hasPrefix("-") || rest.hasPrefix("+") {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var total = 0.0
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? rest.endIndex
            guard numberEnd != rest.startIndex, let value = Double(rest[..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return negative ? -total : total
    }

    /// Parses `-H "Name: value"` as hey does (`^([\w-]+):\s*(.+)`).
    /// - Parameter text: the flag value.
    /// - Returns: name and value, or nil.
    public static func parseHeader(_ text: String) -> (name: String, value: String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon]
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            return nil
        }
        let value = text[text.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
        guard !value.isEmpty else { return nil }
        return (String(name), String(value))
    }

    /// Parses `-x` as `host:port` or `http://host:port` (hey only accepts the latter).
    /// - Parameter text: the flag value.
    /// - Returns: host and port, or nil.
    public static func parseProxy(_ text: String) -> (host: String, port: Int)? {
        var rest = Substring(text)
        if let scheme = rest.range(of: "://") {
            guard rest[..<scheme.lowerBound].lowercased() == "http" else { return nil }
            rest = rest[scheme.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65535).contains(port), colon != rest.startIndex
        else { return nil }
        return (String(rest[..<colon]), port)
    }
}
