import Synchronization
import TestKit
import Testing

@testable import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

final class SpawnCounter: Sendable {
    let spawned = Locked<[String: Int]>([:])
    let stopped = Atomic<Int>(0)
    func count(_ key: String) -> Int { spawned.withLock { $0[key] ?? 0 } }
}

func makeRegistry(
    _ counter: SpawnCounter, executor: any ActorExecutor, idle: Duration? = nil
) -> ActorRegistry<String, Int> {
    var options = ActorRegistryOptions()
    options.idleTimeout = idle
    options.actor.tracksActivity = true  // the tests call passivateIdle by hand too
    options.sweepInterval = .milliseconds(20)
    return ActorRegistry(executor: executor, options: options) { key in
        counter.spawned.withLock { $0[key, default: 0] += 1 }
        var behavior = counterBehavior()
        behavior.onStop = { _ in counter.stopped.wrappingAdd(1, ordering: .relaxed) }
        return (0, behavior)
    }
}

@Suite("ActorRegistry")
struct ActorRegistryTests {
    @Test("exactly one actor per key when the first messages race")
    func exactlyOne() async {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        let counter = SpawnCounter()
        let registry = makeRegistry(counter, executor: pool)
        let threads = 8
        let perThread = 1_000
        let barrier = Atomic<Int>(0)
        let collector = Collector()
        let workers = (0..<threads).map { thread in
            TestThread {
                barrier.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while barrier.load(ordering: .sequentiallyConsistent) < threads { sched_yield() }
                for index in 0..<perThread {
                    registry.request(
                        Add(amount: 1), to: "hot", replyTo: collector, context: UInt64(thread * perThread + index))
                    registry.request(
                        Add(amount: 1), to: "key-\(index % 50)", replyTo: collector,
                        context: UInt64(1_000_000 + thread * perThread + index))
                }
            }
        }
        for worker in workers { await worker.joined() }
        #expect(await collector.waitFor(2 * threads * perThread))
        #expect(counter.count("hot") == 1)
        for index in 0..<50 { #expect(counter.count("key-\(index)") == 1) }
        let slot = ReplySlot()
        registry.request(Get(), to: "hot", replyTo: slot)
        #expect((try? slot.wait().reply.get(as: Int.self).get()) == threads * perThread)
        #expect(registry.count == 51)
    }

    @Test("idle actors are passivated and stopped; the next message starts a fresh one")
    func passivation() throws {
        let counter = SpawnCounter()
        let registry = makeRegistry(counter, executor: InlineExecutor())
        let slot = ReplySlot()
        registry.request(Add(amount: 3), to: "a", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 3)
        #expect(registry.passivateIdle(olderThan: .seconds(60)) == 0, "not idle long enough")
        #expect(registry.passivateIdle(olderThan: .zero) == 1)
        #expect(counter.stopped.load(ordering: .relaxed) == 1, "the passivated actor was stopped (onStop ran)")
        #expect(registry.count == 0)
        registry.request(Get(), to: "a", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 0)
        #expect(counter.count("a") == 2)
    }

    @Test("a behavior can refuse passivation for states that would be lost")
    func passivatablePredicate() throws {
        let options = ActorRegistryOptions()
        let registry = ActorRegistry<String, Int>(executor: InlineExecutor(), options: options) { _ in
            var behavior = counterBehavior()
            behavior.passivatable = { value in value == 0 }
            return (0, behavior)
        }
        let slot = ReplySlot()
        registry.request(Add(amount: 3), to: "kept", replyTo: slot)
        _ = slot.wait()
        registry.request(Get(), to: "empty", replyTo: slot)
        _ = slot.wait()
        #expect(registry.passivateIdle(olderThan: .zero) == 1, "only the counter at 0 goes")
        registry.request(Get(), to: "kept", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 3)
    }

    @Test("passivation can keep the state for the key's next actor")
    func retainedState() throws {
        var options = ActorRegistryOptions()
        options.actor.tracksActivity = true
        options.retainsPassivatedState = true
        let spawned = SpawnCounter()
        let registry = ActorRegistry<String, Int>(executor: InlineExecutor(), options: options) { key in
            spawned.spawned.withLock { $0[key, default: 0] += 1 }
            return (0, counterBehavior())
        }
        let slot = ReplySlot()
        registry.request(Add(amount: 5), to: "a", replyTo: slot)
        _ = slot.wait()
        #expect(registry.passivateIdle(olderThan: .zero) == 1)
        #expect(registry.count == 0)
        #expect(registry.dormantCount == 1)
        registry.request(Add(amount: 2), to: "a", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 7, "the new actor started from the kept state")
        #expect(spawned.count("a") == 2)
        #expect(registry.dormantCount == 0)
    }

    @Test("the background sweeper passivates idle actors")
    func sweeper() async {
        let counter = SpawnCounter()
        let registry = makeRegistry(counter, executor: InlineExecutor(), idle: .milliseconds(30))
        try? registry.tell(Add(amount: 1), to: "x")
        #expect(await eventually { registry.count == 0 })
        // The actor leaves the table first, then its last turn runs `onStop` (on the sweeper's thread): wait for
        // that too rather than race it.
        #expect(await eventually { counter.stopped.load(ordering: .relaxed) == 1 })
        registry.shutdown()
    }

    @Test("messages racing passivation are never lost; with kept state the sum is exact", arguments: [false, true])
    func passivationRace(retainsState: Bool) async {
        let pool = WorkerPool(threadCount: 2)
        defer { pool.shutdown() }
        var options = ActorRegistryOptions()
        options.actor.tracksActivity = true
        options.retainsPassivatedState = retainsState
        let registry = ActorRegistry<String, Int>(executor: pool, options: options) { _ in (0, counterBehavior()) }
        let running = Atomic<Bool>(true)
        let sweeper = TestThread {
            while running.load(ordering: .relaxed) { registry.passivateIdle(olderThan: .zero) }
        }
        let collector = Collector()
        let total = 20_000
        for index in 0..<total {
            registry.request(Add(amount: 1), to: "k\(index % 4)", replyTo: collector, context: UInt64(index))
        }
        #expect(await collector.waitFor(total))
        running.store(false, ordering: .relaxed)
        await sweeper.joined()
        let failures = collector.replies.withLock { replies in
            replies.values.filter { if case .failure = $0 { return true } else { return false } }.count
        }
        #expect(failures == 0, "no request failed because its actor was passivated")
        if retainsState {
            var sum = 0
            let slot = ReplySlot()
            for key in 0..<4 {
                registry.request(Get(), to: "k\(key)", replyTo: slot)
                sum += (try? slot.wait().reply.get(as: Int.self).get()) ?? -1_000_000
            }
            #expect(sum == total, "no increment was lost across passivations")
        }
    }

    @Test("an actor stopped by hand is replaced by a fresh one on its key's next message")
    func stoppedActorIsReplaced() throws {
        let counter = SpawnCounter()
        let registry = makeRegistry(counter, executor: InlineExecutor())
        let slot = ReplySlot()
        registry.request(Add(amount: 5), to: "s", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 5)
        registry.actor(for: "s").stop()
        registry.request(Add(amount: 2), to: "s", replyTo: slot)
        #expect(try slot.wait().reply.get(as: Int.self).get() == 2, "a new actor, from the factory's state")
        #expect(counter.count("s") == 2)
        #expect(counter.stopped.load(ordering: .relaxed) == 1)
        #expect(registry.count == 1)
        #expect(registry.metrics.actorsAlive.load(ordering: .relaxed) == 1)
    }

    @Test("shutdown answers queued requests and refuses new ones")
    func shutdown() async {
        let counter = SpawnCounter()
        let pool = WorkerPool(threadCount: 1)
        defer { pool.shutdown() }
        let registry = makeRegistry(counter, executor: pool)
        // Hold the actor of "q" inside a turn, queue three increments behind it, then shut down.
        let gate = Gate()
        let queued = Collector()
        registry.request(Block(gate: gate), to: "q", replyTo: queued, context: 0)
        #expect(await gate.waitEntered())
        for index in 1...3 { registry.request(Add(amount: 1), to: "q", replyTo: queued, context: UInt64(index)) }
        registry.shutdown()
        gate.release()
        #expect(await queued.waitFor(4))
        for index in 1...3 { #expect(queued.error(UInt64(index))?.code == .stopped, "queued request \(index)") }
        let collector = Collector()
        registry.request(Add(amount: 1), to: "z", replyTo: collector, context: 1)
        #expect(collector.error(1)?.code == .stopped)
        let late = registry.actor(for: "y")
        #expect(late.isStopped, "no live actor is spawned after shutdown")
        #expect(registry.count == 0)
    }
}
