import NIOCore
import ClstrRuntime

/// Serves HTTP/1.1 on one SwiftNIO channel: an ``HTTPSession`` whose bytes arrive as `channelRead`s and leave
/// with one `writeAndFlush` per read batch.
///
/// Reading is held back (no `read()` passed on) while the session's pipeline ring is full; replies from other
/// threads reach the channel's event loop through the loop's ``ReplyInbox`` (or one `execute` each without one).
/// The channel must allow remote half-closure (``HTTPServer`` sets it): at the peer's end of stream the connection
/// answers what it received, then closes, as the epoll engine does.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A user event that asks the connection to finish its in-flight requests and close (graceful shutdown).
    struct Drain: Sendable {}

    let session: HTTPSession<NIOTransport>
    private var idleCheck: RepeatedTask?

    init(
        service: any HTTPService, metrics: HTTPMetrics, limits: HTTPLimits, eventLoop: any EventLoop,
        metricsShard: Int = 0, inbox: ReplyInbox? = nil
    ) {
        session = HTTPSession(
            transport: NIOTransport(eventLoop: eventLoop, inbox: inbox), service: service, metrics: metrics,
            limits: limits, metricsShard: metricsShard)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        session.transport.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Breaks the cycle session → context → handler → session.
        session.transport.context = nil
        session.transportClosed()
        idleCheck?.cancel()
        idleCheck = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // Relaxed: gauges for scrapes, ordered with nothing else.
        session.metrics.openConnections.wrappingAdd(1, ordering: .relaxed)
        session.metrics.acceptedConnections.wrappingAdd(1, ordering: .relaxed)
        if let idle = session.limits.idleTimeout {
            let period = TimeAmount.nanoseconds(Int64(MonotonicClock.nanoseconds(idle)))
            // A strong reference, not `[weak self]`: a weak reference gives the session a side table, which makes
            // every retain and release of it (it is the reply target of every request) take the slow path —
            // measured at ~5 % of the server's CPU. The cycle is broken when the task is cancelled (channelInactive).
            let session = NIOLoopBound(self.session, eventLoop: context.eventLoop)
            idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                session.value.checkIdle()
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Relaxed: see channelActive.
        session.metrics.openConnections.wrappingSubtract(1, ordering: .relaxed)
        session.transportClosed()
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        session.received(&incoming)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session.readBatchEnded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard session.mayRead() else { return }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Drain {
            return session.drainAndClose()
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The peer's end of stream (remote half-closure allowed): answer what was received, then close.
            return session.endOfStream()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.closeNow()
    }
}

/// SwiftNIO's per-connection state and hooks for ``HTTPSession``.
struct NIOTransport: HTTPTransport {
    let eventLoop: any EventLoop
    /// Where replies from other threads are queued for this connection's loop (nil: one `execute` per reply).
    let inbox: ReplyInbox?
    /// Set while the handler is in the pipeline.
    var context: ChannelHandlerContext?

    init(eventLoop: any EventLoop, inbox: ReplyInbox?) {
        self.eventLoop = eventLoop
        self.inbox = inbox
    }

    static func onLoop(_ session: HTTPSession<NIOTransport>) -> Bool { session.transport.eventLoop.inEventLoop }

    static func write(
        _ session: HTTPSession<NIOTransport>, thenClose: HTTPConnectionStateMachine.CloseMode?
    )
        -> HTTPWriteResult
    {
        guard let context = session.transport.context else { return .failed }
        if thenClose != nil {
            // SwiftNIO writes the rest itself; the close waits for it (a close at once would drop it).
            context.writeAndFlush(NIOAny(session.output)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            session.output = session.empty
            return .closing
        }
        context.writeAndFlush(NIOAny(session.output), promise: nil)
        // Reuses the storage when the write completed at once (the common case); allocates otherwise.
        session.output.clear()
        return .complete
    }

    static func close(_ session: HTTPSession<NIOTransport>, _ mode: HTTPConnectionStateMachine.CloseMode) {
        // No lingering close here: SwiftNIO closes the socket (its idle task is cancelled when it is inactive).
        session.transport.context?.close(promise: nil)
    }

    static func resumeReading(_ session: HTTPSession<NIOTransport>) {
        session.transport.context?.read()
    }

    static func post(_ outcome: Outcome, context: UInt64, to session: HTTPSession<NIOTransport>) {
        if let inbox = session.transport.inbox {
            inbox.post(session, outcome: outcome, context: context)
        } else {
            session.transport.eventLoop.execute { session.complete(sequence: context, outcome: outcome) }
        }
    }
}
