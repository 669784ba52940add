import NIOCore
import ClstrRuntime

/// The HTTP/1.1 protocol state of one connection, independent of how its bytes move: parses requests straight
/// from received bytes, hands them to the service, and encodes the answers in request order into one reused
/// output buffer. An engine subclasses it to move the bytes (``HTTPConnectionHandler`` on SwiftNIO,
/// `EpollConnection` on the epoll engine).
///
/// - Pipelining: every request gets a slot in a ring of ``HTTPLimits/maxPipelined`` slots, numbered by its
///   sequence on the connection (the `context` of its reply). Answers may complete out of order; they are written
///   in order as the head of the ring completes. When the ring is full the session stops parsing and the engine
///   stops reading (bounded buffers).
/// - Flushing: once per read batch (``readBatchEnded()``), or at once for answers that complete later.
/// - Refused requests (malformed, limits): answered with the parser's status and a JSON error body, then the
///   connection is closed; `Connection: close` is honoured likewise.
class HTTPSession: @unchecked Sendable {
    // @unchecked Sendable: the session is a `ReplyHandler`, so replies can reach it from any thread; `deliver`
    // hops onto the connection's loop. Every other member is read and written only on that loop.

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
    /// This connection's shard of the metrics (one per loop: no cache line shared between cores).
    let metricsShard: Int
    let limits: HTTPLimits
    // The hot state below opts out of dynamic exclusivity checks (measured: swift_beginAccess and its access-set
    // bookkeeping took about 3% of the server's CPU under wrk). It is safe because every access happens on the
    // connection's loop, and no access overlaps another of the same property: `carry` is swapped out before it is
    // parsed, `output`/`scratch` are only touched in `write(slot:)` and by the engine's transmit, which never
    // re-enter each other.
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) private var carry: ByteBuffer
    /// The encoded answers not yet handed to the transport.
    @exclusivity(unchecked) final var output: ByteBuffer
    @exclusivity(unchecked) private var scratch: ByteBuffer
    final let empty: ByteBuffer
    /// The pipeline ring (`slotCount` slots, a power of two), allocated once: a raw buffer rather than an array
    /// spares every access its bounds and uniqueness checks (indices are always `sequence & mask`).
    private let slots: UnsafeMutablePointer<Slot>
    private let slotCount: Int
    private let mask: UInt64
    @exclusivity(unchecked) private var headSequence: UInt64 = 0
    @exclusivity(unchecked) private var nextSequence: UInt64 = 0
    @exclusivity(unchecked) private var inReadBatch = false
    @exclusivity(unchecked) private var parsing = false
    /// No further requests are parsed (a refused request, `Connection: close`, a drain).
    @exclusivity(unchecked) final var stopParsing = false
    /// Close once the output holding the last answer is flushed.
    @exclusivity(unchecked) private var closeAfterFlush = false
    /// The transport is closed (or closing): nothing more is written.
    @exclusivity(unchecked) final var closed = false
    @exclusivity(unchecked) private var continueSentFor: UInt64 = .max
    /// Reads since the last idle check.
    @exclusivity(unchecked) final var readsSinceIdleCheck = 0
    /// Input arrived that will never be parsed (after a refusal or `Connection: close`).
    @exclusivity(unchecked) private var leftInputUnread = false
    /// A request was refused (malformed, over a limit): the peer may still be sending its rest.
    @exclusivity(unchecked) private var refusedInput = false
    /// Whether the last parse stopped because the pipeline ring was full.
    @exclusivity(unchecked) private var parserBlocked = false
    /// Set by the engine when it declined to read because ``wantsInput`` was false; ``resumeReading()`` follows
    /// once answers have made room.
    @exclusivity(unchecked) final var readHeld = false

    init(service: any HTTPService, metrics: HTTPMetrics, limits: HTTPLimits, metricsShard: Int) {
        self.service = service
        self.metrics = metrics
        self.metricsShard = metricsShard
        self.limits = limits
        self.parser = HTTPRequestParser(limits: limits)
        var capacity = 1
        while capacity < max(1, limits.maxPipelined) { capacity <<= 1 }
        self.slots = .allocate(capacity: capacity)
        self.slots.initialize(repeating: Slot(), count: capacity)
        self.slotCount = capacity
        self.mask = UInt64(capacity - 1)
        let allocator = ByteBufferAllocator()
        // A placeholder with storage of its own: the shared zero-capacity buffer would have its reference count
        // bounced between the loops' cores on every swap.
        self.empty = allocator.buffer(capacity: 8)
        self.carry = empty
        self.output = allocator.buffer(capacity: 4_096)
        self.scratch = allocator.buffer(capacity: 256)
    }

    deinit {
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    // MARK: Engine hooks (overridden)

    /// Hands `output` to the transport and empties it; closes the transport afterwards when `thenClose`.
    func transmit(thenClose: Bool) { fatalError("abstract") }

    /// Closes the transport at once.
    func closeTransport() { fatalError("abstract") }

    /// Asks the engine to read again after it held reading back (``readHeld``) and ``wantsInput`` turned true.
    func resumeReading() { fatalError("abstract") }

    /// Whether the caller runs on this connection's loop.
    var onLoop: Bool { fatalError("abstract") }

    /// Runs `complete(sequence:outcome:)` on the connection's loop (called off the loop).
    func post(_ outcome: Outcome, context: UInt64) { fatalError("abstract") }

    // MARK: Engine-facing state

    final var inFlight: Int { Int(nextSequence &- headSequence) }

    /// Whether the engine may read more bytes: false while the pipeline ring is full or the last parse was
    /// blocked by it (reading resumes through ``resumeReading()``).
    final var wantsInput: Bool { inFlight < slotCount && !parserBlocked }

    /// Closes the connection when it read nothing since the last check and has nothing in flight.
    /// - Returns: whether it closed.
    @discardableResult
    final func checkIdle() -> Bool {
        defer { readsSinceIdleCheck = 0 }
        guard readsSinceIdleCheck == 0, inFlight == 0, !closed else { return false }
        closed = true
        closeTransport()
        return true
    }

    /// Finishes the requests in flight and closes (graceful shutdown).
    final func drainAndClose() {
        stopParsing = true
        var sequence = headSequence
        while sequence != nextSequence {
            slots[Int(sequence & mask)].keepAlive = false
            sequence &+= 1
        }
        if inFlight == 0 && !closed {
            // Through flush, not a bare close: answers of this read batch (or waiting for the socket) go out first.
            closeAfterFlush = true
            if !inReadBatch { flush() }
        }
    }

    /// Consumes received bytes: parses and dispatches every complete request; keeps an incomplete rest.
    final func received(_ incoming: inout ByteBuffer) {
        inReadBatch = true
        readsSinceIdleCheck &+= 1
        guard !stopParsing else {
            if incoming.readableBytes > 0 { leftInputUnread = true }
            return
        }
        if carry.readableBytes == 0 {
            parse(&incoming)
            if incoming.readableBytes > 0 {
                if stopParsing {
                    leftInputUnread = true
                } else {
                    // Keep the rest in our own buffer so the receive buffer can be reused by the engine.
                    carry.clear()
                    carry.writeBuffer(&incoming)
                }
            }
        } else {
            carry.writeBuffer(&incoming)
            parseCarry()
        }
    }

    /// Whether the connection ends with input it did not consume (a refused request, bytes after
    /// `Connection: close`, a body over the limit still arriving): the engine should close lingering, so that the
    /// kernel does not reset the connection under the last answer.
    final var endsWithUnreadInput: Bool { leftInputUnread || carry.readableBytes > 0 || refusedInput }

    /// Ends a read batch: flushes what the batch answered.
    final func readBatchEnded() {
        inReadBatch = false
        flush()
    }

    // MARK: Parsing

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
            if inFlight >= slotCount {
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
        refusedInput = true
        let sequence = openSlot(keepAlive: false, http10: false, route: metrics.malformedRoute)
        complete(sequence: sequence, route: metrics.malformedRoute, response: .error(error.status, error.message))
    }

    // MARK: Completion

    /// Records an immediate answer.
    final func complete(sequence: UInt64, route: Int, response: HTTPResponse) {
        guard !closed, sequence &- headSequence < UInt64(inFlight) else { return }
        let index = Int(sequence & mask)
        guard !slots[index].ready else { return }
        slots[index].route = route
        slots[index].response = response
        slots[index].ready = true
        if sequence == headSequence { drain() }
    }

    /// Records that the answer will come as an outcome.
    final func deferResponse(sequence: UInt64, route: Int, tag: Int, key: String) {
        let index = Int(sequence & mask)
        slots[index].route = route
        slots[index].tag = tag
        slots[index].key = key
    }

    /// Records a deferred outcome (on the loop).
    final func complete(sequence: UInt64, outcome: Outcome) {
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
        if readHeld || parserBlocked, !parsing, !closed, inFlight < slotCount {
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
            // The builder takes the scratch buffer by swapping, so that it holds the only reference: a copy left
            // in a local would make the first write into it copy the storage (measured: a malloc and a copy per
            // answer).
            var builder = HTTPResponseBuilder(body: empty)
            swap(&builder.body, &scratch)
            builder.body.clear()
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

    /// Parses what was held back by a full ring, then lets the engine read again.
    private func resume() {
        if carry.readableBytes > 0 && !stopParsing {
            parseCarry()
            if !inReadBatch { flush() }
        }
        if readHeld && wantsInput && !closed {
            readHeld = false
            resumeReading()
        }
    }

    /// Hands the output to the transport; closes the connection after the last answer when asked to.
    final func flush() {
        guard !closed else { return }
        let last = closeAfterFlush && headSequence == nextSequence
        if output.readableBytes > 0 {
            if last { closed = true }
            transmit(thenClose: last)
        } else if last {
            closed = true
            closeTransport()
        }
    }
}

extension HTTPSession: ReplyHandler {
    /// Receives the outcome of a deferred request, on any thread; hops onto the loop once if needed.
    final func deliver(_ reply: Outcome, context: UInt64) {
        if onLoop {
            complete(sequence: context, outcome: reply)
        } else {
            post(reply, context: context)
        }
    }
}
