#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser
import BenchResults
import Foundation
import LoadGenCore

/// `loadgen [hey flags] URL` — a load run, the root command's default subcommand: the flags in hey's spelling
/// (single-dash long flags, hey's defaults and messages).
public struct RunCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a load test (the default: `loadgen [options...] <url>` needs no subcommand name).",
        shouldDisplay: false,
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

    /// The local counter-service that a run without a URL drives (`make run`'s default HTTP port).
    public static let defaultBase = "http://127.0.0.1:8181"

    /// What a run without a URL does, unlike hey (which prints its usage): increment the local counter-service's
    /// `bench` counter with the counter check on.
    ///
    /// - Parameter base: the service's base URL (default ``defaultBase``).
    /// - Returns: the target URL and the counter to verify.
    public static func defaultTarget(base: String = defaultBase) -> (url: String, verifyCounter: String) {
        (base + "/counter/bench/increment", base + "/counter/bench")
    }

    /// The first line of a run without a URL.
    ///
    /// - Parameter base: the service's base URL.
    /// - Returns: the line (no line break).
    public static func defaultTargetLine(base: String = defaultBase) -> String {
        let target = defaultTarget(base: base)
        return "loadgen: no URL given: POST \(target.url) with --verify-counter \(target.verifyCounter) "
            + "(the local counter-service; give a URL to drive anything else)"
    }

    /// Whether something accepts TCP connections at a URL's host and port; when not, the one-line error of a run
    /// without a URL, which says how to start the service.
    ///
    /// - Parameter base: the service's base URL.
    /// - Returns: `nil` when something listens, else the error line (no line break).
    public static func defaultTargetProblem(base: String = defaultBase) -> String? {
        guard let target = try? TargetURL(base) else { return "loadgen: bad default URL \(base)" }
        if Self.accepts(host: target.host, port: target.port) { return nil }
        return "loadgen: nothing listens on \(target.host):\(target.port): start counter-service with `make run` "
            + "(or give loadgen a URL)"
    }

    /// Tries one TCP connection (numeric IPv4 host only, as the default is).
    private static func accepts(host: String, port: Int) -> Bool {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    /// Turns the parsed flags into run options, with hey's checks and messages. Without a URL, the run drives the
    /// local counter-service (``defaultTarget(base:)``): `POST`, with the counter check on.
    ///
    /// - Parameter defaultBase: the base URL of the service a run without a URL drives.
    /// - Returns: the options.
    /// - Throws: ``UsageError`` (printed with the usage text, exit code 1).
    public func makeOptions(defaultBase: String = RunCommand.defaultBase) throws(UsageError) -> LoadOptions {
        let defaulted = url == nil
        let fallback = Self.defaultTarget(base: defaultBase)
        let url = self.url ?? fallback.url
        if deprecatedH != nil { throw UsageError("Flag '-h' is deprecated, please use '-H' instead.") }
        var duration: Double?
        if let z {
            guard let seconds = RunCommand.parseGoDuration(z) else {
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
        options.method = defaulted ? "POST" : m.uppercased()
        for header in headerValues {
            guard let parsed = RunCommand.parseHeader(header) else {
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
            guard let parsed = RunCommand.parseProxy(proxy) else {
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
        options.metricsURL = try metricsURL.map(RunCommand.checkedURL)
        if verify != nil && verifyCounter != nil {
            throw UsageError("--verify and --verify-counter cannot be combined.")
        }
        if field != nil && verify == nil { throw UsageError("--field needs --verify URL.") }
        options.verifyCounterURL = try (verify ?? verifyCounter ?? (defaulted ? fallback.verifyCounter : nil)).map(
            RunCommand.checkedURL)
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
        if url == nil {
            print(Self.defaultTargetLine())
            if let problem = Self.defaultTargetProblem() {
                writeAll(fileDescriptor: 2, Array((problem + "\n").utf8))
                throw ExitCode(1)
            }
        }
        let options = try makeOptions()
        let report = try await LoadRunner.execute(options)
        if let path = options.resultsPath {
            let row = BenchRow(report: report, scenario: options.scenario ?? options.url.path, host: .current())
            try BenchHistory.append([row], to: path)
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
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
