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
    private var parser = ResponseParser()
    private let connectStartNs: UInt64
    private var dialNs: UInt64 = 0
    private var pendingDialNs: UInt64 = 0
    private var sendNs: UInt64 = 0
    private var firstByteNs: UInt64 = 0
    private var plannedNs: UInt64 = 0
    private var ended = false
    private var scheduled: NIOScheduledCallback?
    private var scratch: ByteBuffer?
    private var random: SplitMix64

    /// A handler for `slot` whose connection will carry request `sequence` first.
    init(worker: LoopWorker, slot: Int, sequence: Int, connectStartNs: UInt64, seed: UInt64) {
        self.worker = worker
        self.slot = slot
        self.sequence = sequence
        self.connectStartNs = connectStartNs
        self.random = SplitMix64(seed: seed)
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
        let control = worker.control
        var sendAt: UInt64 = 0
        if control.intervalNs > 0 {
            plannedNs = control.plannedNs(sequence)
            sendAt = plannedNs
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
        if worker.control.isStopped {
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
        if worker.control.intervalNs > 0 && now > plannedNs + 1_000_000 {
            worker.stats.behindSchedule += 1
        }
        parser.reset(isHead: worker.config.isHead)
        if let staticBytes = worker.config.template.staticBytes {
            context.writeAndFlush(wrapOutboundOut(staticBytes), promise: nil)
        } else {
            worker.config.template.render(sequence: sequence, random: &random, into: &scratch!)
            context.writeAndFlush(wrapOutboundOut(scratch!), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .inFlight else { return }
        let buffer = unwrapInboundIn(data)
        if !parser.started { firstByteNs = monotonicNanoseconds() }
        switch parser.feed(buffer) {
        case .needMore:
            return
        case .complete:
            complete(channelOpen: true)
        case .malformed(let message):
            fail(message)
        }
    }

    /// Records the finished response and moves on to the next request.
    private func complete(channelOpen: Bool) {
        let end = monotonicNanoseconds()
        let start = sendNs - pendingDialNs
        let total = end - start
        let status = parser.status
        worker.stats.recordResponse(
            status: status, bodyBytes: parser.bodyBytes, totalNs: total, dialNs: pendingDialNs,
            waitNs: firstByteNs - sendNs, readNs: end - firstByteNs)
        if worker.config.corrected {
            worker.stats.corrected!.recordNanoseconds(end - min(plannedNs, sendNs))
        }
        if worker.config.csvSink != nil {
            worker.appendCSV(
                totalNs: total, dialNs: pendingDialNs, waitNs: firstByteNs - sendNs, readNs: end - firstByteNs,
                status: status, offsetNs: start - worker.control.startNs)
        }
        pendingDialNs = 0
        phase = .idle
        guard channelOpen else { return }
        if !parser.keepAlive || worker.config.disableKeepAlive {
            context?.close(promise: nil)
            return
        }
        guard let next = worker.control.claim(now: end) else {
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

    /// Counts the request in flight as failed with `message` and closes the connection.
    private func fail(_ message: String) {
        if phase == .inFlight {
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
            } else {
                worker.stats.recordError(worker.config.errorPrefix + (parser.started ? "unexpected EOF" : "EOF"))
            }
        case .scheduled:
            if let scheduled { context.eventLoop.assumeIsolated().cancelScheduledCallback(scheduled) }
            scheduled = nil
            carry = sequence
        case .connecting, .idle, .closed:
            break
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
            worker.config.errorPrefix + ErrorText.describe(error, dialTarget: worker.config.dialTarget, connecting: true))
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
