import NIOCore

/// Everything one load run needs to know, in hey's terms plus loadgen's additions.
///
/// The command line (``LoadGenCommand``) fills this in; tests build it directly. Defaults are hey's.
public struct LoadOptions: Sendable {
    /// Output mode selected with `-o`.
    public enum OutputFormat: String, Sendable, Equatable {
        /// hey's summary (the default).
        case summary
        /// hey's per-request CSV (`-o csv`).
        case csv
    }

    /// `-n`: total number of requests (exactly this many are sent; hey drops the remainder of `n / c`).
    public var requests: Int = 200
    /// `-c`: number of concurrent connections ("workers" in hey).
    public var concurrency: Int = 50
    /// `-q`: rate limit per connection in requests per second, 0 = none (hey's per-worker QPS).
    public var perWorkerQPS: Double = 0
    /// `-z`: run for this many seconds instead of `-n` requests; `nil` = use `-n`.
    public var duration: Double?
    /// `-o`: summary or per-request CSV.
    public var output: OutputFormat = .summary
    /// `-m`: HTTP method, upper-cased.
    public var method: String = "GET"
    /// `-H`: extra headers in order; a later header with the same name replaces an earlier one.
    public var headers: [(name: String, value: String)] = []
    /// `-t`: whole-request timeout in seconds, 0 = none.
    public var timeout: Double = 20
    /// `-A`: the Accept header, if any.
    public var accept: String?
    /// `-d` / `-D`: the request body (already read from the file for `-D`).
    public var body: [UInt8] = []
    /// `-T`: Content-Type, always sent (as hey does).
    public var contentType: String = "text/html"
    /// `-a`: basic authentication as `user:pass` (hey parses it and then never sends it; we send it).
    public var basicAuth: (user: String, password: String)?
    /// `-x`: HTTP proxy (`host:port` or `http://host:port`).
    public var proxy: (host: String, port: Int)?
    /// `-host`: Host header override.
    public var hostOverride: String?
    /// `-U`: User-Agent (hey master); default `loadgen/<version>`.
    public var userAgent: String?
    /// `-disable-compression`: do not send `Accept-Encoding: gzip`.
    public var disableCompression: Bool = false
    /// `-disable-keepalive`: one TCP connection per request.
    public var disableKeepAlive: Bool = false
    /// `-disable-redirects`: accepted for compatibility; loadgen never follows redirects (see README).
    public var disableRedirects: Bool = false
    /// `-cpus`: number of event loops (default: number of cores).
    public var cpus: Int = LoadOptions.defaultCores
    /// The default for `-cpus`: the number of cores of this machine.
    public static let defaultCores = System.coreCount
    /// The target URL (may hold `{n}` and `{rand:N}` placeholders in its path and query).
    public var url: TargetURL

    /// Which engine drives the connections.
    public enum Engine: String, Sendable, Equatable, CaseIterable {
        /// Raw epoll with non-blocking sockets (Linux; the default there).
        case epoll
        /// SwiftNIO event loops with one raw `ByteBuffer` handler per connection.
        case nio
    }

    /// `--engine`: epoll (default on Linux) or nio.
    public var engine: Engine = {
        #if os(Linux)
            .epoll
        #else
            .nio
        #endif
    }()
    /// `--rate`: total constant request rate (wrk2-style schedule, corrected and uncorrected latencies).
    public var rate: Double?
    /// `--json`: print one JSON object instead of the summary.
    public var json: Bool = false
    /// Live progress line (only used when stdout is a terminal).
    public var progress: Bool = false
    /// `--metrics-url`: Prometheus endpoint scraped before and after the run.
    public var metricsURL: TargetURL?
    /// `--verify-counter`: counter read before and after the run.
    public var verifyCounterURL: TargetURL?
    /// `--field`: the JSON integer field read at the verification URL (`--verify URL --field NAME`; the counter's
    /// `value` by default).
    public var verifyField = "value"
    /// `--fail-on-errors`: exit non-zero when there were transport errors or non-2xx responses.
    public var failOnErrors: Bool = false
    /// `--results`: CSV file a summary row is appended to.
    public var resultsPath: String?
    /// `--scenario`: scenario name written into the results row.
    public var scenario: String?

    /// Options with hey's defaults for `url`.
    /// - Parameter url: the target.
    public init(url: TargetURL) {
        self.url = url
    }

    /// The amount each request adds to a counter: `"amount": N` in the body, else 1.
    public var counterAmount: Int {
        CounterVerification.amount(inBody: body)
    }
}
