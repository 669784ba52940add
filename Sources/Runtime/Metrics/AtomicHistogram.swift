import Synchronization

/// A histogram with fixed bucket bounds whose buckets are relaxed atomics: recording takes no lock.
///
/// Rendered in the Prometheus text format by ``PrometheusText``.
public final class AtomicHistogram: Sendable {
    /// Upper bounds in nanoseconds, ascending; the last bucket (+Inf) is implicit.
    public let boundsNanoseconds: [UInt64]
    @usableFromInline let buckets: AtomicCounterArray
    @usableFromInline let sumNanoseconds = Atomic<UInt64>(0)
    @usableFromInline let total = Atomic<Int>(0)

    /// Default latency bounds: 1 µs … 10 s.
    public static let latencyBounds: [Double] = [
        0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5,
        0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// - Parameter bounds: bucket upper bounds in seconds, ascending.
    public init(bounds: [Double]) {
        self.boundsNanoseconds = bounds.map { UInt64($0 * 1e9) }
        self.buckets = AtomicCounterArray(count: bounds.count + 1)
    }

    /// The bucket of an observation: the first bound it does not exceed (the last, +Inf, past every bound).
    @inlinable
    func bucket(of nanoseconds: UInt64) -> Int {
        var index = 0
        let bounds = boundsNanoseconds
        while index < bounds.count && nanoseconds > bounds[index] { index += 1 }
        return index
    }

    /// Records one observation.
    @inlinable
    public func record(nanoseconds: UInt64) {
        let index = bucket(of: nanoseconds)
        // Relaxed: counts need no ordering with anything else.
        buckets.add(index, 1)
        sumNanoseconds.wrappingAdd(nanoseconds, ordering: .relaxed)
        total.wrappingAdd(1, ordering: .relaxed)
    }

    /// Records one observation, for a histogram that only one thread ever records into (a per-loop shard): plain
    /// atomic loads and stores instead of read-modify-writes, which spares three locked instructions. Readers
    /// (scrapes) still see whole values; concurrent recorders would lose counts, hence the single-writer rule.
    @inlinable
    public func recordSingleWriter(nanoseconds: UInt64) {
        let index = bucket(of: nanoseconds)
        // Relaxed: counts need no ordering with anything else; only this thread writes them.
        buckets.addSingleWriter(index, 1)
        sumNanoseconds.store(sumNanoseconds.load(ordering: .relaxed) &+ nanoseconds, ordering: .relaxed)
        total.store(total.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// A consistent-enough snapshot: cumulative counts per bound (+Inf last), the sum in seconds, the count.
    public func snapshot() -> (cumulative: [Int], sumSeconds: Double, count: Int) {
        var cumulative: [Int] = []
        cumulative.reserveCapacity(boundsNanoseconds.count + 1)
        var running = 0
        for index in 0...boundsNanoseconds.count {
            running += buckets.load(index)
            cumulative.append(running)
        }
        return (cumulative, Double(sumNanoseconds.load(ordering: .relaxed)) / 1e9, running)
    }
}

/// A fixed-size array of atomic counters, allocated once: the buckets of ``AtomicHistogram`` and the
/// per-loop counter shards of the HTTP and cluster metrics.
public final class AtomicCounterArray: @unchecked Sendable {
    // @unchecked Sendable: every element is an Atomic, accessed only through atomic operations; the storage is
    // allocated in init and freed in deinit.
    @usableFromInline let storage: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let count: Int

    /// Creates `count` counters, all zero.
    public init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
        for index in 0..<count { (storage + index).initialize(to: Atomic(0)) }
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// Adds `value` to counter `index`.
    @inlinable
    public func add(_ index: Int, _ value: Int = 1) {
        // Relaxed: a counter needs no ordering with other memory; scrapes read an eventually consistent value.
        storage[index].wrappingAdd(value, ordering: .relaxed)
    }

    /// `add` for an array that only one thread writes (a per-loop shard): an atomic load and store instead of a
    /// locked read-modify-write. Concurrent writers would lose counts.
    @inlinable
    public func addSingleWriter(_ index: Int, _ value: Int = 1) {
        // Relaxed: see `add`; only the calling thread writes this array.
        storage[index].store(storage[index].load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    /// The value of counter `index`.
    @inlinable
    public func load(_ index: Int) -> Int {
        // Relaxed: see `add`.
        storage[index].load(ordering: .relaxed)
    }
}
