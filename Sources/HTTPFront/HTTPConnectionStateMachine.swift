/// The life of one HTTP/1.1 connection as a value: whether it reads, parses, writes and when and how it closes.
///
/// The session (``HTTPSession``) feeds it what happened (bytes received, a request parsed or refused, an answer
/// written, a flush, a write that blocked or completed, end of stream, an error, an idle or linger tick) and
/// carries out the action each transition returns. It holds no buffers and does no I/O, so it is tested as a
/// plain value (`HTTPConnectionStateMachineTests`).
///
/// ```
///   serving ──(Connection: close · refusal · end of stream · drain)──▶ finishing
///   finishing ──(every answer written, output pending)──▶ closingAfterWrite ──(write done)──┐
///   finishing ──(every answer written, nothing pending)────────────────────────────────────┤
///                                                                                          ▼
///                                              unread input? ──yes──▶ lingering ──(EOF · limit · deadline)──▶ closed
///                                                            ──no───────────────────────────────────────────▶ closed
///   any ──(error · idle with nothing in flight)──▶ closed (or lingering)
/// ```
struct HTTPConnectionStateMachine {
    /// How a connection ends.
    enum CloseMode: Equatable {
        /// Close at once.
        case now
        /// Shut our side after the last answer and drop the peer's rest until its end of stream or a limit, so that
        /// unread input does not make the kernel reset the connection under the last answer.
        case linger
    }

    /// Where the connection is in its life.
    enum Phase: Equatable {
        /// Reading, parsing and answering requests.
        case serving
        /// No further request is parsed; the connection closes once every answer is written.
        case finishing
        /// Every answer is in the output; the connection closes (`mode`) once the transport took it.
        case closingAfterWrite(CloseMode)
        /// Our side is shut; the peer's input is dropped until its end of stream or a linger limit.
        case lingering
        /// Nothing more is read or written.
        case closed
    }

    /// What a flush asks the engine to do.
    enum FlushAction: Equatable {
        case none
        /// Hand the output to the transport.
        case write
        /// Hand the output to the transport, then close.
        case writeThenClose(CloseMode)
        /// Close (nothing left to write).
        case close(CloseMode)
    }

    /// What to do with bytes just received.
    enum ReceiveAction: Equatable {
        /// Parse them.
        case parse
        /// Drop them (no further request is parsed, or the connection lingers or is closed).
        case drop
        /// Drop them and close at once (the linger byte limit was passed).
        case closeNow
    }

    /// What to do once written output drained.
    enum WriteCompletedAction: Equatable {
        case none
        /// The last answer is out: close.
        case close(CloseMode)
        /// Reading was held back by the blocked write: read again.
        case resumeReading
    }

    /// What to do once answers made room in the pipeline.
    enum ResumeAction: Equatable {
        case none
        /// Parse the input held back by the full pipeline (then ask again).
        case parseHeldInput
        /// Let the engine read again.
        case resumeReading
    }

    /// Which read deadline a request missed.
    enum DeadlineKind: Equatable {
        /// Its head did not arrive within ``HTTPLimits/headTimeout`` of its first byte.
        case head
        /// Its body did not arrive within ``HTTPLimits/bodyTimeout`` of the end of its head.
        case body
    }

    /// The read deadlines of a request (nanoseconds; 0 = none).
    struct ReadDeadlines: Equatable {
        var head: UInt64 = 60_000_000_000
        var body: UInt64 = 60_000_000_000
    }

    /// The limits of a lingering close.
    struct LingerLimits: Equatable {
        /// How long the peer's rest is read and dropped at most (nanoseconds).
        var nanoseconds: UInt64 = 2_000_000_000
        /// How many bytes of it are dropped at most.
        var bytes = 1 << 20
    }

    private(set) var phase = Phase.serving
    /// Input arrived that will never be parsed (a refusal, bytes after `Connection: close`): close lingering.
    private(set) var unreadInput = false
    /// Output waits for the transport to take it (epoll: `EPOLLOUT`).
    private(set) var writeBlocked = false
    /// The engine declined to read (pipeline full or write blocked); it reads again on ``ResumeAction/resumeReading``.
    private(set) var readHeld = false
    /// The last parse stopped at a full pipeline with input left.
    private(set) var parserBlocked = false
    /// A read batch is being consumed: answers are flushed at its end, not one by one.
    private(set) var inReadBatch = false
    /// Requests are being parsed (their handlers may answer at once: no re-entrant parse).
    private(set) var parsing = false
    private var activitySinceIdleCheck = 0
    private var lingerDeadline: UInt64 = 0
    private var lingerBytes = 0
    let lingerLimits: LingerLimits
    /// The head of the request being received is complete; its body is awaited.
    private(set) var awaitingBody = false
    /// The partial request the deadline check watches: its sequence (``UInt64/max``: none), which part, since when.
    private var watchedSequence = UInt64.max
    private var watchedKind = DeadlineKind.head
    private var watchedSince: UInt64 = 0
    let readDeadlines: ReadDeadlines

