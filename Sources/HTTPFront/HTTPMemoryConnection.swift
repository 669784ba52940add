import NIOCore
import ClstrRuntime

/// One HTTP/1.1 connection served from memory: bytes in, answer bytes out, on the caller's thread, through the
/// same ``HTTPSession`` (and state machine) as the socket engines.
///
/// For benchmarks of the request path without a socket (parse → route → render, mallocs counted) and for tests
/// in the style of SwiftNIO's `EmbeddedChannel`. Not thread-safe: use it, and deliver deferred outcomes to it, from
/// one thread.
///
/// ```swift
/// let connection = HTTPMemoryConnection(service: service)
/// var request = ByteBuffer(string: "GET /counter/a HTTP/1.1\r\n\r\n")
/// connection.receive(&request)
/// let answer = connection.takeOutput()
/// ```
public final class HTTPMemoryConnection {
    let session: HTTPSession<MemoryTransport>

    /// Creates a connection.
    /// - Parameters:
    ///   - service: the application.
    ///   - limits: the limits the connection is held to.
    ///   - metrics: where requests are counted (a new set for the service's routes by default).
    public init(service: any HTTPService, limits: HTTPLimits = HTTPLimits(), metrics: HTTPMetrics? = nil) {
        session = HTTPSession(
            transport: MemoryTransport(), service: service,
            metrics: metrics ?? HTTPMetrics(routeNames: service.routeNames), limits: limits, metricsShard: 0)
    }

    /// Receives bytes as one read batch: parses, dispatches and answers what they complete.
    /// - Parameter bytes: the bytes; consumed.
    public func receive(_ bytes: inout ByteBuffer) {
        guard session.mayRead() else { return }
        session.received(&bytes)
        session.readBatchEnded()
    }

    /// Receives bytes as one read batch, copied into a buffer the connection reuses (no allocation once it is
    /// large enough).
    /// - Parameter bytes: the bytes.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        var input = session.empty
        swap(&input, &session.transport.input)
        input.clear()
        input.writeBytes(bytes)
        receive(&input)
        swap(&input, &session.transport.input)
    }

    /// Drops what was written since the last call.
    /// - Returns: how many bytes that was.
    @discardableResult
    public func discardOutput() -> Int {
        defer { session.transport.written.clear() }
        return session.transport.written.readableBytes
    }

    /// The peer's end of stream.
    public func receiveEndOfStream() {
        session.endOfStream()
    }

    /// Whether the connection was closed (after `Connection: close`, a refusal, an idle check, end of stream).
    public var isClosed: Bool { session.transport.closed }

    /// Appends what was written since the last call to `buffer` (allocates nothing once `buffer` is large enough).
    /// - Parameter buffer: receives the answer bytes.
    public func takeOutput(into buffer: inout ByteBuffer) {
        buffer.writeBuffer(&session.transport.written)
        session.transport.written.clear()
    }

    /// What was written since the last call, as text.
    public func takeOutput() -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: session.transport.written.readableBytes)
        takeOutput(into: &buffer)
        return String(buffer: buffer)
    }
}

/// The in-memory engine: writes go to a buffer, the loop is the caller's thread.
struct MemoryTransport: HTTPTransport {
    /// What the connection wrote.
    var written = ByteBufferAllocator().buffer(capacity: 4_096)
    /// The reused receive buffer of `HTTPMemoryConnection.receive(_:)` for raw bytes.
    var input = ByteBufferAllocator().buffer(capacity: 4_096)
    var closed = false

    static func onLoop(_ session: HTTPSession<MemoryTransport>) -> Bool { true }

    static func write(
        _ session: HTTPSession<MemoryTransport>, thenClose: HTTPConnectionStateMachine.CloseMode?
    )
        -> HTTPWriteResult
    {
        session.transport.written.writeBuffer(&session.output)
        session.output.clear()
        return .complete
    }

    static func close(_ session: HTTPSession<MemoryTransport>, _ mode: HTTPConnectionStateMachine.CloseMode) {
        session.transport.closed = true
        session.transportClosed()
    }

    static func resumeReading(_ session: HTTPSession<MemoryTransport>) {}

    static func post(_ outcome: Outcome, context: UInt64, to session: HTTPSession<MemoryTransport>) {
        session.complete(sequence: context, outcome: outcome)
    }
}
