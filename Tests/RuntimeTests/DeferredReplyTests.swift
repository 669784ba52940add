import Synchronization
import Testing

@testable import ClstrRuntime

/// A deferred request: its handler parks the reply and the actor's suspension in `Parked`.
struct Defer: ActorMessage {
    typealias Reply = Int
    let parked: Parked
}

/// A deferred request resumed before its handler returns (a synchronous completion).
struct DeferSync: ActorMessage {
    typealias Reply = Int
}

/// Holds what a deferred handler handed out, for the test to complete from its own thread.
final class Parked: Sendable {
    let pending = Mutex<[(DeferredReply<Int>, ActorSuspension, Int)]>([])
    /// One element per parked request.
    let arrivals: AsyncStream<Void>
    let arrived: AsyncStream<Void>.Continuation

    init() {
        (arrivals, arrived) = AsyncStream<Void>.makeStream()
    }

    func park(_ entry: (DeferredReply<Int>, ActorSuspension, Int)) {
        pending.withLock { $0.append(entry) }
        arrived.yield()
    }

    func takeFirst() -> (DeferredReply<Int>, ActorSuspension, Int)? {
        pending.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}

@Suite struct DeferredReplyTests {
    func makeActor(pool: WorkerPool) -> ActorRef<Int> {
        var behavior = ActorBehavior<Int>()
        behavior.on(Add.self) { value, message in
            value += message.amount
            return value
        }
        behavior.onDeferred(Defer.self) { value, message, reply, turn in
            value += 1
            let suspension = turn.suspend()
            let snapshot = value
            message.parked.park((reply, suspension, snapshot))
        }
        behavior.onDeferred(DeferSync.self) { value, _, reply, turn in
            value += 100
            let suspension = turn.suspend()
            reply.succeed(value)
            suspension.resume()
        }
        return ActorRef(state: 0, behavior: behavior, executor: pool)
    }

    @Test(.timeLimit(.minutes(1)))
    func laterMessagesWaitWhileSuspended() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let actor = makeActor(pool: pool)
        let parked = Parked()
        async let deferred = actor.request(Defer(parked: parked))
        // Wait until the deferred handler ran (it parks its reply).
        var arrivals = parked.arrivals.makeAsyncIterator()
        _ = await arrivals.next()
        let slot = ReplySlot()
        actor.request(Add(amount: 10), replyTo: slot)
        // The Add waits in the mailbox while the actor is suspended.
        #expect(actor.mailboxDepth == 1)
        #expect(!slot.hasReply)
        let (reply, suspension, value) = try #require(parked.takeFirst())
        reply.succeed(value)
        suspension.resume()
        #expect(try await deferred == 1)
        // After the resume, the Add runs: 1 + 10.
        let added = await Task.detached { slot.wait() }.value
        #expect(try added.reply.get(as: Int.self).get() == 11)
    }

    @Test(.timeLimit(.minutes(1)))
    func resumeBeforeTheHandlerReturnsContinuesTheTurn() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let actor = makeActor(pool: pool)
        #expect(try await actor.request(DeferSync()) == 100)
        #expect(try await actor.request(Add(amount: 1)) == 101)
        #expect(try await actor.request(DeferSync()) == 201)
    }

    @Test(.timeLimit(.minutes(1)))
    func everyDeferredReplyArrivesOnce() async throws {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let actor = makeActor(pool: pool)
        let parked = Parked()
        let total = 200
        // A completer thread answers parked requests from outside the actor's turns.
        let done = Atomic<Bool>(false)
        let completer = Task.detached {
            var answered = 0
            for await _ in parked.arrivals {
                let (reply, suspension, value) = parked.takeFirst()!
                reply.succeed(value)
                suspension.resume()
                answered += 1
                if answered == total { break }
            }
            done.store(true, ordering: .releasing)
        }
        let replies = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<total { group.addTask { try await actor.request(Defer(parked: parked)) } }
            var all: [Int] = []
            for try await reply in group { all.append(reply) }
            return all
        }
        await completer.value
        let observed8 = done.load(ordering: .acquiring)
        #expect(observed8)
        // One reply per request, each for a distinct turn.
        #expect(replies.sorted() == Array(1...total))
    }
}