    init(lingerLimits: LingerLimits = LingerLimits(), readDeadlines: ReadDeadlines = ReadDeadlines()) {
        self.lingerLimits = lingerLimits
        self.readDeadlines = readDeadlines
    }

    /// Whether answers are still recorded (the connection is neither lingering nor closed).
    var acceptsAnswers: Bool {
        switch phase {
        case .serving, .finishing, .closingAfterWrite: true
        case .lingering, .closed: false
        }
    }

    /// Whether requests are still parsed.
    var parsesRequests: Bool { phase == .serving }

    /// Whether nothing more is read or written.
    var isClosed: Bool { phase == .closed }

    private var closeMode: CloseMode { unreadInput ? .linger : .now }

    private mutating func close(_ mode: CloseMode) -> CloseMode {
        phase = mode == .linger ? .lingering : .closed
        return mode
    }

    // MARK: Reading

    /// Whether the engine may read now; records a hold otherwise (``ResumeAction/resumeReading`` follows).
    /// - Parameter pipelineHasRoom: whether the pipeline has a free slot.
    mutating func mayRead(pipelineHasRoom: Bool) -> Bool {
        switch phase {
        case .serving:
            guard pipelineHasRoom && !parserBlocked && !writeBlocked else {
                readHeld = true
                return false
            }
            return true
        case .lingering:
            return true
        case .finishing, .closingAfterWrite, .closed:
            return false
        }
    }

    /// Bytes arrived (`count` may be 0 for a read that only ended a batch).
    mutating func bytesReceived(_ count: Int) -> ReceiveAction {
        switch phase {
        case .serving:
            inReadBatch = true
            activitySinceIdleCheck &+= 1
            return .parse
        case .finishing, .closingAfterWrite:
            inReadBatch = true
            activitySinceIdleCheck &+= 1
            if count > 0 { unreadInput = true }
            return .drop
        case .lingering:
            lingerBytes += count
            guard lingerBytes <= lingerLimits.bytes else {
                phase = .closed
                return .closeNow
            }
            return .drop
        case .closed:
            return .drop
        }
    }

    /// Parsing starts (handlers may answer during it).
    mutating func parseStarted() {
        parsing = true
        parserBlocked = false
    }

    /// Parsing stopped.
    /// - Parameter pipelineFull: whether it stopped at a full pipeline with input left.
    mutating func parseEnded(pipelineFull: Bool) {
        parsing = false
        parserBlocked = pipelineFull
    }

    /// A request was parsed and handed to the service.
    mutating func requestParsed(keepAlive: Bool) {
        awaitingBody = false
        if !keepAlive && phase == .serving { phase = .finishing }
    }

    /// The head of the request being received is complete and its body is not (yet).
    mutating func headCompleted() {
        awaitingBody = true
    }

    /// A request was refused (malformed, over a limit): its answer is the last; the peer may still be sending.
    mutating func requestRefused() {
        if phase == .serving { phase = .finishing }
        unreadInput = true
    }

    /// Input was left unparsed when parsing stopped for good.
    mutating func inputLeftOver() {
        unreadInput = true
    }

    /// A read batch was consumed; the session flushes next.
    mutating func readBatchEnded() {
        inReadBatch = false
    }

    // MARK: Answers and writing

    /// An answer was written into the output.
    mutating func answerWritten(keepAlive: Bool) {
        if !keepAlive && phase == .serving { phase = .finishing }
    }

    /// The session wants its output out.
    /// - Parameters:
    ///   - hasOutput: whether the output holds bytes.
    ///   - allAnswered: whether every request parsed has been answered.
    mutating func flush(hasOutput: Bool, allAnswered: Bool) -> FlushAction {
        switch phase {
        case .serving, .closingAfterWrite:
            return hasOutput && !writeBlocked ? .write : .none
        case .finishing:
            guard allAnswered else { return hasOutput && !writeBlocked ? .write : .none }
            let mode = closeMode
            if hasOutput {
                phase = .closingAfterWrite(mode)
                return writeBlocked ? .none : .writeThenClose(mode)
            }
            return .close(close(mode))
        case .lingering, .closed:
            return .none
        }
    }

    /// The transport could not take all the output now (the rest waits for it).
    mutating func writeWouldBlock() {
        writeBlocked = true
    }

    /// Blocked output moved (the peer reads, slowly): counts as activity for the idle check.
    mutating func outputProgressed() {
        activitySinceIdleCheck &+= 1
    }

