import NIOCore
import ClstrRuntime
#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP/1.1 protocol handling of one connection, independent of how its bytes move: parses requests straight
/// from received bytes, hands them to the service, and encodes the answers in request order into one reused
/// output buffer. Its life (reading, closing, lingering) is the value ``HTTPConnectionStateMachine``; its engine
/// (`Transport`) moves the bytes: `EpollTransport` on the epoll engine, `NIOTransport` inside
/// ``HTTPConnectionHandler`` on SwiftNIO.
///
/// - Pipelining: every request gets a slot in a ring of ``HTTPLimits/maxPipelined`` slots, numbered by its
///   sequence on the connection (the `context` of its reply). Answers may complete out of order; they are written
///   in order as the head of the ring completes. When the ring is full the session stops parsing and the engine
///   stops reading (bounded buffers).
/// - Flushing: once per read batch (``readBatchEnded()``), or at once for answers that complete later.
/// - Refused requests (malformed, limits): answered with the parser's status and a JSON error body, then the
///   connection is closed; `Connection: close` is honoured likewise.
/// - Chunked bodies: decoded in place by ``HTTPChunkedDecoder`` in the buffer being parsed (the engine's receive
///   buffer, or `carry` for a request spread over reads), so the body follows the head as a `Content-Length` body
///   does; the partial request's head is kept meanwhile (`chunkedHead`), not parsed again.
/// - Deadlines: ``periodicCheck(now:)``, run by the engine's sweep, closes idle connections and answers 408 to a
///   request whose head or body missed its read deadline (``HTTPLimits/headTimeout``, ``HTTPLimits/bodyTimeout``).
final class HTTPSession<Transport: HTTPTransport>: HTTPExchangeTarget, @unchecked Sendable {
    // @unchecked Sendable: the session is a `ReplyHandler`, so replies can reach it from any thread; `deliver`
    // hops onto the connection's loop (`Transport.onLoop`/`post`). Every other member is read and written only on
    // that loop.

    struct Slot {
        var ready = false
        var keepAlive = true
        var http10 = false
        var route = 0
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
    // parsed, `output`/`scratch` are only touched in `write(slot:)` and by the engine's write, which never re-enter
    // each other; `state` and `transport` are changed by short accesses only (the transport's hooks are static
    // functions of the session, not methods of `transport`).
    /// The connection's life.
    @exclusivity(unchecked) var state: HTTPConnectionStateMachine
    /// The engine's per-connection state.
    @exclusivity(unchecked) var transport: Transport
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) private var carry: ByteBuffer
    /// The encoded answers not yet handed to the transport.
    @exclusivity(unchecked) var output: ByteBuffer
    @exclusivity(unchecked) private var scratch: ByteBuffer
    let empty: ByteBuffer
    /// The pipeline ring (`slotCount` slots, a power of two), allocated once: a raw buffer rather than an array
    /// spares every access its bounds and uniqueness checks (indices are always `sequence & mask`).
    private let slots: UnsafeMutablePointer<Slot>
    private let slotCount: Int
    private let mask: UInt64
    @exclusivity(unchecked) private var headSequence: UInt64 = 0
    @exclusivity(unchecked) private var nextSequence: UInt64 = 0
    @exclusivity(unchecked) private var continueSentFor: UInt64 = .max
    /// When the next idle check is due (coarse monotonic ns; `.max`: never).
    @exclusivity(unchecked) private var nextIdleCheck: UInt64 = .max
    private let idlePeriod: UInt64
    /// The head of a request whose chunked body is being decoded (nil otherwise).
    @exclusivity(unchecked) private var chunkedHead: HTTPRequestHead?
    /// The decoder of that body (reset for each chunked request; its state is a few integers).
    @exclusivity(unchecked) private var chunkDecoder = HTTPChunkedDecoder(headLength: 0, limits: HTTPLimits())
    /// The strings made by ``string(_:)`` lately (``recentStringCount``, direct-mapped).
    private let recentStrings: UnsafeMutablePointer<String>
    private static var recentStringCount: Int { 4 }

