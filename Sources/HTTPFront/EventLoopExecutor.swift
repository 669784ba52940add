import NIOCore
import ClstrRuntime
import Synchronization

/// Runs actor turns on SwiftNIO event loops: shard-per-core serving.
///
/// A turn with affinity `a` (the actor's shard) runs on loop `a % loops.count`: at once when the caller already
/// runs on that loop (a request that lands on the loop owning its shard is served inline, with no thread
/// handoff), otherwise through one `eventLoop.execute`.
public final class EventLoopExecutor: ActorExecutor {
    /// The loops, in the group's order.
    public let loops: [any EventLoop]
    private let roundRobin = Atomic<Int>(0)

    /// Creates an executor over the loops of `group`.
    /// - Parameter group: the event loop group (usually the one that serves HTTP).
    public init(group: any EventLoopGroup) {
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() { loops.append(loop) }
        precondition(!loops.isEmpty, "an event loop group without loops")
        self.loops = loops
    }

    public func execute(_ job: any ActorJob, affinity: Int) {
        // Relaxed: round-robin needs only distinct-enough values, no ordering.
        let index =
            affinity >= 0
            ? affinity % loops.count : roundRobin.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count
        let loop = loops[index]
        if loop.inEventLoop {
            job.runTurn()
        } else {
            loop.execute { job.runTurn() }
        }
    }

    /// Whether the caller may wait for a turn of `affinity`: not on the loop that runs it (any loop of the group for
    /// round-robin jobs, `-1`), which would wait for itself.
    public func callerMayWait(forAffinity affinity: Int) -> Bool {
        if affinity >= 0 { return !loops[affinity % loops.count].inEventLoop }
        return !loops.contains { $0.inEventLoop }
    }
}
