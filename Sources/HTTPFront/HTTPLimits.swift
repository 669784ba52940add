/// The bounds every connection is held to.
public struct HTTPLimits: Sendable {
    /// The largest head (request line, headers, the empty line) accepted; larger → 431.
    public var maxHeadBytes: Int = 8_192
    /// The longest request target accepted; longer → 414.
    public var maxTargetBytes: Int = 4_096
    /// The largest body accepted; larger → 413 (the body is not read and the connection is closed).
    public var maxBodyBytes: Int = 16_384
    /// How many pipelined requests of one connection may be in flight; beyond it the connection stops reading
    /// until answers have been written.
    public var maxPipelined: Int = 64
    /// A connection that reads nothing for this long while no request is in flight is closed (idle keep-alive
    /// connections, stalled request heads); nil keeps connections forever. Checked once per period.
    public var idleTimeout: Duration? = .seconds(60)
    /// How long a connection closed with input it will not read (a refused request, bytes after
    /// `Connection: close`) keeps reading and dropping the peer's rest after its last answer, so that the kernel does
    /// not reset the connection under that answer (epoll engine).
    public var lingerTimeout: Duration = .seconds(2)
    /// How many bytes of the peer's rest a lingering close drops at most before closing at once.
    public var lingerByteLimit: Int = 1 << 20

    public init() {}
}
