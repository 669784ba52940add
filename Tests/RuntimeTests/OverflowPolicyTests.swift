import ClstrRuntime
import Testing

private struct WhereMayIWait: ActorMessage {
    typealias Reply = [Bool]
}

@Suite("Overflow policy .wait: executors say where a sender may wait")
struct OverflowPolicyTests {
    @Test("WorkerPool: not on the worker that runs the actor (nor on any worker for round-robin actors)")
    func workerPool() throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        #expect(ActorOptions().overflow == .wait, "the default")
        var behavior = ActorBehavior<Int>()
        behavior.on(WhereMayIWait.self) { _, _ in
            [
                pool.callerMayWait(forAffinity: 0), pool.callerMayWait(forAffinity: 2),
                pool.callerMayWait(forAffinity: 1), pool.callerMayWait(forAffinity: -1),
            ]
        }
        var options = ActorOptions()
        options.affinity = 0
        let actor = ActorRef(state: 0, behavior: behavior, executor: pool, options: options)
        let slot = ReplySlot()
        actor.request(WhereMayIWait(), replyTo: slot)
        // On worker 0: affinities 0 and 2 run here; 1 runs on worker 1; round-robin may run here.
        #expect(try slot.wait().reply.get(as: [Bool].self).get() == [false, false, true, false])
        #expect(pool.callerMayWait(forAffinity: 0) && pool.callerMayWait(forAffinity: -1), "any other thread may wait")
    }

    @Test("InlineExecutor: never (the caller may be the thread in the actor's turn)")
    func inline() {
        #expect(!InlineExecutor().callerMayWait(forAffinity: 0))
    }
}
