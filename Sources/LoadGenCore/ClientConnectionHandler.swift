import NIOCore

/// One keep-alive connection of a slot: sends a request, parses the response, records it, sends the next.
///
/// Works on `ByteBuffer` directly (no HTTP pipeline): the request is the pre-encoded buffer (or a reused one
/// when the URL has placeholders) and the response goes through ``ResponseParser``. Nothing is allocated per
/// request in the steady state.
final class ClientConnectionHandler: ChannelInboundHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case connecting, scheduled, inFlight, idle, closed
    }

    private let worker: LoopWorker
    private let slot: Int
    private var context: ChannelHandlerContext?
    private var phase: Phase = .connecting
    private var sequence: Int
    /// Loop-confined; `@exclusivity(unchecked)` because accesses never overlap (each is one call) and the
    /// dynamic check costs more than the parsing of a small response.
    @exclusivity(unchecked) private var parser = ResponseParser()
    private let connectStartNs: UInt64
    private var dialNs: UInt64 = 0
    private var pendingDialNs: UInt64 = 0
    private var sendNs: UInt64 = 0
    private var firstByteNs: UInt64 = 0
    private var plannedNs: UInt64 = 0
    private var ended = false
    /// Responses completed on this connection (a reused connection may have been closed by the server).
    private var completedOnConnection = 0
    /// The request to resend on a new connection (see ``retryOnNewConnection``).
    private var retrySequence: Int?
    private var scheduled: NIOScheduledCallback?
    @exclusivity(unchecked) private var scratch: ByteBuffer?
    @exclusivity(unchecked) private var random: SplitMix64
    private let control: RunControl
    private let staticRequest: ByteBuffer?
    private let isHead: Bool
    private let corrected: Bool
    private let writesCSV: Bool
    private let paced: Bool
    private let disableKeepAlive: Bool
    private let idempotent: Bool

    /// A handler for `slot` whose connection will carry request `sequence` first.
    init(worker: LoopWorker, slot: Int, sequence: Int, connectStartNs: UInt64, seed: UInt64) {
        self.worker = worker
        self.slot = slot
        self.sequence = sequence
        self.connectStartNs = connectStartNs
        self.random = SplitMix64(seed: seed)
        self.control = worker.control
        self.staticRequest = worker.config.template.staticBytes
        self.isHead = worker.config.isHead
        self.corrected = worker.config.corrected
        self.writesCSV = worker.config.csvSink != nil
        self.disableKeepAlive = worker.config.disableKeepAlive
        self.idempotent = worker.config.idempotent
        self.paced = worker.control.intervalNs > 0 || worker.control.perWorkerPeriodNs > 0
        if worker.config.template.hasPlaceholders {
            scratch = ByteBufferAllocator().buffer(capacity: worker.config.template.maximumSize)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        let now = monotonicNanoseconds()
        dialNs = now - connectStartNs
        pendingDialNs = dialNs
        dispatch(now: now)
        context.fireChannelActive()
    }

    /// Sends the current request now, or schedules it for its planned time.
    private func dispatch(now: UInt64) {
        guard paced else {
            send(now: now)
            return
        }
        var sendAt: UInt64 = 0
        if control.intervalNs > 0 {
            plannedNs = control.plannedNs(sequence)
            sendAt = plannedNs
            // Behind schedule: the request was already more than 1 ms overdue when a connection became free
            // to send it (every connection was busy). Timer jitter of sends that were waited for is not counted.
            if now > plannedNs + 1_000_000 { worker.stats.behindSchedule += 1 }
        }
        if control.perWorkerPeriodNs > 0 {
            sendAt = max(sendAt, worker.nextAllowedNs[slot])
            worker.nextAllowedNs[slot] = max(now, sendAt) + control.perWorkerPeriodNs
        }
        if sendAt > now + 20_000, let context {
            phase = .scheduled
            pendingDialNs = 0
            scheduled = try? context.eventLoop.assumeIsolated().scheduleCallback(
                at: .uptimeNanoseconds(sendAt), handler: self)
            if scheduled != nil { return }
        }
        send(now: now)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        scheduled = nil
        guard phase == .scheduled else { return }
        if control.isStopped {
            // The claimed request is dropped: the run is being interrupted.
            endHere()
            return
        }
        send(now: monotonicNanoseconds())
    }

    private func send(now: UInt64) {
        guard let context else { return }
        phase = .inFlight
        sendNs = now
        parser.reset(isHead: isHead)
        if let staticBytes = staticRequest {
            context.writeAndFlush(wrapOutboundOut(staticBytes), promise: nil)
        } else {
            worker.config.template.render(sequence: sequence, random: &random, into: &scratch!)
            context.writeAndFlush(wrapOutboundOut(scratch!), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .inFlight else { return }
        let buffer = unwrapInboundIn(data)
        // One clock read per read event: it stamps the first byte and, when the response is complete in
        // this read (the usual case), its end too.
        let now = monotonicNanoseconds()
        if !parser.started { firstByteNs = now }
        switch parser.feed(buffer) {
        case .needMore:
            return
        case .complete:
            complete(channelOpen: true, now: now)
        case .malformed(let message):
            fail(message)
        }
    }

    /// Records the finished response and moves on to the next request.
    private func complete(channelOpen: Bool, now: UInt64? = nil) {
        let end = now ?? monotonicNanoseconds()
        let start = sendNs - pendingDialNs
        let total = end - start
        let status = parser.status
        worker.stats.recordResponse(
            status: status, bodyBytes: parser.bodyBytes, totalNs: total, dialNs: pendingDialNs,
            waitNs: firstByteNs - sendNs, readNs: end - firstByteNs)
        if corrected {
            worker.stats.corrected!.recordNanoseconds(end - min(plannedNs, sendNs))
        }
        if writesCSV {
            worker.appendCSV(
                totalNs: total, dialNs: pendingDialNs, waitNs: firstByteNs - sendNs, readNs: end - firstByteNs,
                status: status, offsetNs: start - control.startNs)
        }
        pendingDialNs = 0
        phase = .idle
        completedOnConnection += 1
        guard channelOpen else { return }
        if !parser.keepAlive || disableKeepAlive {
            context?.close(promise: nil)
            return
        }
        guard let next = control.claim(now: end) else {
            endHere()
            return
        }
        sequence = next
        dispatch(now: end)
    }

    /// Ends the slot on this connection (no more requests) and closes it.
    private func endHere() {
        guard !ended else { return }
        ended = true
        phase = .idle
        context?.close(promise: nil)
        worker.endSlot(slot)
    }

    /// Whether a failure of the request in flight is the server closing an idle keep-alive connection, which
    /// Go's client (and so hey) retries on a new connection: the connection was reused, no byte of the response
    /// came back, and the method is idempotent (GET, HEAD, OPTIONS, TRACE).
    private var retryOnNewConnection: Bool {
        phase == .inFlight && completedOnConnection > 0 && !parser.started
            && idempotent
    }

    /// Counts the request in flight as failed with `message` and closes the connection.
    private func fail(_ message: String) {
        if retryOnNewConnection {
            retrySequence = sequence
            phase = .idle
        } else if phase == .inFlight {
            worker.stats.recordError(worker.config.errorPrefix + message)
            phase = .idle
        }
        context?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ErrorText.describe(error, dialTarget: worker.config.dialTarget, connecting: false))
    }

    func channelInactive(context: ChannelHandlerContext) {
        var carry: Int?
        switch phase {
        case .inFlight:
            if parser.finishOnClose() == .complete {
                complete(channelOpen: false)
            } else if retryOnNewConnection {
                carry = sequence
            } else {
                worker.stats.recordError(worker.config.errorPrefix + (parser.started ? "unexpected EOF" : "EOF"))
            }
        case .scheduled:
            if let scheduled { context.eventLoop.assumeIsolated().cancelScheduledCallback(scheduled) }
            scheduled = nil
            carry = sequence
        case .connecting, .idle, .closed:
            carry = retrySequence
        }
        phase = .closed
        self.context = nil
        if !ended {
            ended = true
            worker.startSlot(slot, carry: carry)
        }
    }

    /// The connection could not be opened: the request counts as failed; the slot tries the next one.
    /// - Parameter error: why the connect failed.
    func connectFailed(_ error: any Error) {
        guard phase == .connecting, !ended else { return }
        ended = true
        phase = .closed
        worker.stats.recordError(
            worker.config.errorPrefix
                + ErrorText.describe(error, dialTarget: worker.config.dialTarget, connecting: true))
        worker.startSlot(slot, carry: nil)
    }

    /// Fails the request in flight if it has been running for longer than the timeout.
    /// - Parameters:
    ///   - now: the current monotonic time.
    ///   - timeoutNs: the `-t` timeout.
    func checkTimeout(now: UInt64, timeoutNs: UInt64) {
        guard phase == .inFlight, now - sendNs > timeoutNs else { return }
        fail(
            parser.started
                ? "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
                : "context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    }

    /// Ctrl-C: drop a request that is waiting for its planned time.
    func interrupt() {
        if phase == .scheduled {
            if let scheduled, let context { context.eventLoop.assumeIsolated().cancelScheduledCallback(scheduled) }
            scheduled = nil
            endHere()
        }
    }
}
