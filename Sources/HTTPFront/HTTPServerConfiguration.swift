#if canImport(Glibc)
    import Glibc
#endif

/// Where and how an ``HTTPServer`` listens.
public struct HTTPServerConfiguration: Sendable {
    /// The address to bind; loopback by default.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (read it from ``HTTPServer/port`` after start).
    public var port: Int = 8181
    /// The listen backlog.
    public var backlog: Int32 = 1_024
    /// Per-connection limits.
    public var limits = HTTPLimits()
    /// The most connections the server keeps open at once. Beyond it a new connection is accepted, answered
    /// `503 Service Unavailable` with a JSON error body and `Connection: close`, and closed at once (counted in
    /// `clstr_http_connections_refused_total`); the answer is written once without waiting, so a client that
    /// already sent a request may see a reset instead. The default is 10,000 or the process's descriptor limit
    /// (`RLIMIT_NOFILE`) less a reserve for files, listeners and the cluster's sockets (a quarter of it, at most
    /// 256), whichever is smaller: beyond the descriptor limit `accept` would fail anyway, without an answer.
    public var maxConnections: Int = HTTPServerConfiguration.defaultMaxConnections
    /// How long a graceful shutdown waits for in-flight requests before closing connections anyway.
    public var shutdownGracePeriod: Duration = .seconds(5)

    public init(host: String = "127.0.0.1", port: Int = 8181) {
        self.host = host
        self.port = port
    }

    /// 10,000, or the soft descriptor limit less its reserve (a quarter, at most 256) when that is smaller.
    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return 10_000
        }
        let soft = Int(clamping: limit.rlim_cur)
        return max(1, min(10_000, soft - min(256, soft / 4)))
    }
}

/// The answer to a connection over ``HTTPServerConfiguration/maxConnections`` (both engines), written once.
enum HTTPConnectionRefusal {
    static let body = #"{"error":"too many connections"}"#
    static let bytes: [UInt8] = Array(
        ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)"
            + "\r\nConnection: close\r\n\r\n" + body).utf8)
}
