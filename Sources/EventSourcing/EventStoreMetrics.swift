import ClstrRuntime
import Synchronization

/// Lock-free counters the stores (and the layers above them) report into; rendered when metrics are scraped.
///
/// Create one per store and pass it to the store's initializer; the aggregate layer and consumers take the same
/// object. Every counter is a relaxed atomic: a scrape needs no ordering with the operations it counts.
public final class EventStoreMetrics: Sendable {
    /// Appends that stored events (retries answered from an earlier append are not counted here).
    public let appends = Atomic<Int>(0)
    /// Events stored by those appends.
    public let events = Atomic<Int>(0)
    /// Appends refused with ``EventStoreError/Code/conflict``.
    public let conflicts = Atomic<Int>(0)
    /// Appends recognised as retries and answered with the original result.
    public let idempotentReplays = Atomic<Int>(0)
    /// Appends that failed for another reason (backend, closed, invalid…).
    public let appendFailures = Atomic<Int>(0)
    /// From the append call to its completion, as the store measures it.
    public let appendLatency = AtomicHistogram(bounds: AtomicHistogram.latencyBounds)
    /// Group commit: appends per transaction (stores that batch; count buckets, not seconds).
    public let groupCommitBatchSize = AtomicHistogram(bounds: EventStoreMetrics.batchSizeBounds)
    /// fsync (or equivalent durable flush) calls the store made.
    public let fsyncs = Atomic<Int>(0)
    /// Snapshots stored.
    public let snapshotSaves = Atomic<Int>(0)
    /// Snapshot saves refused as stale.
    public let snapshotStale = Atomic<Int>(0)
    /// Snapshot saves that failed (the command that triggered them still succeeded).
    public let snapshotFailures = Atomic<Int>(0)
    /// Snapshot loads that found a snapshot.
    public let snapshotLoads = Atomic<Int>(0)
    /// Aggregate loads (snapshot + tail, or full replay), and their latency.
    public let aggregateLoads = Atomic<Int>(0)
    public let aggregateLoadLatency = AtomicHistogram(bounds: AtomicHistogram.latencyBounds)
    /// Aggregate loads that failed (backend or codec error).
    public let aggregateLoadFailures = Atomic<Int>(0)
    /// Attempts to fill a store's stream index that failed (SQLite: the appends of the batch still committed;
    /// reads and version checks use the unindexed tail until a fill succeeds).
    public let streamIndexFillFailures = Atomic<Int>(0)

    /// Bounds for batch-size histograms: the value recorded is a count, passed as "nanoseconds" and divided by
    /// 1e9 on rendering, so these bounds are counts × 1e-9.
    public static let batchSizeBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].map { $0 / 1e9 }

    public init() {}

    /// Records an append that stored `events` events in `nanoseconds`.
    @inlinable
    public func appended(events count: Int, nanoseconds: UInt64) {
        appends.wrappingAdd(1, ordering: .relaxed)
        events.wrappingAdd(count, ordering: .relaxed)
        appendLatency.record(nanoseconds: nanoseconds)
    }

    /// Records a conflict.
    @inlinable
    public func conflicted() { conflicts.wrappingAdd(1, ordering: .relaxed) }

    /// Records an append answered as a retry.
    @inlinable
    public func replayed() { idempotentReplays.wrappingAdd(1, ordering: .relaxed) }

    /// Records an append that failed otherwise.
    @inlinable
    public func appendFailed() { appendFailures.wrappingAdd(1, ordering: .relaxed) }

    /// Records one group commit of `appends` appends.
    @inlinable
    public func groupCommitted(appends count: Int) { groupCommitBatchSize.record(nanoseconds: UInt64(count)) }

    /// Records one fsync.
    @inlinable
    public func fsynced() { fsyncs.wrappingAdd(1, ordering: .relaxed) }
}
