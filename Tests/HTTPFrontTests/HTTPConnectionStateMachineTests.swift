import Testing

@testable import HTTPFront

/// The connection's life as a value: every transition and the action it returns, no socket.
@Suite("HTTPConnectionStateMachine as a value")
struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine

    @Test("keep-alive: requests are parsed, answers written once per batch, nothing closes")
    func keepAlive() {
        var machine = Machine()
        do {
            let result = machine.mayRead(pipelineHasRoom: true)
            #expect(result)
        }
        do {
            let result = machine.bytesReceived(40)
            #expect(result == .parse)
        }
        machine.parseStarted()
        machine.requestParsed(keepAlive: true)
        machine.answerWritten(keepAlive: true)
        machine.parseEnded(pipelineFull: false)
        #expect(machine.inReadBatch)
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .write)
        }
        do {
            let result = machine.writeCompleted(pipelineHasRoom: true)
            #expect(result == .none)
        }
        do {
            let result = machine.flush(hasOutput: false, allAnswered: true)
            #expect(result == .none)
        }
        #expect(machine.phase == .serving)
    }

    @Test("Connection: close: no further parsing, bytes after it are unread, the last answer closes lingering")
    func connectionClose() {
        var machine = Machine()
        _ = machine.bytesReceived(80)
        machine.parseStarted()
        machine.requestParsed(keepAlive: false)
        #expect(!machine.parsesRequests)
        machine.inputLeftOver()
        machine.parseEnded(pipelineFull: false)
        machine.readBatchEnded()
        // The answer is not written yet: nothing to flush, and no read either.
        do {
            let result = machine.flush(hasOutput: false, allAnswered: false)
            #expect(result == .none)
        }
        do {
            let result = machine.mayRead(pipelineHasRoom: true)
            #expect(!result)
        }
        machine.answerWritten(keepAlive: false)
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .writeThenClose(.linger))
        }
        do {
            let result = machine.writeCompleted(pipelineHasRoom: true)
            #expect(result == .close(.linger))
        }
        #expect(machine.phase == .lingering)
    }

    @Test("Connection: close with nothing after it closes at once after the write")
    func connectionCloseClean() {
        var machine = Machine()
        _ = machine.bytesReceived(40)
        machine.requestParsed(keepAlive: false)
        machine.answerWritten(keepAlive: false)
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .writeThenClose(.now))
        }
        do {
            let result = machine.writeCompleted(pipelineHasRoom: true)
            #expect(result == .close(.now))
        }
        #expect(machine.isClosed)
        do {
            let result = machine.closeNow()
            #expect(!result, "closed once")
        }
    }

    @Test("a refused request is answered, then the connection lingers (the peer may still be sending)")
    func refusal() {
        var machine = Machine()
        _ = machine.bytesReceived(100)
        machine.parseStarted()
        machine.requestRefused()
        machine.answerWritten(keepAlive: false)
        machine.parseEnded(pipelineFull: false)
        // More of the refused body arrives in the same batch: dropped.
        do {
            let result = machine.bytesReceived(1_000)
            #expect(result == .drop)
        }
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .writeThenClose(.linger))
        }
    }

    @Test("a blocked write holds output and reading; its completion writes the rest and resumes reading")
    func blockedWrite() {
        var machine = Machine()
        _ = machine.bytesReceived(40)
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .write)
        }
        machine.writeWouldBlock()
        do {
            let result = machine.mayRead(pipelineHasRoom: true)
            #expect(!result, "no reading while answers wait for the socket")
        }
        #expect(machine.readHeld)
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .none, "appended output waits too")
        }
        do {
            let result = machine.writeCompleted(pipelineHasRoom: true)
            #expect(result == .resumeReading)
        }
        #expect(!machine.readHeld)
        do {
            let result = machine.mayRead(pipelineHasRoom: true)
            #expect(result)
        }
    }

    @Test("the last answer blocked: the close waits for the write; an idle period without progress gives up")
    func blockedLastAnswer() {
        var machine = Machine()
        _ = machine.bytesReceived(40)
        machine.requestParsed(keepAlive: false)
        machine.answerWritten(keepAlive: false)
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .writeThenClose(.now))
        }
        machine.writeWouldBlock()
        #expect(machine.phase == .closingAfterWrite(.now))
        machine.outputProgressed()
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == nil, "the peer reads, slowly")
        }
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == .now, "a whole period without progress")
        }
        #expect(machine.isClosed)
    }

    @Test("a full pipeline blocks the parser and reading; answers resume parsing, then reading")
    func pipelineFull() {
        var machine = Machine()
        _ = machine.bytesReceived(4_000)
        machine.parseStarted()
        machine.parseEnded(pipelineFull: true)
        machine.readBatchEnded()
        do {
            let result = machine.mayRead(pipelineHasRoom: false)
            #expect(!result)
        }
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: false)
            #expect(result == .none, "still full")
        }
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .parseHeldInput)
        }
        machine.parseStarted()
        machine.parseEnded(pipelineFull: false)
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .resumeReading)
        }
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .none, "resumed once")
        }
    }

    @Test("answers during a parse do not re-enter it")
    func noReentrantParse() {
        var machine = Machine()
        machine.parseStarted()
        _ = machine.mayRead(pipelineHasRoom: false)
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .none)
        }
        machine.parseEnded(pipelineFull: false)
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .resumeReading)
        }
    }

    @Test("end of stream: what is in flight is answered, then the connection closes; nothing more is parsed")
    func endOfStream() {
        var machine = Machine()
        _ = machine.bytesReceived(40)
        machine.requestParsed(keepAlive: true)
        do {
            let result = machine.endOfStream(inputPending: false)
            #expect(!result)
        }
        machine.readBatchEnded()
        do {
            let result = machine.flush(hasOutput: false, allAnswered: false)
            #expect(result == .none, "the deferred answer is awaited")
        }
        #expect(machine.acceptsAnswers)
        machine.answerWritten(keepAlive: false)
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .writeThenClose(.now))
        }
    }

    @Test("graceful drain of an idle connection closes at once; of a busy one after its answers")
    func drain() {
        var idle = Machine()
        idle.drain(inputPending: false)
        do {
            let result = idle.flush(hasOutput: false, allAnswered: true)
            #expect(result == .close(.now))
        }
        #expect(idle.isClosed)

        var partial = Machine()
        partial.drain(inputPending: true)
        do {
            let result = partial.flush(hasOutput: false, allAnswered: true)
            #expect(result == .close(.linger), "a partial request is unread")
        }
    }

    @Test("idle: a period with a read keeps the connection; one without, and nothing in flight, closes it")
    func idle() {
        var machine = Machine()
        _ = machine.bytesReceived(40)
        machine.readBatchEnded()
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == nil, "it read during the period")
        }
        do {
            let result = machine.idleCheck(inFlight: 1)
            #expect(result == nil, "a request is in flight")
        }
        #expect(machine.phase == .serving)
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == .now)
        }
        #expect(machine.isClosed)
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == nil, "closed once")
        }
    }

    @Test("lingering: input is dropped up to the byte limit, then the connection closes at once")
    func lingerByteLimit() {
        var machine = Machine(lingerLimits: .init(nanoseconds: 2_000_000_000, bytes: 1 << 20))
        machine.requestRefused()
        do {
            let result = machine.flush(hasOutput: false, allAnswered: true)
            #expect(result == .close(.linger))
        }
        machine.lingerStarted(now: 1_000)
        do {
            let result = machine.mayRead(pipelineHasRoom: false)
            #expect(result, "a lingering connection reads (and drops)")
        }
        do {
            let result = machine.bytesReceived(1 << 19)
            #expect(result == .drop)
        }
        do {
            let result = machine.bytesReceived(1 << 19)
            #expect(result == .drop, "exactly the limit")
        }
        do {
            let result = machine.bytesReceived(1)
            #expect(result == .closeNow)
        }
        #expect(machine.isClosed)
    }

    @Test("lingering: the deadline closes the connection; the peer's end of stream closes it earlier")
    func lingerDeadline() {
        var machine = Machine(lingerLimits: .init(nanoseconds: 2_000_000_000, bytes: 1 << 20))
        machine.requestRefused()
        _ = machine.flush(hasOutput: false, allAnswered: true)
        machine.lingerStarted(now: 10_000_000_000)
        do {
            let result = machine.lingerCheck(now: 11_999_999_999)
            #expect(!result)
        }
        do {
            let result = machine.idleCheck(inFlight: 0)
            #expect(result == nil, "the idle check leaves a lingering connection alone")
        }
        do {
            let result = machine.lingerCheck(now: 12_000_000_000)
            #expect(result)
        }
        #expect(machine.isClosed)

        var early = Machine()
        early.requestRefused()
        _ = early.flush(hasOutput: false, allAnswered: true)
        early.lingerStarted(now: 0)
        do {
            let result = early.endOfStream(inputPending: false)
            #expect(result, "end of stream while lingering: close now")
        }
        #expect(early.isClosed)
    }

    @Test("an error closes once; nothing is read, parsed or written after")
    func errorCloses() {
        var machine = Machine()
        do {
            let result = machine.closeNow()
            #expect(result)
        }
        do {
            let result = machine.closeNow()
            #expect(!result)
        }
        do {
            let result = machine.mayRead(pipelineHasRoom: true)
            #expect(!result)
        }
        do {
            let result = machine.bytesReceived(10)
            #expect(result == .drop)
        }
        #expect(!machine.acceptsAnswers)
        do {
            let result = machine.flush(hasOutput: true, allAnswered: true)
            #expect(result == .none)
        }
        do {
            let result = machine.pipelineDrained(pipelineHasRoom: true)
            #expect(result == .none)
        }
    }

    @Test("read deadlines: a partial head is watched from the first sweep that sees it and misses at its limit")
    func headDeadline() {
        var machine = Machine(readDeadlines: .init(head: 200, body: 500))
        _ = machine.bytesReceived(3)
        machine.readBatchEnded()
        #expect(machine.deadlineCheck(now: 1_000, partialInput: true, sequence: 0) == nil, "first seen")
        // More bytes of the same head (a trickle) do not restart it.
        _ = machine.bytesReceived(1)
        machine.readBatchEnded()
        #expect(machine.deadlineCheck(now: 1_199, partialInput: true, sequence: 0) == nil)
        #expect(machine.deadlineCheck(now: 1_200, partialInput: true, sequence: 0) == .head)
        #expect(machine.phase == .serving, "the session answers 408, which closes")
    }

    @Test("read deadlines: a completed request restarts the watch; no partial input clears it")
    func deadlineRestarts() {
        var machine = Machine(readDeadlines: .init(head: 200, body: 500))
        #expect(machine.deadlineCheck(now: 0, partialInput: true, sequence: 0) == nil)
        machine.requestParsed(keepAlive: true)
        // The next request (sequence 1) is partial: watched from now, not from 0.
        #expect(machine.deadlineCheck(now: 150, partialInput: true, sequence: 1) == nil)
        #expect(machine.deadlineCheck(now: 300, partialInput: true, sequence: 1) == nil)
        #expect(machine.deadlineCheck(now: 349, partialInput: false, sequence: 2) == nil, "nothing held")
        #expect(machine.deadlineCheck(now: 400, partialInput: true, sequence: 2) == nil)
        #expect(machine.deadlineCheck(now: 600, partialInput: true, sequence: 2) == .head)
    }

    @Test("read deadlines: the body is timed from the end of its head, with its own limit")
    func bodyDeadline() {
        var machine = Machine(readDeadlines: .init(head: 200, body: 500))
        #expect(machine.deadlineCheck(now: 0, partialInput: true, sequence: 0) == nil)
        machine.headCompleted()
        #expect(machine.awaitingBody)
        #expect(machine.deadlineCheck(now: 150, partialInput: true, sequence: 0) == nil, "the body's watch starts")
        #expect(machine.deadlineCheck(now: 600, partialInput: true, sequence: 0) == nil, "head limit does not apply")
        #expect(machine.deadlineCheck(now: 650, partialInput: true, sequence: 0) == .body)
        machine.requestParsed(keepAlive: true)
        #expect(!machine.awaitingBody)
    }

    @Test("read deadlines: input held back by the server is not watched; none when disabled or finishing")
    func deadlineExceptions() {
        var machine = Machine(readDeadlines: .init(head: 200, body: 500))
        #expect(machine.deadlineCheck(now: 0, partialInput: true, sequence: 0) == nil)
        let mayRead = machine.mayRead(pipelineHasRoom: false)
        #expect(!mayRead, "pipeline full: reading held")
        #expect(machine.deadlineCheck(now: 1_000, partialInput: true, sequence: 0) == nil, "held: not the client")
        #expect(machine.pipelineDrained(pipelineHasRoom: true) == .resumeReading)
        #expect(machine.deadlineCheck(now: 1_100, partialInput: true, sequence: 0) == nil, "watched anew")
        #expect(machine.deadlineCheck(now: 1_300, partialInput: true, sequence: 0) == .head)

        var disabled = Machine(readDeadlines: .init(head: 0, body: 0))
        #expect(disabled.deadlineCheck(now: 0, partialInput: true, sequence: 0) == nil)
        #expect(disabled.deadlineCheck(now: .max / 2, partialInput: true, sequence: 0) == nil)

        var finishing = Machine(readDeadlines: .init(head: 200, body: 500))
        finishing.requestParsed(keepAlive: false)
        #expect(finishing.deadlineCheck(now: 0, partialInput: true, sequence: 1) == nil)
        #expect(finishing.deadlineCheck(now: 1_000, partialInput: true, sequence: 1) == nil)
    }
}