    /// The transport took all the output.
    /// - Parameter pipelineHasRoom: whether the pipeline has a free slot.
    mutating func writeCompleted(pipelineHasRoom: Bool) -> WriteCompletedAction {
        let wasBlocked = writeBlocked
        writeBlocked = false
        if case .closingAfterWrite(let mode) = phase { return .close(close(mode)) }
        if wasBlocked && readHeld && phase == .serving && pipelineHasRoom && !parserBlocked {
            readHeld = false
            return .resumeReading
        }
        return .none
    }

    /// Answers left the pipeline: parse what a full pipeline held back, or read again.
    /// - Parameter pipelineHasRoom: whether the pipeline has a free slot.
    mutating func pipelineDrained(pipelineHasRoom: Bool) -> ResumeAction {
        guard pipelineHasRoom, !parsing, phase == .serving else { return .none }
        if parserBlocked {
            parserBlocked = false
            return .parseHeldInput
        }
        if readHeld && !writeBlocked {
            readHeld = false
            return .resumeReading
        }
        return .none
    }

    // MARK: Ending

    /// Finish what is in flight, then close (graceful shutdown, or the peer's end of stream).
    /// - Parameter inputPending: whether a partial request is held (it will never be answered).
    mutating func drain(inputPending: Bool) {
        if phase == .serving { phase = .finishing }
        if inputPending { unreadInput = true }
    }

    /// The peer's end of stream was read.
    /// - Parameter inputPending: whether a partial request is held.
    /// - Returns: whether to close at once (a lingering connection is done); otherwise flush (the connection
    ///   answers what it received, then closes).
    mutating func endOfStream(inputPending: Bool) -> Bool {
        if phase == .lingering {
            phase = .closed
            return true
        }
        drain(inputPending: inputPending)
        return false
    }

    /// The lingering close began at `now` (our side is shut).
    mutating func lingerStarted(now: UInt64) {
        phase = .lingering
        lingerDeadline = now &+ lingerLimits.nanoseconds
        lingerBytes = 0
    }

    /// The transport failed or reset, or must close at once.
    /// - Returns: whether the engine must close it (false when it is already closed).
    mutating func closeNow() -> Bool {
        guard phase != .closed else { return false }
        phase = .closed
        return true
    }

    /// The engine closed the transport (for example SwiftNIO's channel became inactive).
    mutating func transportClosed() {
        phase = .closed
    }

    /// The idle check of one period: closes a connection that read nothing since the last check and has nothing
    /// in flight, or whose last answer has not moved for a whole period.
    /// - Parameter inFlight: requests parsed and not answered yet.
    /// - Returns: how to close, or nil to keep it.
    mutating func idleCheck(inFlight: Int) -> CloseMode? {
        defer { activitySinceIdleCheck = 0 }
        guard activitySinceIdleCheck == 0, inFlight == 0 else { return nil }
        switch phase {
        case .serving, .finishing: return close(closeMode)
        // The last answer has waited a whole period for a peer that does not read it: give up.
        case .closingAfterWrite: return close(.now)
        case .lingering, .closed: return nil
        }
    }

    /// The read deadline check, run by the engine's periodic sweep (no timer per request). A partial request is
    /// watched from the first sweep that sees it: its head must be complete within ``ReadDeadlines/head``, then its
    /// body within ``ReadDeadlines/body`` (so a deadline fires between its value and its value plus one sweep
    /// period). Input held back by the server (full pipeline, blocked write) is not the client's delay and is not
    /// watched.
    /// - Parameters:
    ///   - now: the sweep's time.
    ///   - partialInput: whether part of a request is held.
    ///   - sequence: the sequence number the partial request will get (the number of requests parsed so far).
    /// - Returns: the deadline missed, or nil.
    mutating func deadlineCheck(now: UInt64, partialInput: Bool, sequence: UInt64) -> DeadlineKind? {
        guard phase == .serving, partialInput, !parserBlocked, !readHeld, !writeBlocked else {
            watchedSequence = .max
            return nil
        }
        let kind = awaitingBody ? DeadlineKind.body : .head
        guard watchedSequence == sequence, watchedKind == kind else {
            watchedSequence = sequence
            watchedKind = kind
            watchedSince = now
            return nil
        }
        let limit = kind == .head ? readDeadlines.head : readDeadlines.body
        guard limit > 0, now &- watchedSince >= limit else { return nil }
        watchedSequence = .max
        return kind
    }

    /// The linger deadline check.
    /// - Returns: whether to close now (a lingering connection's deadline passed).
    mutating func lingerCheck(now: UInt64) -> Bool {
        guard phase == .lingering, now >= lingerDeadline else { return false }
        phase = .closed
        return true
    }
}
