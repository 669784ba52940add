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
            limits: limits, metricsShard: metricsShard, now: eventLoop.now.uptimeNanoseconds)
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
        let limits = session.limits
        if limits.idleTimeout != nil || limits.headTimeout != nil || limits.bodyTimeout != nil {
            // One repeated task per connection (SwiftNIO has no loop-wide sweep to join): the idle check and the
            // read deadlines, every sweep period (1 s by default), never a timer per request.
            let period = TimeAmount.nanoseconds(Int64(MonotonicClock.nanoseconds(limits.sweepPeriod)))
            // A strong reference, not `[weak self]`: a weak reference gives the session a side table, which makes
            // every retain and release of it (it is the reply target of every request) take the slow path —
            // measured at ~5 % of the server's CPU. The cycle is broken when the task is cancelled (channelInactive).
            let session = NIOLoopBound(self.session, eventLoop: context.eventLoop)
            idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                // The loop's clock (virtual on an `EmbeddedEventLoop`), as at the session's start.
                session.value.periodicCheck(now: session.value.transport.eventLoop.now.uptimeNanoseconds)
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