    /// - Parameter now: the engine's monotonic time (nanoseconds) that ``periodicCheck(now:)`` will be given.
    init(
        transport: Transport, service: any HTTPService, metrics: HTTPMetrics, limits: HTTPLimits, metricsShard: Int,
        now: UInt64 = MonotonicClock.coarseNow()
    ) {
        self.transport = transport
        self.service = service
        self.metrics = metrics
        self.metricsShard = metricsShard
        self.limits = limits
        self.state = HTTPConnectionStateMachine(
            lingerLimits: .init(
                nanoseconds: MonotonicClock.nanoseconds(limits.lingerTimeout), bytes: limits.lingerByteLimit),
            readDeadlines: .init(
                head: limits.headTimeout.map { max(1, MonotonicClock.nanoseconds($0)) } ?? 0,
                body: limits.bodyTimeout.map { max(1, MonotonicClock.nanoseconds($0)) } ?? 0))
        if let idle = limits.idleTimeout {
            idlePeriod = max(1, MonotonicClock.nanoseconds(idle))
            nextIdleCheck = now &+ idlePeriod
        } else {
            idlePeriod = 0
        }
        self.parser = HTTPRequestParser(limits: limits)
        var capacity = 1
        while capacity < max(1, limits.maxPipelined) { capacity <<= 1 }
        self.slots = .allocate(capacity: capacity)
        self.slots.initialize(repeating: Slot(), count: capacity)
        self.slotCount = capacity
        self.mask = UInt64(capacity - 1)
        self.recentStrings = .allocate(capacity: Self.recentStringCount)
        self.recentStrings.initialize(repeating: "", count: Self.recentStringCount)
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
        recentStrings.deinitialize(count: Self.recentStringCount)
        recentStrings.deallocate()
    }

    // MARK: Engine-facing

    var inFlight: Int { Int(nextSequence &- headSequence) }

    private var pipelineHasRoom: Bool { inFlight < slotCount }

    /// Whether the engine may read now; when not, the session asks it to read again later
    /// (`Transport.resumeReading`).
    func mayRead() -> Bool { state.mayRead(pipelineHasRoom: pipelineHasRoom) }

    /// Closes the connection when it read nothing since the last check and has nothing in flight.
    /// - Returns: whether it closed.
    @discardableResult
    func checkIdle() -> Bool {
        guard let mode = state.idleCheck(inFlight: inFlight) else { return false }
        Transport.close(self, mode)
        return true
    }

    /// The engine's periodic sweep (every ``HTTPLimits/sweepPeriod``): the idle check once per idle period, then
    /// the read deadlines of a partial request. A missed deadline is answered 408 and closes the connection; with
    /// answers still owed to earlier requests (a 408 cannot go before them) those are finished and the connection
    /// closes after them.
    func periodicCheck(now: UInt64) {
        if now >= nextIdleCheck {
            nextIdleCheck = now &+ idlePeriod
            if checkIdle() { return }
        }
        guard
            let kind = state.deadlineCheck(now: now, partialInput: carry.readableBytes > 0, sequence: nextSequence)
        else { return }
        metrics.recordTimeout(kind)
        guard inFlight == 0 else { return drainAndClose() }
        chunkedHead = nil
        refuse(
            HTTPParseError(
                .requestTimeout,
                kind == .head ? "request head not received in time" : "request body not received in time"))
    }

    /// Finishes the requests in flight and closes (graceful shutdown).
    func drainAndClose() {
        answerInFlightWithClose()
        state.drain(inputPending: carry.readableBytes > 0)
        // Through flush, not a bare close: answers of this read batch (or waiting for the socket) go out first.
        if !state.inReadBatch { flush() }
    }

    /// The peer ended its stream: answers what was received, then closes (a lingering connection closes at once).
    func endOfStream() {
        if state.endOfStream(inputPending: carry.readableBytes > 0) {
            return Transport.close(self, .now)
        }
        answerInFlightWithClose()
        if !state.inReadBatch { flush() }
    }

    /// Closes at once (a transport error, a reset, the end of the grace period). Idempotent.
    func closeNow() {
        if state.closeNow() { Transport.close(self, .now) }
    }

