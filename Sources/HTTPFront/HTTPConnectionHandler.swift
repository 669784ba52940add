import NIOCore
import ClstrRuntime

/// Serves HTTP/1.1 on one SwiftNIO channel: an ``HTTPSession`` whose bytes arrive as `channelRead`s and leave
/// with one `writeAndFlush` per read batch.
///
/// Reading is held back (no `read()` passed on) while the session's pipeline ring is full; replies from other
/// threads reach the channel's event loop through the loop's ``ReplyInbox`` (or one `execute` each without one).
final class HTTPConnectionHandler: HTTPSession, ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked Sendable: see HTTPSession; `eventLoop` and `inbox` are immutable.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A user event that asks the connection to finish its in-flight requests and close (graceful shutdown).
    struct Drain: Sendable {}

    let eventLoop: any EventLoop
    private var context: ChannelHandlerContext?
    private var idleCheck: RepeatedTask?

    /// Where replies from other threads are queued for this connection's loop (nil: one `execute` per reply).
    let inbox: ReplyInbox?

    init(
        service: any HTTPService, metrics: HTTPMetrics, limits: HTTPLimits, eventLoop: any EventLoop,
        metricsShard: Int = 0, inbox: ReplyInbox? = nil
    ) {
        self.inbox = inbox
        self.eventLoop = eventLoop
        super.init(service: service, metrics: metrics, limits: limits, metricsShard: metricsShard)
    }

    // MARK: HTTPSession hooks

    override func transmit(thenClose: Bool) {
        guard let context else { return }
        if thenClose {
            context.writeAndFlush(wrapOutboundOut(output)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            output = empty
            return
        }
        context.writeAndFlush(wrapOutboundOut(output), promise: nil)
        // Reuses the storage when the write completed at once (the common case); allocates otherwise.
        output.clear()
    }

    override func closeTransport() {
        idleCheck?.cancel()
        idleCheck = nil
        context?.close(promise: nil)
    }

    override func resumeReading() {
        context?.read()
    }

    override var onLoop: Bool { eventLoop.inEventLoop }

    override func post(_ outcome: Outcome, context: UInt64) {
        if let inbox {
            inbox.post(self, outcome: outcome, context: context)
        } else {
            eventLoop.execute { self.complete(sequence: context, outcome: outcome) }
        }
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        closed = true
        idleCheck?.cancel()
        idleCheck = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // Relaxed: gauges for scrapes, ordered with nothing else.
        metrics.openConnections.wrappingAdd(1, ordering: .relaxed)
        metrics.acceptedConnections.wrappingAdd(1, ordering: .relaxed)
        if let idle = limits.idleTimeout {
            let period = TimeAmount.nanoseconds(Int64(MonotonicClock.nanoseconds(idle)))
            // A strong reference, not `[weak self]`: a weak reference gives the handler a side table, which makes
            // every retain and release of it (it is the reply target of every request) take the slow path —
            // measured at ~5 % of the server's CPU. The cycle is broken when the task is cancelled (channelInactive).
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                handler.value.checkIdle()
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Relaxed: see channelActive.
        metrics.openConnections.wrappingSubtract(1, ordering: .relaxed)
        closed = true
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        received(&incoming)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readBatchEnded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard wantsInput else {
            readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Drain {
            drainAndClose()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        context.close(promise: nil)
    }
}
