import ClstrRuntime
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TestKit
import Testing

@testable import HTTPFront

#if canImport(Glibc)
    import Glibc
#endif

private struct Bump: ActorMessage {
    typealias Reply = Int
}

private struct Peek: ActorMessage {
    typealias Reply = Int
}

@Suite("EpollLoopGroup as the actors' executor")
struct EpollLoopGroupTests {
    @Test("turns posted from many threads all run, one at a time, on the loop that owns the affinity")
    func turnsRunOnTheirLoop() async throws {
        let loops = EpollLoopGroup(threads: 2, name: "exec")
        defer { loops.shutdown() }
        let offLoop = Atomic<Int>(0)
        let concurrent = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let owner = loops.loops[1]
        var behavior = ActorBehavior<Int>()
        behavior.on(Bump.self) { value, _ in
            if concurrent.wrappingAdd(1, ordering: .relaxed).newValue > 1 {
                overlaps.wrappingAdd(1, ordering: .relaxed)
            }
            if !owner.inLoop { offLoop.wrappingAdd(1, ordering: .relaxed) }
            value += 1
            concurrent.wrappingSubtract(1, ordering: .relaxed)
            return value
        }
        behavior.on(Peek.self) { value, _ in value }
        var options = ActorOptions()
        options.affinity = 3  // 3 % 2 → loop 1
        options.mailboxCapacity = 1 << 16
        let actor = ActorRef(state: 0, behavior: behavior, executor: loops, options: options)
        let threads = 4
        let perThread = 5_000
        var workers: [Thread] = []
        for _ in 0..<threads {
            let thread = Thread {
                for _ in 0..<perThread { try? actor.tell(Bump()) }
            }
            thread.start()
            workers.append(thread)
        }
        // Also from a loop thread that does not own the actor.
        loops.loops[0].execute {
            for _ in 0..<perThread { try? actor.tell(Bump()) }
        }
        let total = threads * perThread + perThread
        let value = try await waitForValue(actor, atLeast: total)
        #expect(value == total)
        #expect(offLoop.load(ordering: .relaxed) == 0)
        #expect(overlaps.load(ordering: .relaxed) == 0)
    }

    private func waitForValue(_ actor: ActorRef<Int>, atLeast total: Int) async throws -> Int {
        var value = 0
        for _ in 0..<500 {
            value = try await actor.request(Peek())
            if value >= total { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
        return value
    }
}

@Suite("EpollServerLoop inbox")
struct EpollServerLoopInboxTests {
    @Test("posts beyond the inbox ring's capacity spill over and all run, none twice")
    func overflowRunsEverything() async throws {
        let loops = EpollLoopGroup(threads: 1, name: "inbox")
        defer { loops.shutdown() }
        let loop = loops.loops[0]
        let gate = Atomic<Bool>(false)
        let ran = Atomic<Int>(0)
        let sum = Atomic<Int>(0)
        // Hold the loop so that the ring (4,096) fills and the rest spills into the overflow list.
        loop.execute { while !gate.load(ordering: .acquiring) { sched_yield() } }
        let total = 20_000
        let producers = 4
        let producersDone = Atomic<Int>(0)
        var threads: [Thread] = []
        for producer in 0..<producers {
            let thread = Thread {
                defer { producersDone.wrappingAdd(1, ordering: .releasing) }
                for index in 0..<(total / producers) {
                    let value = producer * (total / producers) + index
                    loop.execute {
                        ran.wrappingAdd(1, ordering: .relaxed)
                        sum.wrappingAdd(value, ordering: .relaxed)
                    }
                }
            }
            thread.start()
            threads.append(thread)
        }
        // Every post made while the loop is held: the ring is full and the rest has spilled.
        #expect(ChildProcess.waitUntil(timeout: 30) { producersDone.load(ordering: .acquiring) == producers })
        #expect(loop.inbox.spillCount >= total - 4_096)
        gate.store(true, ordering: .releasing)
        #expect(ChildProcess.waitUntil(timeout: 30) { ran.load(ordering: .relaxed) == total })
        #expect(ran.load(ordering: .relaxed) == total)
        #expect(sum.load(ordering: .relaxed) == (0..<total).reduce(0, +))
    }
}

@Suite("Overflow policy .wait on the event-loop executors")
struct OverflowOnLoopTests {
    /// Fills the mailbox (capacity 2) of an actor owned by loop 0 while its turn waits on loop 0, from loop 0
    /// itself, and returns the errors of the sends from there.
    static func sendsFromOwningLoop(
        executor: any ActorExecutor, ownerExecute: (@escaping @Sendable () -> Void) -> Void,
        otherExecute: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void
    ) -> [RequestError.Code?] {
        var behavior = ActorBehavior<Int>()
        behavior.on(Bump.self) { value, _ in
            value += 1
            return value
        }
        var options = ActorOptions()
        options.affinity = 0
        options.mailboxCapacity = 2
        #expect(options.overflow == .wait, "the default")
        let actor = ActorRef(state: 0, behavior: behavior, executor: executor, options: options)
        let scheduled = Atomic<Bool>(false)
        let errors = Locked<[RequestError.Code?]>([])
        let done = DispatchSemaphore(value: 0)
        ownerExecute {
            // Another loop sends first: the actor's turn is posted to this loop, which is busy here.
            otherExecute {
                try? actor.tell(Bump())
                scheduled.store(true, ordering: .sequentiallyConsistent)
            }
            while !scheduled.load(ordering: .sequentiallyConsistent) {}
            for _ in 0..<3 {
                do {
                    // A deadline, so that a sender that waits for itself ends (as deadlineExceeded) instead of
                    // hanging the test.
                    try actor.tell(Bump(), deadline: MonotonicClock.now() &+ 2_000_000_000)
                    errors.withLock { $0.append(nil) }
                } catch let error as RequestError {
                    errors.withLock { $0.append(error.code) }
                } catch {
                    errors.withLock { $0.append(RequestError.Code(rawValue: "unexpected")) }
                }
            }
            done.signal()
        }
        _ = done.wait(timeout: .now() + 30)
        return errors.withLock { $0 }
    }

    @Test("epoll loops: a send from the loop that owns the actor fails at once instead of waiting for itself")
    func epollLoopDoesNotWaitForItself() async throws {
        let loops = EpollLoopGroup(threads: 2, name: "ovf")
        defer { loops.shutdown() }
        let errors = await withBlockingAllowed {
            Self.sendsFromOwningLoop(
                executor: loops, ownerExecute: { loops.loops[0].execute($0) },
                otherExecute: { loops.loops[1].execute($0) })
        }
        #expect(errors == [nil, .mailboxFull, .mailboxFull])
        #expect(loops.callerMayWait(forAffinity: 0), "the test thread may wait")
        let onOwner = Locked<Bool?>(nil)
        let onOther = Locked<Bool?>(nil)
        let checked = DispatchSemaphore(value: 0)
        loops.loops[0].execute {
            onOwner.withLock { $0 = loops.callerMayWait(forAffinity: 2) }
            loops.loops[1].execute {
                onOther.withLock { $0 = loops.callerMayWait(forAffinity: 2) }
                checked.signal()
            }
        }
        _ = checked.wait(timeout: .now() + 10)
        #expect(onOwner.withLock { $0 } == false, "loop 0 runs affinity 2's turns")
        #expect(onOther.withLock { $0 } == true, "loop 1 may wait for loop 0")
    }

    @Test("SwiftNIO loops: a send from the loop that owns the actor fails at once instead of waiting for itself")
    func nioLoopDoesNotWaitForItself() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let executor = EventLoopExecutor(group: group)
        let errors = await withBlockingAllowed {
            Self.sendsFromOwningLoop(
                executor: executor, ownerExecute: { executor.loops[0].execute($0) },
                otherExecute: { executor.loops[1].execute($0) })
        }
        #expect(errors == [nil, .mailboxFull, .mailboxFull])
        #expect(executor.callerMayWait(forAffinity: 0), "the test thread may wait")
        try await group.shutdownGracefully()
    }
}

/// Counts calls made during a loop turn and records each flush at the end of a turn.
private final class TurnProbe: TurnEndFlusher, @unchecked Sendable {
    // @unchecked Sendable: `scheduled` and `pendingCalls` are touched only on the loop's thread (the calls and
    // the flush both run there); the test reads the results through `flushes`, a lock.
    private var scheduled = false
    private var pendingCalls = 0
    let flushes = Locked<[Int]>([])
    let waiter = Locked<CheckedContinuation<Void, Never>?>(nil)

