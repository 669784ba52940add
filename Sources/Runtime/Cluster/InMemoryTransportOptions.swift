/// Configuration of an ``InMemoryTransport``.
public struct InMemoryTransportOptions: Sendable {
    /// Whether the transport answers requests whose handler has not replied by their deadline (with
    /// `deadlineExceeded`, dropping the late reply). Without it, deadlines are still checked when a request is sent
    /// and when its actor's turn comes, but a handler that never replies leaves its request unanswered.
    public var watchesDeadlines = true
    /// How often overdue requests are looked for: the precision of deadline enforcement.
    public var deadlineSweepInterval: Duration = .milliseconds(5)
    /// Requests in flight that are tracked without allocating; more are tracked with an allocation each.
    public var pendingCapacity = 4_096

    public init() {}
}
