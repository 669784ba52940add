import LoadGenCore

/// A command-line mistake: printed hey-style (message, blank line, usage) on stderr with exit code 1.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    /// The message, in hey's wording where hey has one.
    public let description: String

    /// A usage error.
    /// - Parameter description: the message.
    public init(_ description: String) {
        self.description = description
    }

    /// hey's usage text, adapted to loadgen (same options, plus loadgen's own and the subcommands).
    public static var usage: String { runUsage + "\n\n" + subcommandUsage }

    /// The subcommands of ``LoadGenCommand``, one line each (taken from its configuration, so the list cannot drift).
    public static var subcommandUsage: String {
        let names = LoadGenCommand.namedSubcommands
        let width = (names.map(\.name.count).max() ?? 0) + 2
        var text = "Subcommands (loadgen <subcommand> --help for their options):\n"
        for (name, abstract) in names {
            text += "  " + name + String(repeating: " ", count: width - name.count) + abstract + "\n"
        }
        return text + "  loadgen compare [OLD.csv NEW.csv | FILE.csv] [--base COMMIT] [--head COMMIT]\n"
            + "  loadgen report ingest | html | summary | commit"
    }

    /// hey's usage text, adapted to loadgen (same options, plus loadgen's own).
    public static let runUsage = """
        Usage: loadgen [options...] <url>
               loadgen <subcommand> ...

        Options:
          -n  Number of requests to run. Default is 200.
          -c  Number of workers to run concurrently. Total number of requests cannot
              be smaller than the concurrency level. Default is 50.
          -q  Rate limit, in queries per second (QPS) per worker. Default is no rate limit.
          -z  Duration of application to send requests. When duration is reached,
              application stops and exits. If duration is specified, n is ignored.
              Examples: -z 10s -z 3m.
          -o  Output type. If none provided, a summary is printed.
              "csv" is the only supported alternative. Dumps the response
              metrics in comma-separated values format.

          -m  HTTP method, one of GET, POST, PUT, DELETE, HEAD, OPTIONS.
          -H  Custom HTTP header. You can specify as many as needed by repeating the flag.
              For example, -H "Accept: text/html" -H "Content-Type: application/xml" .
          -t  Timeout for each request in seconds. Default is 20, use 0 for infinite.
          -A  HTTP Accept header.
          -d  HTTP request body.
          -D  HTTP request body from file. For example, /home/user/file.txt or ./file.txt.
          -T  Content-type, defaults to "text/html".
          -U  User-Agent, defaults to "loadgen/\(LoadGenVersion.string)".
          -a  Basic authentication, username:password.
          -x  HTTP Proxy address as host:port.
          -h2 Enable HTTP/2 (not supported yet).

          -host\tHTTP Host header.

          -disable-compression  Disable compression.
          -disable-keepalive    Disable keep-alive, prevents re-use of TCP
                                connections between different HTTP requests.
          -disable-redirects    Disable following of HTTP redirects
                                (loadgen never follows redirects).
          -cpus                 Number of used cpu cores (event loops).
                                (default for current machine is \(LoadOptions.defaultCores) cores)

        loadgen options:
          --rate R              Total constant request rate (wrk2-style schedule); reports
                                latency corrected for coordinated omission and uncorrected.
          --json                Print one JSON object instead of the summary.
          --metrics-url URL     Scrape the target's Prometheus metrics before and after
                                (clstr_heap_allocated_bytes, clstr_heap_resident_bytes,
                                process_resident_memory_bytes).
          --verify-counter URL  GET the counter ({"counter_id":…,"value":N}) before and after;
                                PASS when it grew by 2xx responses × amount ("amount" in -d, else 1).
          --verify URL          The same check on any JSON integer field of URL, named by
          --field NAME          (e.g. --verify http://…/accounts/a --field balance).
          --fail-on-errors      Exit 1 when there were transport errors or non-2xx responses.
          --results FILE.csv    Append one summary row to FILE.csv (header when new).
          --scenario NAME       Scenario name for --results (default: the URL path).
          --no-progress         No live progress line (it is shown only on a terminal anyway).
          --engine epoll|nio    Connection engine: raw epoll (default on Linux) or SwiftNIO.
          --help                This text.

        Placeholders in the URL (path and query) and in the -d/-D body: {n} = request sequence number (0, 1, …),
        {rand:N} = uniform random integer in 0..<N (each occurrence draws its own), e.g.
        http://127.0.0.1:8181/counter/k{rand:10000}/increment or
        -d '{"from":"a{rand:1000}","to":"a{rand:1000}","amount":1}' (Content-Length follows each body).
        """
}