    /// Called on the loop: counts the call and defers a flush to the end of the loop's turn (-1 without one).
    func call(on boundary: TurnBoundary?) {
        guard let boundary else { return record(-1) }
        pendingCalls += 1
        if !scheduled {
            scheduled = true
            boundary.defer(self)
        }
    }

    func flushAtEndOfTurn() {
        scheduled = false
        let calls = pendingCalls
        pendingCalls = 0
        record(calls)
    }

    private func record(_ value: Int) {
        flushes.withLock { $0.append(value) }
        let waiter = self.waiter.withLock { waiter in
            defer { waiter = nil }
            return waiter
        }
        waiter?.resume()
    }

    /// Runs `calls` calls in one closure on `loop` and waits for the flush that follows.
    func turn(on loop: EpollServerLoop, calls: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiter.withLock { $0 = continuation }
            loop.execute { for _ in 0..<calls { self.call(on: TurnBoundary.current) } }
        }
    }
}

@Suite("EpollServerLoop ends a turn after each round of work")
struct EpollTurnBoundaryTests {
    @Test("work on a loop thread sees a turn boundary; what a turn defers is flushed once when the turn ends")
    func deferredWorkIsFlushed() async throws {
        let loops = EpollLoopGroup(threads: 1, name: "turns")
        defer { loops.shutdown() }
        let probe = TurnProbe()
        await probe.turn(on: loops.loops[0], calls: 3)
        await probe.turn(on: loops.loops[0], calls: 1)  // a batch of one is flushed at its turn's end too
        #expect(probe.flushes.withLock { $0 } == [3, 1])
        #expect(TurnBoundary.current == nil, "a cooperative-pool thread has no turn")
    }

    @Test("TurnBoundary.run flushes at its end, and a nested run leaves the flush to the outer one")
    func runFlushesAtItsEnd() {
        let probe = TurnProbe()
        TurnBoundary.run {
            probe.call(on: TurnBoundary.current)
            TurnBoundary.run { probe.call(on: TurnBoundary.current) }
            #expect(probe.flushes.withLock { $0 }.isEmpty)
        }
        #expect(probe.flushes.withLock { $0 } == [2])
        #expect(TurnBoundary.current == nil)
    }
}