    /// The engine's transport closed on its own (SwiftNIO's channel became inactive).
    func transportClosed() {
        state.transportClosed()
    }

    private func answerInFlightWithClose() {
        var sequence = headSequence
        while sequence != nextSequence {
            slots[Int(sequence & mask)].keepAlive = false
            sequence &+= 1
        }
    }

    /// Consumes received bytes: parses and dispatches every complete request; keeps an incomplete rest.
    func received(_ incoming: inout ByteBuffer) {
        switch state.bytesReceived(incoming.readableBytes) {
        case .parse: break
        case .drop: return
        case .closeNow: return Transport.close(self, .now)
        }
        if carry.readableBytes == 0 {
            parse(&incoming)
            if incoming.readableBytes > 0 {
                if !state.parsesRequests {
                    state.inputLeftOver()
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

    /// Ends a read batch: flushes what the batch answered.
    func readBatchEnded() {
        state.readBatchEnded()
        flush()
    }

    /// The transport can take blocked output again (epoll: `EPOLLOUT`).
    func transportWritable() {
        guard state.writeBlocked else { return }
        state.outputProgressed()
        transmit(thenClose: nil)
    }

    // MARK: Parsing

    private func parseCarry() {
        var buffer = empty
        swap(&buffer, &carry)
        parse(&buffer)
        if !state.parsesRequests {
            if buffer.readableBytes > 0 { state.inputLeftOver() }
            carry = empty
            return
        }
        buffer.discardReadBytes()
        swap(&buffer, &carry)
    }

    /// Parses and dispatches every complete request in `buffer`, consuming them.
    private func parse(_ buffer: inout ByteBuffer) {
        state.parseStarted()
        var pipelineFull = false
        defer { state.parseEnded(pipelineFull: pipelineFull) }
        while state.parsesRequests && buffer.readableBytes > 0 {
            if inFlight >= slotCount {
                pipelineFull = true
                return
            }
            let head: HTTPRequestHead
            if let pending = chunkedHead {
                head = pending
            } else {
                let result = buffer.withUnsafeReadableBytes { parser.parseHead($0) }
                switch result {
                case .needMore:
                    return
                case .failure(let error):
                    refuse(error)
                    return
                case .head(let parsed):
                    head = parsed
                }
            }
            let body: ByteBuffer
            let total: Int
            if head.chunked {
                if chunkedHead == nil {
                    chunkedHead = head
                    chunkDecoder = HTTPChunkedDecoder(headLength: head.headLength, limits: limits)
                    state.headCompleted()
                }
                // In place: the decoded body follows the head in this buffer (no buffer of its own).
                let result = buffer.withUnsafeMutableReadableBytes { chunkDecoder.decode($0) }
                switch result {
                case .needMore(let keep):
                    buffer.moveWriterIndex(to: buffer.readerIndex + keep)
                    sendContinueIfExpected(head)
                    return
                case .failure(let error):
                    chunkedHead = nil
                    refuse(error)
                    return
                case .complete(let end):
                    chunkedHead = nil
                    total = end
                    body = buffer.getSlice(
                        at: buffer.readerIndex + head.headLength, length: chunkDecoder.bodyLength)!
                }
            } else {
                total = head.headLength + head.contentLength
                if buffer.readableBytes < total {
                    state.headCompleted()
                    sendContinueIfExpected(head)
                    return
                }
                body = buffer.getSlice(at: buffer.readerIndex + head.headLength, length: head.contentLength)!
            }
            let target = buffer.getSlice(at: buffer.readerIndex + head.targetOffset, length: head.targetLength)!
            var request = HTTPRequest(
                method: head.method, target: target, body: body, keepAlive: head.keepAlive,
                minorVersion: head.minorVersion)
            if head.idempotencyKeyLength >= 0 {
                request.idempotencyKey = buffer.getSlice(
                    at: buffer.readerIndex + head.idempotencyKeyOffset, length: head.idempotencyKeyLength)
            }
            buffer.moveReaderIndex(forwardBy: total)
            parser.reset()
            state.requestParsed(keepAlive: head.keepAlive)
            dispatch(request)
        }
    }

    /// Answers `100 Continue` once for a request whose body is awaited, when nothing is in flight before it.
    private func sendContinueIfExpected(_ head: HTTPRequestHead) {
        if head.expectsContinue && inFlight == 0 && continueSentFor != nextSequence {
            continueSentFor = nextSequence
            output.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
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
        state.requestRefused()
        let sequence = openSlot(keepAlive: false, http10: false, route: metrics.malformedRoute)
        complete(sequence: sequence, route: metrics.malformedRoute, response: .error(error.status, error.message))
    }

    // MARK: Completion

    /// Records an immediate answer.
    func complete(sequence: UInt64, route: Int, response: HTTPResponse) {
        guard state.acceptsAnswers, sequence &- headSequence < UInt64(inFlight) else { return }
        let index = Int(sequence & mask)
        guard !slots[index].ready else { return }
        slots[index].route = route
        slots[index].response = response
        slots[index].ready = true
        if sequence == headSequence { drain() }
    }

    /// Records that the answer will come as an outcome.
    func deferResponse(sequence: UInt64, route: Int, key: String) {
        let index = Int(sequence & mask)
        slots[index].route = route
        slots[index].key = key
    }

    /// `utf8` (valid UTF-8) as a `String`, reusing the one made for the same bytes by a recent request of this
    /// connection: a key over 15 bytes would otherwise cost a malloc per request (shorter ones are stored inline).
    func string(_ utf8: UnsafeRawBufferPointer) -> String {
        let count = utf8.count
        guard count > 15 else { return String(decoding: utf8, as: UTF8.self) }
        let index = (count &+ Int(utf8[0]) &* 7 &+ Int(utf8[count - 1]) &* 31) & (Self.recentStringCount - 1)
        var recent = recentStrings[index]
        let hit = recent.withUTF8 { cached in
            cached.count == count && memcmp(cached.baseAddress!, utf8.baseAddress!, count) == 0
        }
        if hit { return recent }
        recent = String(decoding: utf8, as: UTF8.self)
        recentStrings[index] = recent
        return recent
    }

    /// Records a deferred outcome (on the loop).
    func complete(sequence: UInt64, outcome: Outcome) {
        guard state.acceptsAnswers, sequence &- headSequence < UInt64(inFlight) else { return }
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
        if !state.inReadBatch { flush() }
        resume()
    }

    /// Parses what was held back by a full ring, then lets the engine read again.
    private func resume() {
        while true {
            switch state.pipelineDrained(pipelineHasRoom: pipelineHasRoom) {
            case .none:
                return
            case .parseHeldInput:
                parseCarry()
                if !state.inReadBatch { flush() }
            case .resumeReading:
                return Transport.resumeReading(self)
            }
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
                outcome, for: HTTPDeferredRequest(route: route, key: slots[index].key, shard: metricsShard),
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
        state.answerWritten(keepAlive: keepAlive)
    }

    // MARK: Writing

    /// Hands the output to the transport; closes the connection after the last answer when it is time.
    func flush() {
        switch state.flush(hasOutput: output.readableBytes > 0, allAnswered: headSequence == nextSequence) {
        case .none: return
        case .write: transmit(thenClose: nil)
        case .writeThenClose(let mode): transmit(thenClose: mode)
        case .close(let mode): Transport.close(self, mode)
        }
    }

    private func transmit(thenClose mode: HTTPConnectionStateMachine.CloseMode?) {
        switch Transport.write(self, thenClose: mode) {
        case .complete:
            switch state.writeCompleted(pipelineHasRoom: pipelineHasRoom) {
            case .none: return
            case .close(let mode): Transport.close(self, mode)
            case .resumeReading: Transport.resumeReading(self)
            }
        case .blocked:
            state.writeWouldBlock()
        case .closing:
            return
        case .failed:
            closeNow()
        }
    }

    // MARK: ReplyHandler

    /// Receives the outcome of a deferred request, on any thread; hops onto the loop once if needed.
    func deliver(_ reply: Outcome, context: UInt64) {
        if Transport.onLoop(self) {
            complete(sequence: context, outcome: reply)
        } else {
            Transport.post(reply, context: context, to: self)
        }
    }
}
