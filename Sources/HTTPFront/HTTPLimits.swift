/// The bounds every connection is held to.
public struct HTTPLimits: Sendable {
    /// The largest head (request line, headers, the empty line) accepted; larger → 431.
    public var maxHeadBytes: Int = 8_192
    /// The longest request target accepted; longer → 414.
    public var maxTargetBytes: Int = 4_096
    /// The largest body accepted, with `Content-Length` or chunked (decoded size); larger → 413 (the body is not
    /// read and the connection is closed).
    public var maxBodyBytes: Int = 16_384
    /// How many pipelined requests of one connection may be in flight; beyond it the connection stops reading
    /// until answers have been written.
    public var maxPipelined: Int = 64
    /// A connection that reads nothing for this long while no request is in flight is closed (idle keep-alive
    /// connections, stalled request heads); nil keeps connections forever. Checked once per period.
    public var idleTimeout: Duration? = .seconds(60)
    /// The longest time from the first byte of a request to the end of its head (nginx's `client_header_timeout`);
    /// beyond it the connection answers 408 (or, with answers still owed, finishes them) and closes. nil: none.
    /// Checked by the engine's periodic sweep, so it fires up to ``sweepPeriod`` late.
    public var headTimeout: Duration? = .seconds(60)
    /// The longest time from the end of a request's head to the end of its body (nginx's `client_body_timeout`
    /// counts between two reads; this one bounds the whole body, so a trickle cannot extend it); 408 as above.
    public var bodyTimeout: Duration? = .seconds(60)
    /// How long a connection closed with input it will not read (a refused request, bytes after
    /// `Connection: close`) keeps reading and dropping the peer's rest after its last answer, so that the kernel does
    /// not reset the connection under that answer (epoll engine).
    public var lingerTimeout: Duration = .seconds(2)
    /// How many bytes of the peer's rest a lingering close drops at most before closing at once.
    public var lingerByteLimit: Int = 1 << 20

    public init() {}

    /// How often the engine checks its connections' idle, read and linger deadlines: a quarter of the shortest of
    /// them, between 10 ms and 1 s.
    public var sweepPeriod: Duration {
        var shortest = Duration.seconds(4)
        for timeout in [idleTimeout, headTimeout, bodyTimeout] {
            if let timeout, timeout > .zero { shortest = min(shortest, timeout) }
        }
        return max(.milliseconds(10), shortest / 4)
    }
}
