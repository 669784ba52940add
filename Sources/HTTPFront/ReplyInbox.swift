import NIOCore
import ClstrRuntime
import Synchronization

/// Carries replies that arrive off an event loop onto it in batches: one `execute` per batch, not per reply.
///
/// Producers (actor turns on other threads) enqueue into a lock-free ring and schedule a drain only when none is
/// pending; the drain runs on the loop and completes each reply on its connection. When the ring is full a reply
/// falls back to its own `execute`, so nothing waits.
final class ReplyInbox: Sendable {
    struct Item: Sendable {
        let connection: HTTPSession
        let outcome: Outcome
        let context: UInt64
    }

    let loop: any EventLoop
    private let ring: MPSCRing<Item>
    private let drainScheduled = Atomic<Bool>(false)

    /// - Parameters:
    ///   - loop: the loop that drains.
    ///   - capacity: ring slots.
    init(loop: any EventLoop, capacity: Int = 4_096) {
        self.loop = loop
        self.ring = MPSCRing(minimumCapacity: capacity)
    }

    /// Posts a reply for `connection` (from any thread but the loop's).
    func post(_ connection: HTTPConnectionHandler, outcome: Outcome, context: UInt64) {
        guard ring.enqueue(Item(connection: connection, outcome: outcome, context: context)) else {
            loop.execute { connection.complete(sequence: context, outcome: outcome) }
            return
        }
        // Sequentially consistent: pairs with the drain's reset below. Either this exchange sees `false` and
        // schedules a drain, or it sees `true` set before the drain's reset, and that drain's dequeues (after the
        // reset) see the element published before this exchange.
        if !drainScheduled.exchange(true, ordering: .sequentiallyConsistent) {
            loop.execute { self.drain() }
        }
    }

    /// Completes every queued reply (on the loop).
    private func drain() {
        drainScheduled.store(false, ordering: .sequentiallyConsistent)
        // The dequeues below must not move before the reset (a store → load order needs a full fence on weakly
        // ordered CPUs).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        while let item = ring.dequeue() {
            item.connection.complete(sequence: item.context, outcome: item.outcome)
        }
    }
}
