import NIOCore
import ClstrRuntime

/// Serves HTTP/1.1 on one connection: parses requests straight from the received bytes, hands them to the
/// service, and writes the answers in request order from pre-encoded fragments into one reused output buffer.
///
/// - Pipelining: every request gets a slot in a ring of ``HTTPLimits/maxPipelined`` slots, numbered by its
///   sequence on the connection (the `context` of its reply). Answers may complete out of order; they are written
///   in order as the head of the ring completes. When the ring is full the handler stops parsing and holds back
///   `read()` until answers have been written (bounded buffers).
/// - Flushing: once per read batch (`channelReadComplete`), or at once for answers that complete later.
/// - Refused requests (malformed, limits): answered with the parser's status and a JSON error body, then the
///   connection is closed; `Connection: close` is honoured likewise.
final class HTTPConnectionHandler: ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked Sendable: the handler is a `ReplyHandler`, so replies can reach it from any thread. `deliver`
    // touches only `eventLoop` (immutable) off the loop and hops onto it; every other member is read and written
    // only on the channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A user event that asks the connection to finish its in-flight requests and close (graceful shutdown).
    struct Drain: Sendable {}

    struct Slot {
        var ready = false
        var keepAlive = true
        var http10 = false
        var route = 0
        var tag = 0
        var key = ""
        var start: UInt64 = 0
        var response: HTTPResponse?
        var outcome: Outcome?
    }

    let service: any HTTPService
    let metrics: HTTPMetrics
    /// This connection's shard of the metrics (one per event loop: no cache line shared between cores).
    let metricsShard: Int
    let limits: HTTPLimits
    let eventLoop: any EventLoop
    private var context: ChannelHandlerContext?
    // The hot state below opts out of dynamic exclusivity checks (measured: swift_beginAccess and its access-set
    // bookkeeping took about 3% of the server's CPU under wrk). It is safe because every access happens on the
    // event loop, and no access overlaps another of the same property: `carry` is swapped out before it is
    // parsed, `output`/`scratch` are only touched in `write(slot:)`/`flush()`, which never re-enter each other.
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) private var carry: ByteBuffer
    @exclusivity(unchecked) private var output: ByteBuffer
    @exclusivity(unchecked) private var scratch: ByteBuffer
    private let empty: ByteBuffer
    @exclusivity(unchecked) private var slots: [Slot]
    private let mask: UInt64
    @exclusivity(unchecked) private var headSequence: UInt64 = 0
    @exclusivity(unchecked) private var nextSequence: UInt64 = 0
    private var inReadBatch = false
    private var parsing = false
    /// No further requests are parsed (a refused request, `Connection: close`, a drain).
    private var stopParsing = false
    /// Close once the output holding the last answer is flushed.
    private var closeAfterFlush = false
    private var closed = false
    private var readHeld = false
    private var continueSentFor: UInt64 = .max
    /// Reads since the last idle check.
    private var readsSinceIdleCheck = 0
    private var idleCheck: RepeatedTask?

    /// Where replies from other threads are queued for this connection's loop (nil: one `execute` per reply).
    let inbox: ReplyInbox?

    init(
        service: any HTTPService, metrics: HTTPMetrics, limits: HTTPLimits, eventLoop: any EventLoop,
        metricsShard: Int = 0, inbox: ReplyInbox? = nil
    ) {
        self.inbox = inbox
        self.service = service
        self.metrics = metrics
        self.metricsShard = metricsShard
        self.limits = limits
        self.eventLoop = eventLoop
        self.parser = HTTPRequestParser(limits: limits)
        var capacity = 1
        while capacity < max(1, limits.maxPipelined) { capacity <<= 1 }
        self.slots = Array(repeating: Slot(), count: capacity)
        self.mask = UInt64(capacity - 1)
        let allocator = ByteBufferAllocator()
        // A placeholder with storage of its own: the shared zero-capacity buffer would have its reference count
        // bounced between the event loops' cores on every swap.
        self.empty = allocator.buffer(capacity: 8)
        self.carry = empty
        self.output = allocator.buffer(capacity: 4_096)
        self.scratch = allocator.buffer(capacity: 256)
    }

    private var inFlight: Int { Int(nextSequence &- headSequence) }

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

    /// Closes the connection when it read nothing since the last check and has nothing in flight.
    private func checkIdle() {
        defer { readsSinceIdleCheck = 0 }
        guard readsSinceIdleCheck == 0, inFlight == 0, !closed, let context else { return }
        closed = true
        idleCheck?.cancel()
        idleCheck = nil
        context.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        // Relaxed: gauges for scrapes, ordered with nothing else.
        metrics.openConnections.wrappingAdd(1, ordering: .relaxed)
        metrics.acceptedConnections.wrappingAdd(1, ordering: .relaxed)
        if let idle = limits.idleTimeout {
            let period = TimeAmount.nanoseconds(
                Int64(idle.components.seconds) * 1_000_000_000 + idle.components.attoseconds / 1_000_000_000)
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
        inReadBatch = true
        readsSinceIdleCheck &+= 1
        guard !stopParsing else { return }
        var incoming = unwrapInboundIn(data)
        if carry.readableBytes == 0 {
            parse(&incoming)
            if incoming.readableBytes > 0 && !stopParsing {
                // Keep the rest in our own buffer so the receive buffer can be reused by the channel.
                carry.clear()
                carry.writeBuffer(&incoming)
            }
        } else {
            carry.writeBuffer(&incoming)
            parseCarry()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if inFlight >= slots.count || parserBlocked {
            readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Drain {
            stopParsing = true
            var sequence = headSequence
            while sequence != nextSequence {
                slots[Int(sequence & mask)].keepAlive = false
                sequence &+= 1
            }
            if inFlight == 0 {
                closed = true
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        context.close(promise: nil)
    }

    // MARK: Parsing

    /// Whether the last parse stopped because the pipeline ring was full.
    private var parserBlocked = false

    private func parseCarry() {
        var buffer = empty
        swap(&buffer, &carry)
        parse(&buffer)
        if stopParsing {
            carry = empty
            return
        }
        buffer.discardReadBytes()
        swap(&buffer, &carry)
    }

    /// Parses and dispatches every complete request in `buffer`, consuming them.
    private func parse(_ buffer: inout ByteBuffer) {
        parsing = true
        defer { parsing = false }
        parserBlocked = false
        while !stopParsing && buffer.readableBytes > 0 {
            if inFlight >= slots.count {
                parserBlocked = true
                return
            }
            let result = buffer.withUnsafeReadableBytes { parser.parseHead($0) }
            switch result {
            case .needMore:
                return
            case .failure(let error):
                refuse(error)
                return
            case .head(let head):
                let total = head.headLength + head.contentLength
                if buffer.readableBytes < total {
                    if head.expectsContinue && inFlight == 0 && continueSentFor != nextSequence {
                        continueSentFor = nextSequence
                        output.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                    }
                    return
                }
                let start = buffer.readerIndex
                let target = buffer.getSlice(at: start + head.targetOffset, length: head.targetLength)!
                let body = buffer.getSlice(at: start + head.headLength, length: head.contentLength)!
                buffer.moveReaderIndex(forwardBy: total)
                parser.reset()
                if !head.keepAlive { stopParsing = true }
                dispatch(
                    HTTPRequest(
                        method: head.method, target: target, body: body, keepAlive: head.keepAlive,
                        minorVersion: head.minorVersion))
            }
        }
    }

    private func openSlot(keepAlive: Bool, http10: Bool, route: Int) -> UInt64 {
        let sequence = nextSequence
        nextSequence &+= 1
        let index = Int(sequence & mask)
        slots[index].ready = false
        slots[index].keepAlive = keepAlive
        slots[index].http10 = http10
        slots[index].route = route
        slots[index].start = MonotonicClock.now()
        return sequence
    }

    private func dispatch(_ request: HTTPRequest) {
        let sequence = openSlot(keepAlive: request.keepAlive, http10: request.minorVersion == 0, route: 0)
        service.handle(request, exchange: HTTPExchange(connection: self, sequence: sequence))
    }

    private func refuse(_ error: HTTPParseError) {
        stopParsing = true
        let sequence = openSlot(keepAlive: false, http10: false, route: metrics.malformedRoute)
        complete(sequence: sequence, route: metrics.malformedRoute, response: .error(error.status, error.message))
    }

    // MARK: Completion

    /// Records an immediate answer.
    func complete(sequence: UInt64, route: Int, response: HTTPResponse) {
        guard !closed, sequence &- headSequence < UInt64(inFlight) else { return }
        let index = Int(sequence & mask)
        guard !slots[index].ready else { return }
        slots[index].route = route
        slots[index].response = response
        slots[index].ready = true
        if sequence == headSequence { drain() }
    }

    /// Records that the answer will come as an outcome.
    func deferResponse(sequence: UInt64, route: Int, tag: Int, key: String) {
        let index = Int(sequence & mask)
        slots[index].route = route
        slots[index].tag = tag
        slots[index].key = key
    }

    /// Records a deferred outcome (on the event loop).
    func complete(sequence: UInt64, outcome: Outcome) {
        guard !closed, sequence &- headSequence < UInt64(inFlight) else { return }
        let index = Int(sequence & mask)
        guard !slots[index].ready else { return }
        if sequence == headSequence {
            // In order (the common case): render at once, without parking the outcome in the slot.
            write(slot: index, outcome: outcome)
            headSequence &+= 1
            drain()
            return
        }
        slots[index].outcome = outcome
        slots[index].ready = true
    }

    /// Writes the answers at the head of the ring that are ready, in order.
    private func drain() {
        while headSequence != nextSequence {
            let index = Int(headSequence & mask)
            guard slots[index].ready else { break }
            write(slot: index, outcome: nil)
            headSequence &+= 1
        }
        if !inReadBatch { flush() }
        if readHeld || parserBlocked, !parsing, !closed, inFlight < slots.count {
            resume()
        }
    }

    /// Writes the answer of a slot: its immediate response, the given outcome, or its parked outcome.
    private func write(slot index: Int, outcome given: Outcome?) {
        let keepAlive = slots[index].keepAlive
        let http10 = slots[index].http10
        let route = slots[index].route
        let status: HTTPStatus
        if given == nil, let response = slots[index].response {
            slots[index].response = nil
            status = response.status
            switch response.body {
            case .empty:
                HTTPResponseEncoder.writeHead(
                    into: &output, status: status, contentType: response.contentType, contentLength: 0,
                    keepAlive: keepAlive, http10: http10, allow: response.allow)
            case .staticText(let text):
                HTTPResponseEncoder.writeHead(
                    into: &output, status: status, contentType: response.contentType,
                    contentLength: text.utf8CodeUnitCount, keepAlive: keepAlive, http10: http10, allow: response.allow)
                output.writeStaticString(text)
            case .string(let text):
                HTTPResponseEncoder.writeHead(
                    into: &output, status: status, contentType: response.contentType, contentLength: text.utf8.count,
                    keepAlive: keepAlive, http10: http10, allow: response.allow)
                output.writeString(text)
            case .bytes(var bytes):
                HTTPResponseEncoder.writeHead(
                    into: &output, status: status, contentType: response.contentType,
                    contentLength: bytes.readableBytes, keepAlive: keepAlive, http10: http10, allow: response.allow)
                output.writeBuffer(&bytes)
            }
        } else {
            let outcome: Outcome
            if let given {
                outcome = given
            } else {
                outcome = slots[index].outcome ?? .failure(RequestError(.stopped, "no outcome"))
                slots[index].outcome = nil
            }
            var body = empty
            swap(&body, &scratch)
            body.clear()
            var builder = HTTPResponseBuilder(body: body)
            service.render(
                outcome,
                for: HTTPDeferredRequest(
                    route: route, tag: slots[index].tag, key: slots[index].key, shard: metricsShard),
                into: &builder)
            status = builder.status
            HTTPResponseEncoder.writeHead(
                into: &output, status: status, contentType: builder.contentType,
                contentLength: builder.body.readableBytes, keepAlive: keepAlive, http10: http10, allow: builder.allow)
            output.writeImmutableBuffer(builder.body)
            swap(&builder.body, &scratch)
        }
        slots[index].key = ""
        metrics.record(
            shard: metricsShard, route: route, status: status, nanoseconds: MonotonicClock.now() &- slots[index].start)
        if !keepAlive {
            closeAfterFlush = true
            stopParsing = true
        }
    }

    private func resume() {
        if carry.readableBytes > 0 && !stopParsing {
            parseCarry()
            if !inReadBatch { flush() }
        }
        if readHeld && inFlight < slots.count && !parserBlocked, let context {
            readHeld = false
            context.read()
        }
    }

    /// Writes and flushes the output buffer; closes the connection after the last answer when asked to.
    private func flush() {
        guard let context, !closed else { return }
        if output.readableBytes > 0 {
            if closeAfterFlush && headSequence == nextSequence {
                closed = true
                context.writeAndFlush(wrapOutboundOut(output)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                output = empty
                return
            }
            context.writeAndFlush(wrapOutboundOut(output), promise: nil)
            // Reuses the storage when the write completed at once (the common case); allocates otherwise.
            output.clear()
        } else if closeAfterFlush && headSequence == nextSequence {
            closed = true
            context.close(promise: nil)
        }
    }
}

extension HTTPConnectionHandler: ReplyHandler {
    /// Receives the outcome of a deferred request, on any thread; hops onto the event loop once if needed.
    func deliver(_ reply: Outcome, context: UInt64) {
        if eventLoop.inEventLoop {
            complete(sequence: context, outcome: reply)
        } else if let inbox {
            inbox.post(self, outcome: reply, context: context)
        } else {
            eventLoop.execute { self.complete(sequence: context, outcome: reply) }
        }
    }
}
