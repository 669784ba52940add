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
    /// How long a graceful shutdown waits for in-flight requests before closing connections anyway.
    public var shutdownGracePeriod: Duration = .seconds(5)

    public init(host: String = "127.0.0.1", port: Int = 8181) {
        self.host = host
        self.port = port
    }
}
