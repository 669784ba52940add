import Synchronization

/// Lock-free counters an actor (or a registry of actors) reports into; read when metrics are scraped.
///
/// Counters are relaxed atomics: a scrape needs no ordering with the messages it counts. Handler durations go
/// into a fixed-bucket histogram of atomics (``AtomicHistogram``).
public final class ActorMetrics: Sendable {
    /// Messages handled (successfully or not).
    public let messages = Atomic<Int>(0)
    /// Messages whose handler threw.
    public let failures = Atomic<Int>(0)
    /// Messages dropped from a turn because their deadline had passed (answered with `deadlineExceeded`).
    public let expired = Atomic<Int>(0)
    /// Sends refused because the mailbox was full (policy `.fail`).
    public let rejectedFull = Atomic<Int>(0)
    /// Turns run.
    public let turns = Atomic<Int>(0)
    /// The mailbox depth left after the most recent turn of any actor reporting here.
    public let lastDepth = Atomic<Int>(0)
    /// The deepest mailbox seen at the end of a turn since the last scrape (reset by the scraper).
    public let maxDepth = Atomic<Int>(0)
    /// Handler durations in seconds.
    public let handlerDuration = AtomicHistogram(bounds: AtomicHistogram.latencyBounds)
    /// Actors alive (incremented and decremented by registries).
    public let actorsAlive = Atomic<Int>(0)
    /// Actors passivated since start.
    public let passivations = Atomic<Int>(0)

    public init() {}

    @inlinable
    func messageHandled(nanoseconds: UInt64) {
        messages.wrappingAdd(1, ordering: .relaxed)
        handlerDuration.record(nanoseconds: nanoseconds)
    }

    @inlinable
    func messageFailed() { failures.wrappingAdd(1, ordering: .relaxed) }

    @inlinable
    func messageExpired() { expired.wrappingAdd(1, ordering: .relaxed) }

    @inlinable
    func mailboxFull() { rejectedFull.wrappingAdd(1, ordering: .relaxed) }

    @inlinable
    func turnCompleted(messages: Int, depthAfter: Int) {
        turns.wrappingAdd(1, ordering: .relaxed)
        lastDepth.store(depthAfter, ordering: .relaxed)
        if depthAfter > maxDepth.load(ordering: .relaxed) {
            maxDepth.store(depthAfter, ordering: .relaxed)
        }
    }
}
